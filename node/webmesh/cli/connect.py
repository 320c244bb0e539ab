"""``wmctl connect``: put this machine on the mesh as a client node.

A client keeps no replica and serves nothing: it joins through a server, brings up a WireGuard
interface with its mesh addresses, and follows its peer list with ``Membership.SubscribePeers``.
When the server it streams from goes away it moves to another one (the join servers first, then
every API server the mesh listed, reached through the tunnel and verified by node id, whatever
``--tls.server-name`` says: that name is for the join servers). SIGINT or SIGTERM leaves the mesh,
removes the interface and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webmesh import errors
from webmesh.api import convert
from webmesh.api.v1 import membership_pb2
from webmesh.client import join as joiner
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.client.security import ClientSecurity
from webmesh.dns import hostresolver
from webmesh.mesh.feed import StaticFeed
from webmesh.mesh.model import Networks, Node
from webmesh.reconcile.desired import LocalInterface, interface_addresses
from webmesh.reconcile.loop import Reconciler
from webmesh.wg import keys
from webmesh.wg.driver import open_driver
from webmesh.wg.netlink import NetlinkLinks

log = logging.getLogger("webmesh.connect")

EPILOG = """\
examples:
  wmctl connect --insecure --no-ipv6 --join-server=10.0.0.1:8443
  wmctl connect --join-server=a.example:8443 --join-server=b.example:8443 \\
      --tls.ca-file ca.crt --auth.mtls.cert-file laptop.crt --auth.mtls.key-file laptop.key
  wmctl connect --join-server=203.0.113.7:30443 --tls.server-name demo-headless.ns.svc \\
      --tls.ca-file ca.crt --auth.mtls.cert-file laptop.crt --auth.mtls.key-file laptop.key
  wmctl connect --insecure --join-server=10.0.0.1:8443 --json    # machine-readable events
"""
RECONNECT_BACKOFF = (0.2, 5.0)
REMOVED_EXIT = 4  # wmctl's "not found": this machine is no longer in the mesh
LEARN_RETRIES = (0.2, 0.5, 1.0)  # pauses after failed attempts to list the servers
STATE_DIR = Path("/var/lib/webmesh/wmctl")


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "connect",
        parents=parents,
        help="join the mesh from this machine (a client node) until interrupted",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--join-server",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a server's API address; repeat to give fallbacks (tried in order)",
    )
    parser.add_argument("--no-ipv6", action="store_true", help="do not ask for an IPv6 prefix")
    parser.add_argument("--interface-name", default="webmesh0", help="WireGuard interface name")
    parser.add_argument("--listen-port", type=int, default=51820, help="WireGuard UDP port")
    parser.add_argument("--node-id", default="", help="id in the mesh (default: host name)")
    parser.add_argument(
        "--routes",
        action="append",
        default=[],
        metavar="CIDR",
        help="CIDRs reachable through this machine (repeatable)",
    )
    parser.add_argument("--mtu", type=int, default=1420, help="MTU of the interface")
    parser.add_argument(
        "--exit-node",
        default="",
        metavar="ID",
        help="send this machine's internet traffic through the exit node with this id (one "
        "started with --wireguard.exit-node), by policy routing: the host's own default route "
        "stays and is used again on disconnect",
    )
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        help="ask the servers to remove this machine soon after it goes away without leaving "
        "(after their --mesh.ephemeral-grace, 30 s by default) instead of after their "
        "--mesh.purge-after",
    )
    parser.add_argument(
        "--wireguard.backend",
        dest="backend",
        default="auto",
        choices=("auto", "kernel", "userspace", "fake"),
        help="WireGuard driver",
    )
    parser.add_argument(
        "--use-meshdns",
        action="store_true",
        help="send this machine's lookups of the mesh domain (<node-id>.<mesh-domain>) to the "
        "mesh's MeshDNS servers (systemd-resolved per-link DNS where it runs, otherwise a "
        "managed /etc/resolv.conf, put back byte for byte on disconnect)",
    )
    parser.add_argument(
        "--state-dir",
        default=str(STATE_DIR),
        metavar="PATH",
        help="where --use-meshdns keeps the host's original resolv.conf while connected (a "
        "later connect puts back what a killed one left)",
    )
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")


@dataclass
class Session:
    """One connection of this machine to the mesh."""

    args: argparse.Namespace
    security: ClientSecurity
    node_id: str
    private_key: str = field(default_factory=keys.generate_private_key)
    feed: StaticFeed = field(default_factory=StaticFeed)
    servers: list[str] = field(default_factory=list)  # where to stream from, best first
    removed: bool = False  # the mesh removed this machine: do not leave, exit non-zero
    server_names: dict[str, str] = field(default_factory=dict)  # address -> node id (TLS name)
    reconciler: Reconciler | None = None
    resolver: hostresolver.HostResolver | None = None  # with --use-meshdns
    domain: str = ""
    dns_servers: tuple[str, ...] = ()  # what the host resolver points at now

    def emit(self, event: str, **fields: Any) -> None:
        if self.args.json:
            print(json.dumps({"event": event, "ts": time.time(), **fields}), flush=True)
        else:
            detail = " ".join(f"{k}={v}" for k, v in fields.items())
            print(f"{event}: {detail}", flush=True)

    def client(self, server: str) -> MeshClient:
        options = ClientOptions(security=self.security, timeout=self.args.timeout)
        return MeshClient(server, options, server_name=self.server_names.get(server, ""))

    def request(self) -> membership_pb2.JoinRequest:
        return membership_pb2.JoinRequest(
            id=self.node_id,
            public_key=keys.public_key(self.private_key),
            want_ipv6=not self.args.no_ipv6,
            routes=list(self.args.routes),
            ephemeral=bool(getattr(self.args, "ephemeral", False)),
            wireguard_port=self.args.listen_port,
        )


async def connect(args: argparse.Namespace, security: ClientSecurity) -> int:
    if not args.join_server:
        raise errors.InvalidArgument("give at least one --join-server HOST:PORT")
    session = Session(args, security, args.node_id or socket.gethostname())
    _recover_resolver(args)
    server, response = await joiner.join(
        list(args.join_server), session.request(), max_retries=3, security=security
    )
    driver = open_driver(args.backend)
    removed = False
    try:
        await _bring_up(session, response, driver)
        _use_meshdns(session, response.mesh_domain, response.meshdns_servers)
        session.servers = [server, *[s for s in args.join_server if s != server]]
        await _learn_servers(session)
        removed = await _follow_until_stopped(session)
    finally:
        if session.resolver is not None:  # first: never leave the host pointed at a lost mesh
            _restore_resolver(session)
        if not session.removed:
            await _leave(session)
        if session.reconciler is not None:
            await session.reconciler.tear_down()
        await driver.close()
        session.emit("disconnected", interface=args.interface_name)
    if removed:
        log.error(
            "this machine was removed from the mesh (by an administrator, or purged after "
            "being offline): connect again to rejoin node=%s",
            session.node_id,
        )
        return REMOVED_EXIT
    return 0


async def _bring_up(session: Session, response: membership_pb2.JoinResponse, driver: Any) -> None:
    args = session.args
    networks = Networks(response.network_ipv4, response.network_ipv6, response.mesh_domain)
    me = Node(
        id=session.node_id, public_key="", ipv4=response.address_ipv4, ipv6=response.address_ipv6
    )
    local = LocalInterface(
        name=args.interface_name,
        private_key=session.private_key,
        listen_port=args.listen_port,
        mtu=args.mtu,
        addresses=interface_addresses(me, networks),
        networks=tuple(n for n in (networks.ipv4, networks.ipv6) if n),
        exit_node=args.exit_node,
    )
    session.feed.set([convert.peer_from_proto(p) for p in response.peers])
    session.reconciler = Reconciler(
        driver=driver, links=NetlinkLinks(), local=local, feed=session.feed, resync_interval=60.0
    )
    await session.reconciler.bring_up()
    session.emit(
        "connected",
        node=session.node_id,
        addresses=",".join(local.addresses),
        peers=len(response.peers),
        interface=local.name,
    )


def _backup(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) / f"{args.interface_name}.{hostresolver.BACKUP_NAME}"


def _recover_resolver(args: argparse.Namespace) -> None:
    """Put back the resolv.conf a connect killed with SIGKILL left pointed at MeshDNS."""
    if _backup(args).exists():
        hostresolver.ResolvConfFile(_backup(args)).recover()


def _use_meshdns(session: Session, domain: str, servers: Any) -> None:
    """Point the host resolver at the mesh's MeshDNS servers (with --use-meshdns), or at the
    new list when it changed; a mesh without one on port 53 is said once, not an error."""
    if not session.args.use_meshdns:
        return
    if session.resolver is None:
        session.resolver = hostresolver.for_host(session.args.interface_name, _backup(session.args))
        session.domain = domain
    usable = hostresolver.resolv_conf_servers(list(servers))
    if usable == session.dns_servers:
        return
    if not usable:
        log.warning("no MeshDNS server on port 53 in the mesh: the host resolver is unchanged")
        return
    try:
        session.resolver.point_at(usable, session.domain)
    except OSError as exc:
        log.warning("cannot point the host resolver at MeshDNS error=%s", exc)
        return
    session.dns_servers = usable
    session.emit("meshdns", servers=",".join(usable), domain=session.domain)


def _restore_resolver(session: Session) -> None:
    assert session.resolver is not None
    try:
        session.resolver.restore()
    except OSError as exc:
        log.error("cannot restore the host's resolver config error=%s", exc)


async def _learn_servers(session: Session, via: str = "") -> None:
    """Every API server of the mesh, as fallbacks reachable through the tunnel (asked at join
    and again on each new stream: servers that joined or got their API since are added).
    A failed ask is retried briefly; the stream keeps working without the fallbacks."""
    for delay in LEARN_RETRIES:
        try:
            async with session.client(via or session.servers[0]) as client:
                nodes = await client.list_nodes()
        except errors.MeshError as exc:
            log.debug("cannot list the mesh's servers yet error=%s", exc)
            await asyncio.sleep(delay)
            continue
        for node in nodes:
            if node.api_address and node.api_address not in session.servers:
                session.servers.append(node.api_address)
                session.server_names[node.api_address] = node.id
        return


async def _follow_until_stopped(session: Session) -> bool:
    """Follow the mesh until SIGINT or SIGTERM (False) or until it removed us (True)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    assert session.reconciler is not None
    tasks = [
        asyncio.create_task(_stream_peers(session), name="peers"),
        asyncio.create_task(session.reconciler.run(), name="reconcile"),
    ]
    try:
        await asyncio.wait({tasks[0], asyncio.ensure_future(stop.wait())},
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return session.removed


async def _stream_peers(session: Session) -> None:
    """Follow SubscribePeers, moving to the next server when one goes away."""
    backoff, index = RECONNECT_BACKOFF[0], 0
    while True:
        server = session.servers[index % len(session.servers)]
        try:
            async with session.client(server) as client:
                learnt = False
                async for update in client.subscribe_peers(session.node_id):
                    _apply(session, server, update)
                    backoff = RECONNECT_BACKOFF[0]
                    if not learnt:
                        learnt = True
                        await _learn_servers(session, via=server)
        except errors.NotFound:  # the server's replica no longer has this node
            session.removed = True
            session.emit("removed", server=server)
            return
        except errors.MeshError as exc:
            session.emit("server-lost", server=server, error=str(exc).replace(" ", "_")[:120])
        index += 1
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, RECONNECT_BACKOFF[1])


def _apply(session: Session, server: str, update: membership_pb2.PeerList) -> None:
    peers = [convert.peer_from_proto(p) for p in update.peers]
    session.feed.set(peers)
    if session.reconciler is not None:
        session.reconciler.wake()
    if session.resolver is not None:
        _use_meshdns(session, session.domain, update.meshdns_servers)
    session.emit(
        "peers", server=server, count=len(peers), ids=",".join(p.node_id for p in peers) or "-"
    )


async def _leave(session: Session) -> None:
    """Leave through any server that answers (bounded)."""
    for server in session.servers or list(session.args.join_server):
        try:
            async with session.client(server) as client:
                await asyncio.wait_for(client.leave(session.node_id), session.args.timeout)
        except (errors.MeshError, TimeoutError):
            continue
        session.emit("left", server=server)
        return


def run(args: argparse.Namespace, security: Callable[[argparse.Namespace], ClientSecurity]) -> int:
    return asyncio.run(connect(args, security(args)))
