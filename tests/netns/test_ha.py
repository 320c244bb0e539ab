"""Three voters lose their leader to SIGKILL: nothing committed is lost, joins still work, and the
killed node catches up when it comes back on its data."""

from __future__ import annotations

import json

import pytest

from support.netlab import QUICKSTART_FLAGS, Host, Lab
from support.wait import eventually

pytestmark = pytest.mark.netns

FLAGS = QUICKSTART_FLAGS


def status(host: Host) -> dict[str, object]:
    out = host.wmctl("--insecure", "status", "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def node_ids(host: Host) -> set[str]:
    out = host.wmctl("--insecure", "get", "nodes", "-o", "json", check=False)
    return {n["id"] for n in json.loads(out.stdout)} if out.returncode == 0 else set()


def leader_of(hosts: list[Host]) -> Host | None:
    for host in hosts:
        if status(host).get("isLeader"):
            return host
    return None


def test_losing_the_leader_loses_nothing() -> None:
    with Lab() as lab:
        voters = [lab.add_host(f"voter-{i}") for i in range(3)]
        voters[0].node(*FLAGS, "--bootstrap.enabled")
        voters[0].wait_port(8443)
        for host in voters[1:]:
            host.node(*FLAGS, "--mesh.join-address=voter-0:8443", "--mesh.join-as-voter")
            host.wait_port(8443)
        observer = lab.add_host("observer")
        observer.node(*FLAGS, "--mesh.join-address=voter-1:8443")  # through a follower
        everyone = {h.name for h in (*voters, observer)}
        for host in (*voters, observer):
            eventually(
                lambda h=host: node_ids(h) == everyone,
                timeout=30,
                what=lambda h=host: f"{h.name} sees {everyone}\n{lab.logs()}",
            )
        eventually(
            lambda: len(status(voters[1]).get("raft", {}).get("voters", [])) == 3,
            timeout=20,
            what="three voters",
        )

        leader = eventually(lambda: leader_of(voters), timeout=20, what="a leader")
        leader_ip = leader.wait_mesh_ip()
        leader.processes[-1].kill()
        survivors = [h for h in voters if h is not leader]
        new_leader = eventually(
            lambda: leader_of(survivors),
            timeout=30,
            what=lambda: f"a new leader among survivors\n{lab.logs()}",
        )
        assert new_leader is not leader

        # joins still work, through any surviving server
        late = lab.add_host("late")
        via = next(h for h in survivors if h is not new_leader)
        late.node(*FLAGS, f"--mesh.join-address={via.name}:8443")
        everyone |= {"late"}
        for host in (*survivors, observer, late):
            eventually(
                lambda h=host: node_ids(h) == everyone,
                timeout=30,
                what=lambda h=host: f"{h.name} sees {everyone}\n{lab.logs()}",
            )
        late_ip = late.wait_mesh_ip()
        eventually(lambda: observer.ping(late_ip), timeout=20, what="observer -> late")

        # the killed node comes back on its data with the same flags and catches up
        flags = (
            ("--bootstrap.enabled",)
            if leader is voters[0]
            else (f"--mesh.join-address={via.name}:8443", "--mesh.join-as-voter")
        )
        leader.node(*FLAGS, *flags)
        leader.wait_port(8443)
        eventually(
            lambda: node_ids(leader) == everyone,
            timeout=40,
            what=lambda: f"{leader.name} catches up\n{lab.logs()}",
        )
        assert leader.wait_mesh_ip() == leader_ip  # same identity, same address
        eventually(lambda: leader.ping(late_ip), timeout=20, what=f"{leader.name} -> late")
        assert len(status(leader).get("raft", {}).get("voters", [])) == 3
