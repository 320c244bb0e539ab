"""wmctl: flags anywhere, kubectl-like tables, canonical JSON, exit codes a script can rely on."""

from __future__ import annotations

import json

import pytest
import yaml
from google.protobuf import timestamp_pb2

from webmesh import errors
from webmesh.api.v1 import node_pb2, types_pb2
from webmesh.cli import main as wmctl
from webmesh.cli import output

NOW = 1_800_000_000.0


def node(
    node_id: str, ipv4: str, *, leader: bool = False, endpoint: str = ""
) -> types_pb2.MeshNode:
    return types_pb2.MeshNode(
        id=node_id,
        public_key="k" * 43 + "=",
        private_ipv4=ipv4,
        primary_endpoint=endpoint,
        wireguard_endpoints=[endpoint] if endpoint else [],
        role=types_pb2.NODE_ROLE_VOTER if leader else types_pb2.NODE_ROLE_OBSERVER,
        api_address="172.16.0.1:8443" if leader else "",
        joined_at=timestamp_pb2.Timestamp(seconds=int(NOW - 3 * 3600)),
        is_leader=leader,
        online=True,
    )


NODES = [
    node("bootstrap-node", "172.16.0.1/32", leader=True, endpoint="10.0.0.1:51820"),
    node("node-b", "172.16.0.2/32"),
]
NODES[1].observed_endpoint = "198.51.100.7:51820"  # behind a NAT: seen from outside


def test_nodes_table_golden() -> None:
    assert output.nodes_table(NODES, wide=False, now=NOW) == (
        "NAME             ROLE       LEADER   STATUS   LAST SEEN   IPV4            IPV6     "
        "ENDPOINT         OBSERVED             AGE\n"
        "bootstrap-node   voter      *        online   now         172.16.0.1/32   <none>   "
        "10.0.0.1:51820   <none>               3h\n"
        "node-b           observer            online   now         172.16.0.2/32   <none>   "
        "<none>           198.51.100.7:51820   3h\n"
    )


def test_json_is_the_canonical_mapping_and_a_list_for_many() -> None:
    data = json.loads(output.render_data(NODES, "json"))
    assert [n["id"] for n in data] == ["bootstrap-node", "node-b"]
    assert data[0]["privateIpv4"] == "172.16.0.1/32"
    assert data[0]["role"] == "NODE_ROLE_VOTER"
    assert data[0]["isLeader"] is True
    assert data[0]["joinedAt"].endswith("Z")
    assert yaml.safe_load(output.render_data(NODES[1], "yaml"))["id"] == "node-b"


@pytest.mark.parametrize(
    "argv",
    [
        ["--server", "h:1", "-o", "json", "get", "nodes"],
        ["get", "nodes", "--server", "h:1", "-o", "json"],
        ["get", "--server", "h:1", "nodes", "-o", "json"],
    ],
)
def test_global_flags_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = wmctl.build_parser().parse_args(argv)
    assert (args.server, args.output, args.command, args.resource) == (
        "h:1",
        "json",
        "get",
        "nodes",
    )


def test_defaults_when_no_global_flag() -> None:
    args = wmctl.build_parser().parse_args(["status"])
    assert (args.server, args.output, args.insecure) == (wmctl.DEFAULT_SERVER, "table", False)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.Unavailable("x"), 3),
        (errors.NotLeader("x"), 8),  # no leader: its own code (issue 5)
        (errors.NotFound("x"), 4),
        (errors.PermissionDenied("x"), 5),
        (errors.Unauthenticated("x"), 5),
        (errors.InvalidArgument("x"), 6),
        (errors.AlreadyExists("x"), 6),
        (errors.Exhausted("x"), 6),
        (errors.MeshError("x"), 1),
    ],
)
def test_exit_codes(error: errors.MeshError, code: int) -> None:
    assert wmctl.exit_code(error) == code


def test_unreachable_server_is_one_line_and_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        wmctl.main(["--server", "127.0.0.1:1", "--timeout", "2", "get", "nodes"])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith("wmctl: error: ") and "127.0.0.1:1" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_status_text_lists_peers() -> None:
    status = node_pb2.Status(
        id="a",
        version="0.1.0",
        role=types_pb2.NODE_ROLE_VOTER,
        node_count=2,
        is_leader=True,
        raft=node_pb2.RaftStatus(state="leader", leader_id="a", term=3, voters=["172.16.0.1:9443"]),
        interface=node_pb2.InterfaceStatus(
            name="webmesh0",
            listen_port=51820,
            addresses=["172.16.0.1/12"],
            peers=[node_pb2.PeerStatus(id="b", endpoint="", allowed_ips=["172.16.0.2/32"])],
        ),
    )
    text = output.status_text(status)
    assert "Role:        voter (leader)" in text
    assert "state=leader leader=a term=3" in text
    assert "b      <none>     172.16.0.2/32   never" in text
