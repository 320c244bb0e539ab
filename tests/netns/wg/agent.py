"""Runs the real userspace driver inside a network namespace, driven by JSON lines on stdin.

Started by the netns tests as ``ip netns exec NS python agent.py``, so the driver runs exactly as
the daemon does (in its own namespace, no netns tricks). One request per line, one reply per line:
``{"op": ..., ...}`` -> ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from typing import Any

from webmesh.wg.config import DeviceConfig, PeerConfig
from webmesh.wg.netlink import NetlinkLinks
from webmesh.wg.userspace import UserspaceDriver


def device_config(raw: dict[str, Any]) -> DeviceConfig:
    peers = tuple(
        PeerConfig(**{**p, "allowed_ips": tuple(p.get("allowed_ips", ()))}) for p in raw["peers"]
    )
    return DeviceConfig(raw["private_key"], raw["listen_port"], peers, raw.get("fwmark", 0))


async def handle(driver: UserspaceDriver, links: NetlinkLinks, req: dict[str, Any]) -> Any:
    op, iface = req["op"], req.get("iface", "")
    if op == "create":
        await driver.create(iface, mtu=req["mtu"])
        return driver.pid(iface)
    if op == "configure":
        return (await driver.configure(iface, device_config(req["desired"]))).describe()
    if op == "show":
        return dataclasses.asdict(await driver.show(iface))
    if op == "addresses":
        return await links.set_addresses(iface, req["prefixes"])
    if op == "routes":
        return await links.set_routes(iface, req["cidrs"])
    if op == "host_addresses":
        return await links.interface_addresses()
    if op == "forwarding":
        return await links.enable_forwarding(ipv4=True, ipv6=True)
    if op == "delete":
        return await driver.delete(iface)
    raise ValueError(f"unknown op {op!r}")


async def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="agent %(name)s %(message)s")
    logging.getLogger("webmesh").setLevel(logging.DEBUG)
    driver, links = UserspaceDriver(), NetlinkLinks()
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            req = json.loads(line)
            if req["op"] == "quit":
                break
            try:
                reply = {"ok": True, "result": await handle(driver, links, req)}
            except Exception as exc:  # report every failure to the test
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
    finally:
        await driver.close()


if __name__ == "__main__":
    asyncio.run(main())
