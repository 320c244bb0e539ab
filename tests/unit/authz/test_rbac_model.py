"""RBAC objects: validation with clear messages, JSON round trips, built-ins, bootstrap seed."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import webmesh.authz
from webmesh import errors
from webmesh.authz import model
from webmesh.authz.model import Group, Resource, Role, RoleBinding, Rule, Subject, SubjectKind, Verb
from webmesh.authz.principal import Principal

ADMIN_RULE = Rule(verbs=(Verb.ALL,), resources=(Resource.ALL,))


def roundtrip(obj: Any) -> Any:
    return type(obj).from_dict(json.loads(json.dumps(obj.to_dict())))


@pytest.mark.parametrize(
    "obj",
    [
        ADMIN_RULE,
        Rule(verbs=(Verb.GET, Verb.PUT), resources=(Resource.NETWORKACLS,), resource_names=("a",)),
        Role("viewer", (Rule(verbs=(Verb.GET,), resources=(Resource.ALL,)),)),
        Role("empty", ()),
        Subject(SubjectKind.USER, "alice@example.com"),
        Subject(SubjectKind.GROUP, "CN=Mesh Admins,OU=Groups"),
        Subject(SubjectKind.NODE, "node-1.example"),
        RoleBinding("b", role="viewer", subjects=(Subject(SubjectKind.USER, "alice"),)),
        Group("ops", (Subject(SubjectKind.NODE, "a"), Subject(SubjectKind.USER, "bob"))),
        Principal.user("alice", groups=("ops", "CN=x"), method="ldap"),
        Principal.node("a"),
    ],
)
def test_json_roundtrip(obj: Any) -> None:
    assert roundtrip(obj) == obj


def test_strings_are_coerced_to_enums_and_lists_to_tuples() -> None:
    rule = Rule(verbs=["put"], resources=["votes"])  # type: ignore[arg-type]
    assert rule.verbs == (Verb.PUT,) and rule.resources == (Resource.VOTES,)
    assert isinstance(rule.verbs, tuple)
    assert hash(rule) == hash(Rule(verbs=(Verb.PUT,), resources=(Resource.VOTES,)))
    assert Subject("user", "x").kind is SubjectKind.USER  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Rule(verbs=(), resources=(Resource.ALL,)), "at least one verb"),
        (lambda: Rule(verbs=(Verb.GET,), resources=()), "at least one resource"),
        (lambda: Rule(verbs=("post",), resources=("nodes",)), "invalid verb 'post'"),
        (lambda: Rule(verbs=("get",), resources=("pods",)), "invalid resource 'pods'"),
        (lambda: Rule(verbs="get", resources=("nodes",)), "verbs must be a list"),
        (
            lambda: Rule(verbs=("get",), resources=("nodes",), resource_names=("a b",)),
            "invalid resource name 'a b'",
        ),
        (lambda: Role("Admins", ()), "invalid role name 'Admins'"),
        (lambda: Role("-x", ()), "invalid role name"),
        (lambda: Role("a" * 64, ()), "1 to 63 characters"),
        (lambda: Role("r", ("not a rule",)), "is not a Rule"),
        (lambda: Subject("robot", "x"), "invalid subject kind 'robot'"),
        (lambda: Subject("node", "bad id!"), "invalid node id"),
        (lambda: Subject("node", 3), "invalid node id"),
        (lambda: Subject("user", ""), "invalid user name"),
        (lambda: Subject("user", " alice"), "invalid user name"),
        (lambda: Subject("group", "a\nb"), "invalid group name"),
        (lambda: RoleBinding("b", role="Bad", subjects=()), "invalid role name 'Bad'"),
        (lambda: RoleBinding("b_1", role="r", subjects=()), "invalid role binding name"),
        (lambda: RoleBinding("b", role="r", subjects=("alice",)), "is not a Subject"),
        (lambda: Group("g", (Subject("group", "h"),)), "groups contain only nodes and users"),
        (lambda: Principal("alice", "group"), "a principal is a node or a user"),
        (lambda: Principal("", "user"), "invalid user name"),
        (lambda: Principal("a", "user", groups=("",)), "invalid group name"),
    ],
)
def test_validation(build: Any, message: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=message.replace("(", r"\(")):
        build()


@pytest.mark.parametrize(
    ("cls", "raw"),
    [
        (Rule, {"verbs": ["get"]}),
        (Rule, {"verbs": "get", "resources": ["nodes"]}),
        (Role, {"rules": []}),
        (Role, {"name": "r", "rules": [{"verbs": ["x"], "resources": ["nodes"]}]}),
        (Subject, {"kind": "user"}),
        (RoleBinding, {"name": "b", "role": "r", "subjects": [{"kind": "user", "name": 5}]}),
        (Group, {"name": "g", "members": [None]}),
        (Principal, {"name": "a"}),
    ],
)
def test_from_dict_rejects_malformed_input_with_invalid_argument(cls: Any, raw: Any) -> None:
    with pytest.raises(errors.InvalidArgument):
        cls.from_dict(raw)


@pytest.mark.parametrize(
    ("kind", "name", "builtin", "read_only"),
    [
        (Resource.ROLES, "mesh-admin", True, True),
        (Resource.ROLES, "voters", True, True),
        ("rolebindings", "mesh-admin", True, True),
        ("rolebindings", "voters", True, True),
        ("groups", "voters", True, False),
        ("groups", "mesh-admin", False, False),
        ("roles", "viewer", False, False),
        ("networkacls", "voters", False, False),
    ],
)
def test_builtins(kind: Any, name: str, builtin: bool, read_only: bool) -> None:
    assert model.is_builtin(kind, name) is builtin
    assert model.is_read_only(kind, name) is read_only


def test_is_builtin_rejects_unknown_kind() -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid resource 'pods'"):
        model.is_builtin("pods", "x")


def test_bootstrap_seed() -> None:
    roles, bindings, groups = model.bootstrap_rbac("admin", ["a", "b", "a"])
    assert {r.name: r for r in roles} == {
        "mesh-admin": Role("mesh-admin", (ADMIN_RULE,)),
        "voters": Role(
            "voters", (Rule(verbs=(Verb.PUT,), resources=(Resource.VOTES, Resource.REPLICAS)),)
        ),
        "replicas": Role("replicas", (Rule(verbs=(Verb.PUT,), resources=(Resource.REPLICAS,)),)),
    }
    assert {b.name: b for b in bindings} == {
        "mesh-admin": RoleBinding(
            "mesh-admin",
            role="mesh-admin",
            subjects=(Subject("user", "admin"), Subject("node", "admin")),  # type: ignore[arg-type]
        ),
        "voters": RoleBinding(
            "voters",
            role="voters",
            subjects=(Subject(SubjectKind.GROUP, "voters"),),
        ),
        "replicas": RoleBinding(
            "replicas",
            role="replicas",
            subjects=(Subject(SubjectKind.NODE, "*"),),
        ),
    }
    assert groups == (
        Group("voters", (Subject(SubjectKind.NODE, "a"), Subject(SubjectKind.NODE, "b"))),
    )
    for obj in (*roles, *bindings, *groups):
        assert roundtrip(obj) == obj
        assert model.is_builtin(
            {Role: "roles", RoleBinding: "rolebindings", Group: "groups"}[type(obj)], obj.name
        )


def test_bootstrap_admin_that_is_not_a_node_id_is_bound_as_user_only() -> None:
    _, bindings, _ = model.bootstrap_rbac("root@example.com", [])
    assert bindings[0].subjects == (Subject(SubjectKind.USER, "root@example.com"),)


def test_bootstrap_rejects_invalid_voter_ids() -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid node id"):
        model.bootstrap_rbac("admin", ["not valid"])


def test_principal_str_and_key() -> None:
    alice = Principal.user("alice")
    assert str(alice) == "user alice"
    assert alice.key == (SubjectKind.USER, "alice")
    assert Principal.node("a").key != Principal.user("a").key


def test_the_package_is_pure() -> None:
    """Only the stdlib, webmesh.authz itself and the floors below it (syntax, errors)."""
    allowed = {"webmesh.errors", "webmesh.syntax"}
    for path in Path(webmesh.authz.__file__).parent.glob("*.py"):
        for stmt in ast.walk(ast.parse(path.read_text())):
            if isinstance(stmt, ast.Import):
                names = [a.name for a in stmt.names]
            elif isinstance(stmt, ast.ImportFrom) and stmt.module == "webmesh":
                names = [f"webmesh.{a.name}" for a in stmt.names]
            elif isinstance(stmt, ast.ImportFrom) and stmt.module:
                names = [stmt.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                ok = (
                    root in sys.stdlib_module_names
                    or name.startswith("webmesh.authz")
                    or name in allowed
                )
                assert ok, f"{path.name} imports {name}"
