"""RbacView: every way a principal can be granted an action, and every way it is not."""

from __future__ import annotations

import pytest

from webmesh import errors
from webmesh.authz import model
from webmesh.authz.authorize import Action, RbacView
from webmesh.authz.model import Group, Resource, Role, RoleBinding, Rule, Subject, SubjectKind, Verb
from webmesh.authz.principal import Principal

G, P, D = Verb.GET, Verb.PUT, Verb.DELETE


def user(name: str) -> Subject:
    return Subject(SubjectKind.USER, name)


def node(name: str) -> Subject:
    return Subject(SubjectKind.NODE, name)


def group(name: str) -> Subject:
    return Subject(SubjectKind.GROUP, name)


ROLES = (
    Role("admin", (Rule(verbs=(Verb.ALL,), resources=(Resource.ALL,)),)),
    Role("viewer", (Rule(verbs=(G,), resources=(Resource.ALL,)),)),
    Role("acl-editor", (Rule(verbs=(G, P, D), resources=(Resource.NETWORKACLS,)),)),
    Role(
        "one-acl",
        (Rule(verbs=(P,), resources=(Resource.NETWORKACLS,), resource_names=("deny-b-c",)),),
    ),
    Role("all-on-routes", (Rule(verbs=(Verb.ALL,), resources=(Resource.ROUTES,)),)),
    Role("put-anything", (Rule(verbs=(P,), resources=(Resource.ALL,)),)),
    Role(
        "two-rules",
        (
            Rule(verbs=(G,), resources=(Resource.GROUPS,)),
            Rule(verbs=(D,), resources=(Resource.NODES,), resource_names=("x", "y")),
        ),
    ),
    Role("nothing", ()),
)

BINDINGS = (
    RoleBinding("root", role="admin", subjects=(user("root"),)),
    RoleBinding("viewers", role="viewer", subjects=(user("val"), node("n-view"))),
    RoleBinding("acl", role="acl-editor", subjects=(group("netops"),)),
    RoleBinding("ldap", role="all-on-routes", subjects=(group("CN=routers,OU=ldap"),)),
    RoleBinding("one", role="one-acl", subjects=(user("olga"),)),
    RoleBinding("puts", role="put-anything", subjects=(node("putter"),)),
    RoleBinding("two", role="two-rules", subjects=(user("tess"),)),
    RoleBinding("none", role="nothing", subjects=(user("nina"),)),
    RoleBinding("dangling", role="no-such-role", subjects=(user("dan"),)),
)

GROUPS = (Group("netops", (user("nora"), node("n-ops"))),)

VIEW = RbacView.from_objects(ROLES, BINDINGS, GROUPS)

CASES = [
    # (principal, action, allowed)
    # direct user binding, wildcard verbs and resources
    (Principal.user("root"), Action(D, Resource.ROLES, "mesh-admin"), True),
    (Principal.user("root"), Action(P, Resource.VOTES, "a"), True),
    # kind matters: node root is not user root
    (Principal.node("root"), Action(G, Resource.NODES), False),
    # direct node binding; resources "*" with a specific verb
    (Principal.node("n-view"), Action(G, Resource.ROLEBINDINGS), True),
    (Principal.node("n-view"), Action(P, Resource.NODES, "x"), False),
    (Principal.user("val"), Action(G, Resource.NETWORKACLS, "deny-b-c"), True),
    (Principal.user("val"), Action(D, Resource.NETWORKACLS, "deny-b-c"), False),
    # Group object membership (user and node members), by kind and name
    (Principal.user("nora"), Action(P, Resource.NETWORKACLS, "any"), True),
    (Principal.node("n-ops"), Action(D, Resource.NETWORKACLS), True),
    (Principal.node("nora"), Action(P, Resource.NETWORKACLS, "any"), False),
    (Principal.user("nora"), Action(P, Resource.ROUTES, "r"), False),
    # carried groups (LDAP): a bound group name, with or without a Group object
    (Principal.user("x", groups=("netops",)), Action(P, Resource.NETWORKACLS), True),
    (Principal.user("x", groups=("CN=routers,OU=ldap",)), Action(D, Resource.ROUTES, "r"), True),
    (Principal.node("x", groups=("other", "CN=routers,OU=ldap")), Action(G, Resource.ROUTES), True),
    (Principal.user("x", groups=("routers",)), Action(G, Resource.ROUTES), False),
    # resource_names restriction
    (Principal.user("olga"), Action(P, Resource.NETWORKACLS, "deny-b-c"), True),
    (Principal.user("olga"), Action(P, Resource.NETWORKACLS, "other"), False),
    (Principal.user("olga"), Action(P, Resource.NETWORKACLS), False),  # unnamed: not granted
    (Principal.user("olga"), Action(G, Resource.NETWORKACLS, "deny-b-c"), False),
    # verb fixed, resource "*"
    (Principal.node("putter"), Action(P, Resource.VOTES, "putter"), True),
    (Principal.node("putter"), Action(G, Resource.VOTES), False),
    # several rules in one role
    (Principal.user("tess"), Action(G, Resource.GROUPS), True),
    (Principal.user("tess"), Action(D, Resource.NODES, "y"), True),
    (Principal.user("tess"), Action(D, Resource.NODES, "z"), False),
    (Principal.user("tess"), Action(G, Resource.NODES, "x"), False),
    # roles that grant nothing / bindings to missing roles / strangers
    (Principal.user("nina"), Action(G, Resource.NODES), False),
    (Principal.user("dan"), Action(G, Resource.NODES), False),
    (Principal.user("stranger"), Action(G, Resource.NODES), False),
]


@pytest.mark.parametrize(("principal", "action", "allowed"), CASES, ids=str)
def test_authorize(principal: Principal, action: Action, allowed: bool) -> None:
    assert VIEW.authorize(principal, action) is allowed
    if allowed:
        VIEW.require(principal, action)
    else:
        with pytest.raises(errors.PermissionDenied):
            VIEW.require(principal, action)


def test_roles_of_combines_direct_group_objects_and_carried_groups() -> None:
    view = RbacView.from_objects(
        ROLES,
        (*BINDINGS, RoleBinding("nora-direct", role="viewer", subjects=(user("nora"),))),
        GROUPS,
    )
    nora = Principal.user("nora", groups=("CN=routers,OU=ldap",))
    assert view.roles_of(nora) == {"viewer", "acl-editor", "all-on-routes"}


def test_denial_message_with_no_role() -> None:
    with pytest.raises(errors.PermissionDenied) as info:
        VIEW.require(Principal.user("alice"), Action(P, Resource.NETWORKACLS, "deny-b-c"))
    assert str(info.value) == (
        "user alice may not put networkacls/deny-b-c: no role grants it (no role is bound to "
        "user alice or its groups); bind a role with put on networkacls to user alice or one "
        "of its groups"
    )


def test_denial_message_lists_the_roles_held() -> None:
    with pytest.raises(errors.PermissionDenied) as info:
        VIEW.require(Principal.user("val", groups=("netops",)), Action(P, Resource.ROUTES))
    message = str(info.value)
    assert message.startswith("user val may not put routes: no role grants it (its roles: ")
    assert "acl-editor, viewer" in message
    assert "bind a role with put on routes" in message


def test_require_all_stops_at_the_first_missing_action() -> None:
    voter = Principal.node("a")
    view = RbacView.from_objects(*model.bootstrap_rbac("admin", ["a"]))
    view.require_all(voter, [Action(P, Resource.VOTES, "a")])
    with pytest.raises(errors.PermissionDenied, match="node a may not put nodes/a"):
        view.require_all(voter, [Action(P, Resource.VOTES, "a"), Action(P, Resource.NODES, "a")])


@pytest.mark.parametrize(
    ("principal", "action", "allowed"),
    [
        (Principal.user("admin"), Action(P, Resource.NETWORKACLS, "x"), True),
        (Principal.node("admin"), Action(D, Resource.NODES, "b"), True),
        (Principal.node("v1"), Action(P, Resource.VOTES, "v1"), True),
        (Principal.node("v2"), Action(P, Resource.VOTES, "v2"), True),
        (Principal.node("v1"), Action(P, Resource.NODES, "v1"), False),
        (Principal.node("other"), Action(P, Resource.VOTES, "other"), False),
        (Principal.user("v1"), Action(P, Resource.VOTES, "v1"), False),
        (Principal.user("x", groups=("voters",)), Action(P, Resource.VOTES, "x"), True),
    ],
)
def test_bootstrap_view(principal: Principal, action: Action, allowed: bool) -> None:
    view = RbacView.from_objects(*model.bootstrap_rbac("admin", ["v1", "v2"]))
    assert view.authorize(principal, action) is allowed


def test_view_is_keyed_by_name_and_read_only() -> None:
    with pytest.raises(errors.InvalidArgument, match="stored under 'x' is named 'admin'"):
        RbacView(roles={"x": ROLES[0]})
    view = RbacView(roles={r.name: r for r in ROLES})
    assert view.roles["admin"] == ROLES[0]
    with pytest.raises(TypeError):
        view.roles["y"] = ROLES[0]  # type: ignore[index]
    assert RbacView().authorize(Principal.user("root"), Action(G, Resource.NODES)) is False


@pytest.mark.parametrize(
    ("verb", "resource", "message"),
    [
        ("*", "nodes", "has a wildcard"),
        ("get", "*", "has a wildcard"),
        ("post", "nodes", "invalid verb"),
    ],
)
def test_action_is_concrete(verb: str, resource: str, message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        Action(verb, resource)  # type: ignore[arg-type]


def test_action_str() -> None:
    assert str(Action(P, Resource.NETWORKACLS, "deny-b-c")) == "put networkacls/deny-b-c"
    assert str(Action(G, Resource.ROLES)) == "get roles"


def test_index_cost_does_not_depend_on_unrelated_bindings() -> None:
    many = [RoleBinding(f"b{i}", role="viewer", subjects=(user(f"u{i}"),)) for i in range(5000)]
    view = RbacView.from_objects(ROLES, many, ())
    assert view.roles_of(Principal.user("u4999")) == {"viewer"}
    assert view.roles_of(Principal.user("nobody")) == frozenset()
