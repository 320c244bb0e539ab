"""``wmctl get|put|delete`` for the mesh's policy objects (Admin API).

Resources are named like kubectl's (plural, lowercase; the singular works too): ``roles``,
``rolebindings``, ``groups``, ``networkacls``, ``routes``, ``peerings``. ``put`` builds the object
from flags (repeatable where a list is expected) and replaces any object of the same name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.message import Message

from webmesh.api.v1 import admin_pb2
from webmesh.authz.model import Resource, Verb
from webmesh.cli import output
from webmesh.client.mesh_client import MeshClient
from webmesh.mesh.objects import Kind

# Resource names on the command line (plural first, as printed in help) -> kind.
RESOURCES: dict[str, Kind] = {
    "roles": Kind.ROLE,
    "rolebindings": Kind.ROLEBINDING,
    "groups": Kind.GROUP,
    "networkacls": Kind.NETWORKACL,
    "routes": Kind.ROUTE,
    "peerings": Kind.PEERING,
}
ALIASES: dict[str, list[str]] = {plural: [kind.value] for plural, kind in RESOURCES.items()}
KIND_OF: dict[str, Kind] = {
    name: kind for plural, kind in RESOURCES.items() for name in (plural, *ALIASES[plural])
}

DESCRIPTIONS: dict[Kind, str] = {
    Kind.ROLE: "roles (RBAC rules: verbs on resources)",
    Kind.ROLEBINDING: "role bindings (a role granted to users, nodes and groups)",
    Kind.GROUP: "groups (sets of users and nodes)",
    Kind.NETWORKACL: "network ACLs (which nodes may reach which)",
    Kind.ROUTE: "routes (CIDRs reachable through a node)",
    Kind.PEERING: "peerings (links to other meshes, through a gateway node)",
}

PUT_EXAMPLES: dict[Kind, str] = {
    Kind.ROLE: """\
examples:
  wmctl put roles acl-editor --verb get --verb put --resource networkacls
  wmctl put roles node-b-reader --verb get --resource nodes --resource-name node-b
  wmctl put roles everything --verb '*' --resource '*'
""",
    Kind.ROLEBINDING: """\
examples:
  wmctl put rolebindings acl-editors --role acl-editor --user alice --group netops
  wmctl put rolebindings ci-voter --role voters --node ci-runner-1
""",
    Kind.GROUP: """\
examples:
  wmctl put groups netops --user alice --user bob
  wmctl put groups web --node web-1 --node web-2
""",
    Kind.NETWORKACL: """\
examples:
  wmctl put networkacls deny-b-c --priority 100 --src-node b --dst-node c --deny
  wmctl put networkacls web-to-db --priority 10 --src-node group:web --dst-node db --accept
  wmctl put networkacls no-lab --src-node '*' --dst-cidr 10.10.0.0/16 --deny
""",
    Kind.ROUTE: """\
examples:
  wmctl put routes office-lan --node gateway-1 --cidr 192.168.10.0/24
  wmctl put routes exit-1-out --node exit-1 --cidr 0.0.0.0/0   # offers exit-1 as an exit node
""",
    Kind.PEERING: """\
examples:
  # mesh A (10.10.0.0/16, gateway a-1) and mesh B (10.20.0.0/16, gateway b-1), one put in each:
  wmctl -s a-1:8443 put peerings to-b --gateway a-1 --remote-public-key <b-1's publicKey> \\
      --remote-endpoint b-1.example:51820 --export 10.10.0.0/16 --accept 10.20.0.0/16
  wmctl -s b-1:8443 put peerings to-a --gateway b-1 --remote-public-key <a-1's publicKey> \\
      --remote-endpoint a-1.example:51820 --export 10.20.0.0/16 --accept 10.10.0.0/16
""",
}

PUT_NOTES: dict[Kind, str] = {
    Kind.PEERING: """
Each mesh's administrators put one peering, the mirror image of the other's: one side's
--export is the other's --accept. A gateway's public key is the publicKey of
'wmctl get node NAME -o json' in its own mesh, and its endpoint the primaryEndpoint there.
Every node routes the accepted CIDRs through the gateway; the gateway lets the other mesh
reach only the exported CIDRs and drops the rest. Accepted CIDRs must not overlap this mesh's
networks nor another peering's (peered meshes need distinct networks). A peering needs an
endpoint on at least one side: without --remote-endpoint the other gateway dials in.
""",
    Kind.ROUTE: """
A route to 0.0.0.0/0 or ::/0 makes its node an exit node (it masquerades): no other node's
default route changes. Only nodes that opt in send their internet traffic there
(webmesh-node --wireguard.use-exit-node=ID, wmctl connect --exit-node=ID), by policy routing.
""",
    Kind.NETWORKACL: """
Node selectors are a node id, group:NAME or '*' (every node); give each side nodes or CIDRs.
The matching ACL with the highest priority decides; among equal priorities a deny wins; no
match: the mesh's default network policy.
""",
}


def _epilog(examples: str) -> dict[str, Any]:
    return {"epilog": examples, "formatter_class": argparse.RawDescriptionHelpFormatter}


def _get_examples(plural: str) -> str:
    return (
        f"examples:\n  wmctl get {plural}\n  wmctl get {plural} NAME -o yaml\n"
        f"  wmctl get {plural} -o json\n"
    )


def add_get_parsers(get_sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """``wmctl get RESOURCE [NAME]`` for every policy object (beside ``nodes`` / ``node``)."""
    for plural, kind in RESOURCES.items():
        parser = get_sub.add_parser(
            plural,
            aliases=ALIASES[plural],
            parents=common,
            help=f"list {DESCRIPTIONS[kind]}, or show one",
            **_epilog(_get_examples(plural)),
        )
        parser.add_argument("name", nargs="?", default="", help="show only this object")


def _list_flag(parser: argparse.ArgumentParser, flag: str, help_: str, **kw: Any) -> None:
    parser.add_argument(flag, action="append", default=None, help=f"{help_} (repeatable)", **kw)


def _add_put_role(parser: argparse.ArgumentParser) -> None:
    # dest: "resource" is the subcommand's (which kind of object to put).
    verbs = [v.value for v in Verb]
    resources = [r.value for r in Resource]
    _list_flag(parser, "--verb", "a verb the rule allows", dest="verbs", choices=verbs)
    _list_flag(
        parser, "--resource", "a resource the rule covers", dest="resources", choices=resources
    )
    _list_flag(
        parser,
        "--resource-name",
        "restrict the rule to this name (default: every name)",
        dest="resource_names",
        metavar="NAME",
    )


def _add_subject_flags(parser: argparse.ArgumentParser, *, groups: bool) -> None:
    _list_flag(parser, "--user", "a user (as authentication names it); '*': every user")
    _list_flag(parser, "--node", "a node id; '*': every node")
    if groups:
        _list_flag(parser, "--group", "a group (a Group object or an LDAP group)")


def _add_put_rolebinding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", required=True, help="the role granted (must exist)")
    _add_subject_flags(parser, groups=True)


def _add_put_group(parser: argparse.ArgumentParser) -> None:
    _add_subject_flags(parser, groups=False)


def _add_put_networkacl(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--priority", type=int, default=0, help="higher decides first (default 0)")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--accept", dest="action", action="store_const", const="accept", help="allow the traffic"
    )
    action.add_argument(
        "--deny", dest="action", action="store_const", const="deny", help="drop the traffic"
    )
    _list_flag(parser, "--src-node", "source node: id, group:NAME or '*'")
    _list_flag(parser, "--dst-node", "destination node: id, group:NAME or '*'")
    _list_flag(parser, "--src-cidr", "source CIDR")
    _list_flag(parser, "--dst-cidr", "destination CIDR")
    _allow_missing_nodes(parser)


def _allow_missing_nodes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-missing-nodes",
        action="store_true",
        help="accept node ids that are not in the mesh (yet): policy written before its nodes "
        "join. Without it, a node id the mesh does not know is refused (NOT_FOUND)",
    )


def _add_put_route(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--node", required=True, help="the node that routes the CIDRs (must be in the mesh)"
    )
    _list_flag(parser, "--cidr", "a CIDR routed through the node", required=True)
    _allow_missing_nodes(parser)


def _add_put_peering(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gateway",
        required=True,
        metavar="NODE",
        help="this mesh's node that carries the peering (must be in the mesh; it forwards "
        "between the meshes)",
    )
    parser.add_argument(
        "--remote-public-key",
        required=True,
        metavar="KEY",
        help="the WireGuard public key of the other mesh's gateway (its publicKey)",
    )
    parser.add_argument(
        "--remote-endpoint",
        default="",
        metavar="HOST:PORT",
        help="the other gateway's WireGuard endpoint (default: none, the other gateway dials in)",
    )
    _list_flag(
        parser,
        "--export",
        "a CIDR of this mesh the other mesh may reach",
        required=True,
        metavar="CIDR",
    )
    _list_flag(
        parser,
        "--accept",
        "a CIDR of the other mesh routed through the gateway",
        required=True,
        metavar="CIDR",
    )
    _allow_missing_nodes(parser)


_PUT_FLAGS: dict[Kind, Callable[[argparse.ArgumentParser], None]] = {
    Kind.ROLE: _add_put_role,
    Kind.ROLEBINDING: _add_put_rolebinding,
    Kind.GROUP: _add_put_group,
    Kind.NETWORKACL: _add_put_networkacl,
    Kind.ROUTE: _add_put_route,
    Kind.PEERING: _add_put_peering,
}


def add_parsers(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """``wmctl put RESOURCE NAME --flags`` and ``wmctl delete RESOURCE NAME``."""
    put = sub.add_parser(
        "put",
        parents=common,
        help="create or replace a role, role binding, group, network ACL, route or peering",
        **_epilog("examples:\n" + "".join(PUT_EXAMPLES[k].split("\n", 1)[1] for k in Kind)),
    )
    put_sub = put.add_subparsers(dest="resource", required=True, metavar="RESOURCE")
    delete = sub.add_parser(
        "delete",
        parents=common,
        help="delete a role, role binding, group, network ACL, route or peering",
        **_epilog(
            "examples:\n  wmctl delete networkacls deny-b-c\n  wmctl delete roles acl-editor\n"
        ),
    )
    delete_sub = delete.add_subparsers(dest="resource", required=True, metavar="RESOURCE")
    for plural, kind in RESOURCES.items():
        parser = put_sub.add_parser(
            plural,
            aliases=ALIASES[plural],
            parents=common,
            help=f"create or replace one of the {DESCRIPTIONS[kind]}",
            **_epilog(PUT_EXAMPLES[kind] + PUT_NOTES.get(kind, "")),
        )
        parser.add_argument("name", help="the object's name (lowercase letters, digits, '-')")
        _PUT_FLAGS[kind](parser)
        gone = delete_sub.add_parser(
            plural,
            aliases=ALIASES[plural],
            parents=common,
            help=f"delete one of the {DESCRIPTIONS[kind]}",
            **_epilog(f"example:\n  wmctl delete {plural} NAME\n"),
        )
        gone.add_argument("name", help="the object's name")


# --- building objects from flags -----------------------------------------------------------


def _values(args: argparse.Namespace, attribute: str) -> list[str]:
    return list(getattr(args, attribute, None) or [])


def _subjects(args: argparse.Namespace, kinds: Sequence[str]) -> list[admin_pb2.Subject]:
    return [
        admin_pb2.Subject(kind=kind, name=name) for kind in kinds for name in _values(args, kind)
    ]


def build_object(kind: Kind, args: argparse.Namespace) -> Message:
    """The message ``wmctl put`` sends (the server validates it)."""
    match kind:
        case Kind.ROLE:
            rule = admin_pb2.Rule(
                verbs=_values(args, "verbs"),
                resources=_values(args, "resources"),
                resource_names=_values(args, "resource_names"),
            )
            return admin_pb2.Role(name=args.name, rules=[rule])
        case Kind.ROLEBINDING:
            subjects = _subjects(args, ("user", "node", "group"))
            return admin_pb2.RoleBinding(name=args.name, role=args.role, subjects=subjects)
        case Kind.GROUP:
            return admin_pb2.Group(name=args.name, members=_subjects(args, ("user", "node")))
        case Kind.NETWORKACL:
            return admin_pb2.NetworkACL(
                name=args.name,
                priority=args.priority,
                action=args.action,
                source_nodes=_values(args, "src_node"),
                destination_nodes=_values(args, "dst_node"),
                source_cidrs=_values(args, "src_cidr"),
                destination_cidrs=_values(args, "dst_cidr"),
            )
        case Kind.ROUTE:
            return admin_pb2.Route(
                name=args.name, node=args.node, destination_cidrs=_values(args, "cidr")
            )
        case Kind.PEERING:
            return admin_pb2.Peering(
                name=args.name,
                gateway=args.gateway,
                remote_public_key=args.remote_public_key,
                remote_endpoint=args.remote_endpoint,
                export_cidrs=_values(args, "export"),
                accept_cidrs=_values(args, "accept"),
            )
    raise AssertionError(f"unhandled kind {kind!r}")  # pragma: no cover


# --- tables ---------------------------------------------------------------------------------


def _joined(values: Sequence[str]) -> str:
    return ",".join(values) or "<none>"


def _subject_text(subjects: Sequence[admin_pb2.Subject]) -> str:
    return _joined([f"{s.kind}:{s.name}" for s in subjects])


def _rule_text(rule: admin_pb2.Rule) -> str:
    text = f"{','.join(rule.verbs)} {','.join(rule.resources)}"
    return f"{text} [{','.join(rule.resource_names)}]" if rule.resource_names else text


def _role_row(m: Any) -> list[str]:
    return [m.name, "; ".join(_rule_text(r) for r in m.rules) or "<none>"]


def _rolebinding_row(m: Any) -> list[str]:
    return [m.name, m.role, _subject_text(m.subjects)]


def _group_row(m: Any) -> list[str]:
    return [m.name, _subject_text(m.members)]


def _networkacl_row(m: Any) -> list[str]:
    return [
        m.name,
        str(m.priority),
        m.action,
        _joined([*m.source_nodes, *m.source_cidrs]),
        _joined([*m.destination_nodes, *m.destination_cidrs]),
    ]


def _route_row(m: Any) -> list[str]:
    return [m.name, m.node, _joined(m.destination_cidrs)]


def _peering_row(m: Any) -> list[str]:
    return [
        m.name,
        m.gateway,
        m.remote_endpoint or "-",
        _joined(m.export_cidrs),
        _joined(m.accept_cidrs),
    ]


TABLES: dict[Kind, tuple[tuple[str, ...], Callable[[Any], list[str]]]] = {
    Kind.ROLE: (("NAME", "RULES"), _role_row),
    Kind.ROLEBINDING: (("NAME", "ROLE", "SUBJECTS"), _rolebinding_row),
    Kind.GROUP: (("NAME", "MEMBERS"), _group_row),
    Kind.NETWORKACL: (("NAME", "PRIORITY", "ACTION", "SOURCE", "DESTINATION"), _networkacl_row),
    Kind.ROUTE: (("NAME", "NODE", "CIDRS"), _route_row),
    Kind.PEERING: (("NAME", "GATEWAY", "REMOTE", "EXPORT", "ACCEPT"), _peering_row),
}


def objects_table(kind: Kind, messages: Sequence[Message]) -> str:
    headers, row = TABLES[kind]
    return output.table(headers, [row(m) for m in messages])


# --- commands -------------------------------------------------------------------------------


def _render(kind: Kind, messages: Message | Sequence[Message], fmt: str) -> str:
    if fmt in ("json", "yaml"):
        return output.render_data(messages, fmt)
    listed = [messages] if isinstance(messages, Message) else messages
    return objects_table(kind, listed)


async def get_command(client: MeshClient, args: argparse.Namespace) -> str:
    kind = KIND_OF[args.resource]
    if args.name:
        return _render(kind, await client.get_object(kind, args.name), args.output)
    return _render(kind, await client.list_objects(kind), args.output)


async def put_command(client: MeshClient, args: argparse.Namespace) -> str:
    kind = KIND_OF[args.resource]
    allow = bool(getattr(args, "allow_missing_nodes", False))
    result = await client.put_object(kind, build_object(kind, args), allow_missing_nodes=allow)
    if args.output in ("json", "yaml"):
        return output.render_data(result, args.output)
    return f"{kind.value}/{args.name} configured\n"


async def delete_command(client: MeshClient, args: argparse.Namespace) -> str:
    kind = KIND_OF[args.resource]
    await client.delete_object(kind, args.name)
    return f"{kind.value}/{args.name} deleted\n"
