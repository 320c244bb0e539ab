"""Jepsen-style: joins and leaves through random servers while a nemesis kills, pauses and
partitions the voters; then a checker holds every server to what was acknowledged.

Three voters run as containers would (network namespaces, wireguard-go, their own data dirs) on
a LAN routed to this machine (``Lab(uplink=True)``), so the test process is the client, as a
workstation would be. Workers send ``Join`` (a new node id each time) and ``Leave`` (of a node
whose join was acknowledged) to random servers. A call that returns is acknowledged; one that
fails or times out is indeterminate (it may or may not have happened). The nemesis, one fault
at a time: SIGKILL one voter, the leader, or two voters (no quorum) and restart them on their
data; SIGSTOP a voter; cut a voter off its peers with iptables; each fault heals after a few
seconds. Then, all healed, the checker waits for the servers to agree and requires:

- every acknowledged join present on every server with the address it was given;
- no acknowledged leave undone;
- the same state on every server; no address owned twice;
- no CRITICAL line and no Traceback in any server's log.

``WEBMESH_FAULT_SECONDS`` sets how long the faults go on (45 s here; ``make jepsen`` runs 600 s
and writes bench/results-jepsen.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.netlab import QUICKSTART_FLAGS, Host, Lab
from webmesh import errors
from webmesh.api.v1 import membership_pb2
from webmesh.client.mesh_client import ClientOptions, MeshClient

# It saturates the machine on purpose: run alone (make test runs it after the parallel tests),
# so that its load does not starve the timing of the others, nor theirs its voters.
pytestmark = [pytest.mark.netns, pytest.mark.faults]

FAULT_SECONDS = float(os.environ.get("WEBMESH_FAULT_SECONDS", "45"))
REPORT = os.environ.get("WEBMESH_FAULT_REPORT", "")  # a JSON file for bench/ (make jepsen)
WORKERS = 6
FLAGS = QUICKSTART_FLAGS
OPTIONS = ClientOptions(timeout=3.0)


@dataclass
class History:
    joins: dict[str, str] = field(default_factory=dict)  # acknowledged: node id -> its IPv4
    leaves: set[str] = field(default_factory=set)  # acknowledged
    indeterminate: set[str] = field(default_factory=set)
    failed_calls: int = 0
    faults: list[str] = field(default_factory=list)


@dataclass
class Voter:
    host: Host
    args: tuple[str, ...]

    @property
    def api(self) -> str:
        return f"{self.host.lan_ip}:8443"

    def start(self) -> None:
        self.host.node(*self.args)

    def process_alive(self) -> bool:
        return bool(self.host.processes) and self.host.processes[-1].alive()

    def kill(self) -> None:
        self.host.processes[-1].kill()

    def signal(self, signum: int) -> None:
        self.host.processes[-1].signal(signum)


@pytest.mark.timeout(FAULT_SECONDS + 300)  # set-up, healing and checking: minutes at most
def test_acknowledged_writes_survive_kills_pauses_and_partitions() -> None:
    with Lab("10.253.0", uplink=True) as lab:
        voters = start_voters(lab)
        history = asyncio.run(run(voters, history=History()))
        if REPORT:
            Path(REPORT).write_text(json.dumps(summary(history), indent=1))


def start_voters(lab: Lab) -> list[Voter]:
    hosts = [lab.add_host(f"voter-{i}") for i in range(3)]
    voters = [Voter(hosts[0], (*FLAGS, "--bootstrap.enabled"))]
    join = (*FLAGS, "--mesh.join-address=voter-0:8443", "--mesh.join-as-voter")
    voters += [Voter(host, join) for host in hosts[1:]]
    for voter in voters:
        voter.start()
        voter.host.wait_port(8443, timeout=60)
    return voters


async def run(voters: list[Voter], history: History) -> History:
    clients = [MeshClient(v.api, OPTIONS) for v in voters]
    try:
        await eventually_async(
            lambda: all_see_three_voters(clients), 60, "three voters and a leader"
        )
        stop = asyncio.Event()
        ids = itertools.count()
        rng = random.Random(20261206)
        workers = [
            asyncio.create_task(worker(clients, history, stop, ids, random.Random(i)))
            for i in range(WORKERS)
        ]
        try:
            await nemesis(voters, clients, history, rng, until=time.monotonic() + FAULT_SECONDS)
        finally:
            stop.set()
            await asyncio.gather(*workers)
        await heal(voters)
        await check(voters, clients, history)
    finally:
        for client in clients:
            await client.close()
    return history


async def all_see_three_voters(clients: list[MeshClient]) -> bool:
    with contextlib.suppress(errors.MeshError):
        statuses = [await c.status() for c in clients]
        return all(len(s.raft.voters) == 3 and s.raft.leader_id for s in statuses)
    return False


async def worker(
    clients: list[MeshClient],
    history: History,
    stop: asyncio.Event,
    ids: itertools.count[int],
    rng: random.Random,
) -> None:
    while not stop.is_set():
        client = rng.choice(clients)
        joined = sorted(set(history.joins) - history.leaves - history.indeterminate)
        if joined and rng.random() < 0.3:
            node_id = rng.choice(joined)
            history.indeterminate.add(node_id)  # until acknowledged
            try:
                await client.leave(node_id)
            except errors.MeshError:
                history.failed_calls += 1
                continue
            history.leaves.add(node_id)
            history.indeterminate.discard(node_id)
            continue
        node_id = f"j{next(ids)}"
        request = membership_pb2.JoinRequest(
            id=node_id,
            public_key=key_of(node_id),
            as_observer=True,
            raft_key=key_of(f"{node_id} raft"),
        )
        try:
            response = await client.join(request)
        except errors.MeshError:
            history.failed_calls += 1
            history.indeterminate.add(node_id)
            await asyncio.sleep(0.05)
            continue
        history.joins[node_id] = response.address_ipv4


def key_of(node_id: str) -> str:
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    return base64.b64encode(hashlib.sha256(node_id.encode()).digest()).decode()


async def nemesis(
    voters: list[Voter],
    clients: list[MeshClient],
    history: History,
    rng: random.Random,
    *,
    until: float,
) -> None:
    faults: list[Callable[[], Awaitable[str]]] = [
        lambda: kill_and_restart(rng.sample(voters, 1)),
        lambda: kill_leader(voters, clients),
        lambda: kill_and_restart(rng.sample(voters, 2)),
        lambda: pause(rng.choice(voters)),
        lambda: partition(rng.choice(voters), voters),
    ]
    order = itertools.cycle(range(len(faults)))
    while time.monotonic() < until:
        await asyncio.sleep(2.0)  # writes flow between faults
        history.faults.append(await faults[next(order)]())


async def kill_and_restart(victims: list[Voter], down: float = 3.0) -> str:
    for voter in victims:
        await asyncio.to_thread(voter.kill)
    await asyncio.sleep(down)
    for voter in victims:
        voter.start()
    return "kill -9 " + ",".join(v.host.name for v in victims)


async def kill_leader(voters: list[Voter], clients: list[MeshClient]) -> str:
    for voter, client in zip(voters, clients, strict=True):
        with contextlib.suppress(errors.MeshError):
            if (await client.status()).is_leader:
                return "leader: " + await kill_and_restart([voter])
    return "leader: none to kill"


async def pause(voter: Voter, down: float = 3.0) -> str:
    voter.signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(down)
    finally:
        voter.signal(signal.SIGCONT)
    return f"SIGSTOP {voter.host.name} {down:g} s"


async def partition(voter: Voter, voters: list[Voter], down: float = 4.0) -> str:
    """Drop everything between ``voter`` and the other voters (the client still reaches it)."""
    others = [v.host.lan_ip for v in voters if v is not voter]
    for ip in others:
        voter.host.exec("iptables", "-A", "INPUT", "-s", ip, "-j", "DROP")
        voter.host.exec("iptables", "-A", "OUTPUT", "-d", ip, "-j", "DROP")
    try:
        await asyncio.sleep(down)
    finally:
        voter.host.exec("iptables", "-F", check=False)
    return f"partition {voter.host.name} {down:g} s"


async def heal(voters: list[Voter]) -> None:
    for voter in voters:
        voter.host.exec("iptables", "-F", check=False)
        voter.signal(signal.SIGCONT)
        if not voter.process_alive():
            voter.start()


async def check(voters: list[Voter], clients: list[MeshClient], history: History) -> None:
    async def views() -> list[dict[str, str]]:
        return [{n.id: n.private_ipv4 for n in await client.list_nodes()} for client in clients]

    async def agreed() -> list[dict[str, str]] | None:
        with contextlib.suppress(errors.MeshError):
            seen = await views()
            leaders = [(await c.status()).raft.leader_id for c in clients]
            if all(view == seen[0] for view in seen) and all(leaders):
                return seen
        return None

    seen = await eventually_async(agreed, 90, "the servers agree", logs=lambda: logs(voters))
    state = seen[0]
    # A node whose leave was attempted but not acknowledged may be there or not.
    settled = {
        i: a for i, a in history.joins.items() if i not in history.leaves | history.indeterminate
    }
    lost = {i: (a, state.get(i)) for i, a in settled.items() if state.get(i) != a}
    assert not lost, f"acknowledged joins lost or changed (given, now): {lost}\n{summary(history)}"
    undone = history.leaves & state.keys()
    assert not undone, f"acknowledged leaves undone: {sorted(undone)}"
    addresses = [address for address in state.values() if address]
    assert len(addresses) == len(set(addresses)), "an address is owned twice"
    text = logs(voters)
    assert '"level": "critical"' not in text.lower() and "CRITICAL" not in text, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
    assert len(history.joins) > 20, (
        f"too few writes acknowledged to mean anything: {summary(history)}"
    )


def logs(voters: list[Voter]) -> str:
    return "\n".join(
        process.log.read_text(errors="replace") for v in voters for process in v.host.processes
    )


def summary(history: History) -> dict[str, object]:
    return {
        "seconds of faults": FAULT_SECONDS,
        "acknowledged joins": len(history.joins),
        "acknowledged leaves": len(history.leaves),
        "indeterminate": len(history.indeterminate),
        "failed calls": history.failed_calls,
        "faults": history.faults,
    }


async def eventually_async(check, timeout: float, what: str, logs=None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} not reached within {timeout:g} s\n{(logs or str)()[-6000:]}")
