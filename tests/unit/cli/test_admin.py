"""wmctl get|put|delete for policy objects: parsing, the messages sent, tables, JSON, commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
import yaml
from google.protobuf.message import Message

from webmesh.api.v1 import admin_pb2
from webmesh.cli import admin
from webmesh.cli import main as wmctl
from webmesh.mesh.objects import Kind


def parse(*argv: str) -> argparse.Namespace:
    return wmctl.build_parser().parse_args(list(argv))


def built(*argv: str) -> Message:
    args = parse(*argv)
    return admin.build_object(admin.KIND_OF[args.resource], args)


def test_put_networkacl_from_flags() -> None:
    message = built(
        "put", "networkacls", "deny-b-c", "--priority", "100",
        "--src-node", "b", "--dst-node", "c", "--dst-node", "group:web",
        "--src-cidr", "10.0.0.0/8", "--dst-cidr", "172.16.0.0/12", "--deny",
    )  # fmt: skip
    assert message == admin_pb2.NetworkACL(
        name="deny-b-c",
        priority=100,
        action="deny",
        source_nodes=["b"],
        destination_nodes=["c", "group:web"],
        source_cidrs=["10.0.0.0/8"],
        destination_cidrs=["172.16.0.0/12"],
    )


def test_put_networkacl_needs_exactly_one_action(capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ([], ["--accept", "--deny"]):
        with pytest.raises(SystemExit) as exited:
            parse("put", "networkacls", "a", "--src-node", "*", *extra)
        assert exited.value.code == 2
    assert "--accept" in capsys.readouterr().err
    accept = built("put", "networkacls", "a", "--accept", "--src-node", "*", "--dst-node", "*")
    assert isinstance(accept, admin_pb2.NetworkACL)
    assert (accept.action, accept.priority) == ("accept", 0)


def test_put_role_is_one_rule() -> None:
    message = built(
        "put", "roles", "acl-editor", "--verb", "get", "--verb", "put",
        "--resource", "networkacls", "--resource-name", "deny-b-c",
    )  # fmt: skip
    assert message == admin_pb2.Role(
        name="acl-editor",
        rules=[
            admin_pb2.Rule(
                verbs=["get", "put"], resources=["networkacls"], resource_names=["deny-b-c"]
            )
        ],
    )


def test_put_role_rejects_an_unknown_verb_locally() -> None:
    with pytest.raises(SystemExit):
        parse("put", "roles", "r", "--verb", "fly", "--resource", "nodes")


def test_put_rolebinding_subjects_in_kind_order() -> None:
    message = built(
        "put", "rolebindings", "editors", "--role", "acl-editor",
        "--group", "netops", "--node", "n1", "--user", "alice", "--user", "bob",
    )  # fmt: skip
    assert isinstance(message, admin_pb2.RoleBinding)
    assert message.role == "acl-editor"
    assert [(s.kind, s.name) for s in message.subjects] == [
        ("user", "alice"),
        ("user", "bob"),
        ("node", "n1"),
        ("group", "netops"),
    ]


def test_put_group_and_route() -> None:
    group = built("put", "groups", "web", "--node", "web-1", "--user", "alice")
    alice, web_1 = (
        admin_pb2.Subject(kind=k, name=n) for k, n in (("user", "alice"), ("node", "web-1"))
    )
    assert group == admin_pb2.Group(name="web", members=[alice, web_1])
    route = built("put", "routes", "lan", "--node", "gw", "--cidr", "10.1.0.0/16", "--cidr", "::/0")
    assert route == admin_pb2.Route(
        name="lan", node="gw", destination_cidrs=["10.1.0.0/16", "::/0"]
    )


def test_put_route_needs_node_and_cidr() -> None:
    with pytest.raises(SystemExit):
        parse("put", "routes", "lan", "--node", "gw")
    with pytest.raises(SystemExit):
        parse("put", "routes", "lan", "--cidr", "10.0.0.0/8")


KEY = "B" * 43 + "="
PEERING = admin_pb2.Peering(
    name="to-b",
    gateway="a-1",
    remote_public_key=KEY,
    remote_endpoint="b-1.example:51820",
    export_cidrs=["10.10.0.0/16", "fd00:a::/48"],
    accept_cidrs=["10.20.0.0/16"],
)


def test_put_peering_from_flags() -> None:
    argv = ("put", "peerings", "to-b", "--gateway", "a-1", "--remote-public-key", KEY)
    cidrs = ("--export", "10.10.0.0/16", "--export", "fd00:a::/48", "--accept", "10.20.0.0/16")
    message = built(*argv, "--remote-endpoint", "b-1.example:51820", *cidrs)
    assert message == PEERING
    # The singular works too, and without --remote-endpoint the other gateway dials in.
    args = parse("put", "peering", *argv[2:], *cidrs, "--allow-missing-nodes")
    assert admin.KIND_OF[args.resource] is Kind.PEERING and args.allow_missing_nodes
    assert admin.build_object(Kind.PEERING, args).remote_endpoint == ""  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "missing",
    ["--gateway", "--remote-public-key", "--export", "--accept"],
)
def test_put_peering_needs_gateway_key_export_and_accept(missing: str) -> None:
    flags = {
        "--gateway": "a-1",
        "--remote-public-key": KEY,
        "--export": "10.10.0.0/16",
        "--accept": "10.20.0.0/16",
    }
    argv = [word for flag, value in flags.items() if flag != missing for word in (flag, value)]
    with pytest.raises(SystemExit):
        parse("put", "peerings", "to-b", *argv)


def test_put_peering_help_shows_both_sides(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("put", "peerings", "--help")
    out = capsys.readouterr().out
    assert "put peerings to-b --gateway a-1" in out
    assert "put peerings to-a --gateway b-1" in out
    assert "publicKey" in out and "wmctl get node NAME -o json" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--server", "h:1", "-o", "json", "get", "networkacls", "deny-b-c"],
        ["get", "networkacls", "deny-b-c", "--server", "h:1", "-o", "json"],
        ["get", "-o", "json", "networkacl", "deny-b-c", "-s", "h:1"],
    ],
)
def test_get_objects_with_global_flags_anywhere(argv: list[str]) -> None:
    args = parse(*argv)
    assert (args.server, args.output, args.command, args.name) == ("h:1", "json", "get", "deny-b-c")
    assert admin.KIND_OF[args.resource] is Kind.NETWORKACL


def test_get_without_name_lists_and_nodes_still_work() -> None:
    assert parse("get", "roles").name == ""
    assert parse("get", "nodes").resource == "nodes"
    assert parse("get", "node", "n1").id == "n1"


def test_delete_parses_kind_and_name() -> None:
    args = parse("delete", "rolebindings", "editors", "-o", "yaml")
    assert (args.command, args.resource, args.name, args.output) == (
        "delete",
        "rolebindings",
        "editors",
        "yaml",
    )
    with pytest.raises(SystemExit):
        parse("delete", "rolebindings")
    with pytest.raises(SystemExit):
        parse("delete", "nodes", "n1")


@pytest.mark.parametrize("command", ["put", "delete", "get"])
def test_every_kind_has_help_with_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for plural in admin.RESOURCES:
        with pytest.raises(SystemExit):
            parse(command, plural, "--help")
        assert f"wmctl {command} {plural}" in capsys.readouterr().out


# --- tables ---------------------------------------------------------------------------------

ACLS = [
    admin_pb2.NetworkACL(
        name="deny-b-c", priority=100, action="deny", source_nodes=["b"], destination_nodes=["c"]
    ),
    admin_pb2.NetworkACL(
        name="lab",
        action="accept",
        source_nodes=["*"],
        destination_nodes=["group:lab"],
        destination_cidrs=["10.10.0.0/16"],
    ),
]


def test_networkacls_table_golden() -> None:
    assert admin.objects_table(Kind.NETWORKACL, ACLS) == (
        "NAME       PRIORITY   ACTION   SOURCE   DESTINATION\n"
        "deny-b-c   100        deny     b        c\n"
        "lab        0          accept   *        group:lab,10.10.0.0/16\n"
    )


def test_other_tables_golden() -> None:
    role = admin_pb2.Role(
        name="editor",
        rules=[
            admin_pb2.Rule(verbs=["get", "put"], resources=["networkacls"]),
            admin_pb2.Rule(verbs=["get"], resources=["nodes"], resource_names=["a", "b"]),
        ],
    )
    assert admin.objects_table(Kind.ROLE, [role, admin_pb2.Role(name="nothing")]) == (
        "NAME      RULES\neditor    get,put networkacls; get nodes [a,b]\nnothing   <none>\n"
    )
    binding = admin_pb2.RoleBinding(
        name="eds", role="editor", subjects=[admin_pb2.Subject(kind="user", name="alice")]
    )
    assert admin.objects_table(Kind.ROLEBINDING, [binding]) == (
        "NAME   ROLE     SUBJECTS\neds    editor   user:alice\n"
    )
    group = admin_pb2.Group(name="g")
    assert admin.objects_table(Kind.GROUP, [group]) == "NAME   MEMBERS\ng      <none>\n"
    route = admin_pb2.Route(name="r", node="gw", destination_cidrs=["10.0.0.0/8", "::/0"])
    assert admin.objects_table(Kind.ROUTE, [route]) == (
        "NAME   NODE   CIDRS\nr      gw     10.0.0.0/8,::/0\n"
    )
    assert admin.objects_table(Kind.ROUTE, []) == "NAME   NODE   CIDRS\n"
    dialed_in = admin_pb2.Peering(
        name="to-c", gateway="a-2", export_cidrs=["10.10.1.0/24"], accept_cidrs=["10.30.0.0/16"]
    )
    assert admin.objects_table(Kind.PEERING, [PEERING, dialed_in]) == (
        "NAME   GATEWAY   REMOTE              EXPORT                     ACCEPT\n"
        "to-b   a-1       b-1.example:51820   10.10.0.0/16,fd00:a::/48   10.20.0.0/16\n"
        "to-c   a-2       -                   10.10.1.0/24               10.30.0.0/16\n"
    )


# --- commands over a fake client --------------------------------------------------------------


class FakeClient:
    def __init__(self) -> None:
        self.stored: dict[tuple[Kind, str], Message] = {}
        self.deleted: list[tuple[Kind, str]] = []

    async def put_object(self, kind: Kind, obj: Any, *, allow_missing_nodes: bool = False) -> Any:
        self.stored[(kind, obj.name)] = obj
        return obj

    async def get_object(self, kind: Kind, name: str) -> Message:
        return self.stored[(kind, name)]

    async def list_objects(self, kind: Kind) -> list[Message]:
        return [m for (k, _), m in sorted(self.stored.items()) if k is kind]

    async def delete_object(self, kind: Kind, name: str) -> None:
        self.deleted.append((kind, name))


async def run(client: FakeClient, *argv: str) -> str:
    args = parse(*argv)
    return await wmctl.COMMANDS[args.command](client, args)  # type: ignore[arg-type]


async def test_put_get_list_delete_commands() -> None:
    client = FakeClient()
    put = ("put", "networkacls", "deny-b-c", "--priority", "100", "--src-node", "b")
    out = await run(client, *put, "--dst-node", "c", "--deny")
    assert out == "networkacl/deny-b-c configured\n"
    assert client.stored[(Kind.NETWORKACL, "deny-b-c")] == ACLS[0]
    lab = ("put", "networkacls", "lab", "--accept", "--src-node", "*", "--dst-node", "group:lab")
    out = await run(client, *lab, "--dst-cidr", "10.10.0.0/16", "-o", "json")
    assert json.loads(out)["destinationCidrs"] == ["10.10.0.0/16"]
    assert await run(client, "get", "networkacls") == admin.objects_table(Kind.NETWORKACL, ACLS)
    listed = json.loads(await run(client, "get", "networkacls", "-o", "json"))
    assert [a["name"] for a in listed] == ["deny-b-c", "lab"]
    assert listed[0] == {
        "name": "deny-b-c",
        "priority": 100,
        "action": "deny",
        "sourceNodes": ["b"],
        "destinationNodes": ["c"],
    }
    one = yaml.safe_load(await run(client, "get", "networkacl", "lab", "-o", "yaml"))
    assert one["sourceNodes"] == ["*"]
    assert (await run(client, "get", "networkacls", "lab")).startswith("NAME ")
    assert await run(client, "delete", "networkacls", "lab") == "networkacl/lab deleted\n"
    assert client.deleted == [(Kind.NETWORKACL, "lab")]


async def test_put_get_delete_peering_commands() -> None:
    client = FakeClient()
    put = ("put", "peerings", "to-b", "--gateway", "a-1", "--remote-public-key", KEY)
    cidrs = ("--export", "10.10.0.0/16", "--export", "fd00:a::/48", "--accept", "10.20.0.0/16")
    out = await run(client, *put, "--remote-endpoint", "b-1.example:51820", *cidrs)
    assert out == "peering/to-b configured\n"
    assert client.stored[(Kind.PEERING, "to-b")] == PEERING
    assert json.loads(await run(client, "get", "peering", "to-b", "-o", "json")) == {
        "name": "to-b",
        "gateway": "a-1",
        "remotePublicKey": KEY,
        "remoteEndpoint": "b-1.example:51820",
        "exportCidrs": ["10.10.0.0/16", "fd00:a::/48"],
        "acceptCidrs": ["10.20.0.0/16"],
    }
    assert await run(client, "get", "peerings") == admin.objects_table(Kind.PEERING, [PEERING])
    assert await run(client, "delete", "peerings", "to-b") == "peering/to-b deleted\n"
    assert client.deleted == [(Kind.PEERING, "to-b")]
