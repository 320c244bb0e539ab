"""The kernel WireGuard backend: links through rtnetlink, keys and peers through generic netlink.

pyroute2's synchronous ``IPRoute``/``WireGuard`` run their own event loop, which cannot nest in
ours, so every call runs in a worker thread (``asyncio.to_thread``). Untested on machines without
the module (``unavailable_reason`` detects that); ``tests/unit/wg`` checks the message parsing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from webmesh.wg import keys, pyroute
from webmesh.wg.config import DeviceConfig, DeviceState, PeerConfig, PeerState
from webmesh.wg.errors import WireGuardError
from webmesh.wg.plan import PeerUpdate, Plan, plan

T = TypeVar("T")


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking pyroute2 call in a thread; netlink failures become WireGuardError."""
    try:
        return await asyncio.to_thread(fn, *args)
    except (OSError, pyroute.NetlinkError) as exc:
        raise WireGuardError(f"kernel WireGuard {fn.__name__.strip('_')} failed: {exc}") from exc


async def _probe() -> None:
    # Binding the "wireguard" genl family makes the kernel autoload the module if it can. The
    # async class is closed in finally: the sync one leaks its socket when the bind fails.
    wg = pyroute.AsyncWireGuard()
    try:
        await wg.setup_endpoint()
    finally:
        wg.close()


def unavailable_reason() -> str | None:
    """None if the kernel module answers, else why not. Runs in a thread: safe inside a loop."""
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="wg-probe")
    try:
        pool.submit(asyncio.run, _probe()).result(timeout=5)
    except Exception as exc:  # any failure means "not usable"
        return f"{type(exc).__name__}: {exc}"
    finally:
        pool.shutdown(wait=False)
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _peer_state(nla: Any) -> PeerState:
    endpoint = nla.get_attr("WGPEER_A_ENDPOINT")
    handshake = nla.get_attr("WGPEER_A_LAST_HANDSHAKE_TIME")
    psk = _text(nla.get_attr("WGPEER_A_PRESHARED_KEY") or keys.ZERO_KEY)
    ep = ""
    if endpoint is not None and endpoint.get("port"):
        addr = endpoint["addr"]
        ep = f"[{addr}]:{endpoint['port']}" if ":" in addr else f"{addr}:{endpoint['port']}"
    return PeerState(
        public_key=_text(nla.get_attr("WGPEER_A_PUBLIC_KEY")),
        endpoint=ep,
        allowed_ips=tuple(sorted(a["addr"] for a in nla.get_attr("WGPEER_A_ALLOWEDIPS") or ())),
        persistent_keepalive=nla.get_attr("WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL") or 0,
        preshared_key="" if psk == keys.ZERO_KEY else psk,
        last_handshake=handshake["tv_sec"] + handshake["tv_nsec"] / 1e9 if handshake else 0.0,
        rx_bytes=nla.get_attr("WGPEER_A_RX_BYTES") or 0,
        tx_bytes=nla.get_attr("WGPEER_A_TX_BYTES") or 0,
    )


def state_from_messages(messages: list[Any]) -> DeviceState:
    """Merge a WG_CMD_GET_DEVICE dump (peers may span several messages) into a DeviceState."""
    if not messages:
        raise WireGuardError("empty WireGuard netlink reply")
    first = messages[0]
    private = _text(first.get_attr("WGDEVICE_A_PRIVATE_KEY") or keys.ZERO_KEY)
    public = _text(first.get_attr("WGDEVICE_A_PUBLIC_KEY") or keys.ZERO_KEY)
    peers = [_peer_state(p) for m in messages for p in m.get_attr("WGDEVICE_A_PEERS") or ()]
    return DeviceState(
        public_key="" if public == keys.ZERO_KEY else public,
        private_key="" if private == keys.ZERO_KEY else private,
        listen_port=first.get_attr("WGDEVICE_A_LISTEN_PORT") or 0,
        fwmark=first.get_attr("WGDEVICE_A_FWMARK") or 0,
        peers=tuple(sorted(peers, key=lambda p: p.public_key)),
    )


def _endpoint(endpoint: str) -> dict[str, Any]:
    host, _, port = endpoint.rpartition(":")
    return {"endpoint_addr": host.strip("[]"), "endpoint_port": int(port)}


def _add_request(peer: PeerConfig) -> dict[str, Any]:
    req: dict[str, Any] = {"public_key": peer.public_key, "replace_allowed_ips": True}
    req["allowed_ips"] = list(peer.allowed_ips)
    req["persistent_keepalive"] = peer.persistent_keepalive
    if peer.preshared_key:
        req["preshared_key"] = peer.preshared_key
    if peer.endpoint:
        req.update(_endpoint(peer.endpoint))
    return req


def _update_request(update: PeerUpdate) -> dict[str, Any]:
    req: dict[str, Any] = {"public_key": update.public_key, "update_only": True}
    if update.allowed_ips is not None:
        req.update(replace_allowed_ips=True, allowed_ips=list(update.allowed_ips))
    if update.persistent_keepalive is not None:
        req["persistent_keepalive"] = update.persistent_keepalive
    if update.preshared_key is not None:
        req["preshared_key"] = update.preshared_key or keys.ZERO_KEY
    if update.endpoint is not None:
        req.update(_endpoint(update.endpoint))
    return req


def peer_requests(p: Plan) -> list[dict[str, Any]]:
    """pyroute2 ``peer=`` dicts for a plan, removals first (as in ``uapi.encode_set``)."""
    removals = [{"public_key": k, "remove": True} for k in p.remove]
    return removals + [_update_request(u) for u in p.update] + [_add_request(a) for a in p.add]


class KernelDriver:
    """``WireGuardDriver`` over the in-kernel module (Linux >= 5.6 or the backport)."""

    async def create(self, iface: str, *, mtu: int) -> None:
        await _call(self._create, iface, mtu)

    async def show(self, iface: str) -> DeviceState:
        return await _call(self._show, iface)

    async def configure(self, iface: str, desired: DeviceConfig) -> Plan:
        p = plan(desired, await self.show(iface))
        await self.apply(iface, p)
        return p

    async def apply(self, iface: str, plan: Plan) -> None:
        if not plan.empty:
            await _call(self._apply, iface, plan)

    async def delete(self, iface: str) -> None:
        await _call(self._delete, iface)

    async def close(self) -> None:
        """Nothing to release: kernel interfaces outlive the daemon and are adopted on restart."""

    @staticmethod
    def _create(iface: str, mtu: int) -> None:
        with pyroute.IPRoute() as ipr:
            if not ipr.link_lookup(ifname=iface):
                ipr.link("add", ifname=iface, kind="wireguard")
            (index,) = ipr.link_lookup(ifname=iface)
            ipr.link("set", index=index, mtu=mtu, state="up")

    @staticmethod
    def _show(iface: str) -> DeviceState:
        with pyroute.WireGuard() as wg:
            return state_from_messages(list(wg.info(iface)))

    @staticmethod
    def _apply(iface: str, p: Plan) -> None:
        with pyroute.WireGuard() as wg:
            if p.device_changes:
                private = None if p.private_key is None else p.private_key or keys.ZERO_KEY
                wg.set(iface, private_key=private, listen_port=p.listen_port, fwmark=p.fwmark)
            for request in peer_requests(p):
                wg.set(iface, peer=request)

    @staticmethod
    def _delete(iface: str) -> None:
        with pyroute.IPRoute() as ipr:
            for index in ipr.link_lookup(ifname=iface):
                ipr.link("del", index=index)
