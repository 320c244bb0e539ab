"""UserspaceDriver without root: fake wireguard-go scripts and a fake UAPI server in a temp dir."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from webmesh.wg import uapi
from webmesh.wg.config import DeviceConfig, PeerConfig
from webmesh.wg.errors import UapiError, WireGuardError
from webmesh.wg.userspace import UserspaceDriver

PEER = "oQvX7rYwVD9jSkDM9KPF8uyZDybtXbJtzxz9jkNQK3E="
PEER_HEX = "a10bd7eeb630543f634a40ccf4a3c5f2ec990f26ed5db26dcf1cfd8e43502b71"


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-wireguard-go"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


async def test_early_exit_reports_output(tmp_path: Path) -> None:
    driver = UserspaceDriver(
        binary=script(tmp_path, "echo 'ERROR: boom' >&2; exit 3"), socket_dir=tmp_path
    )
    with pytest.raises(WireGuardError, match="exited with 3: ERROR: boom"):
        await driver.create("wm0", mtu=1420)
    assert driver.pid("wm0") is None


async def test_start_timeout_stops_the_child(tmp_path: Path) -> None:
    driver = UserspaceDriver(
        binary=script(tmp_path, "exec sleep 30"), socket_dir=tmp_path, start_timeout=0.3
    )
    with pytest.raises(WireGuardError, match="did not open"):
        await driver.create("wm0", mtu=1420)
    await driver.close()


async def test_missing_binary(tmp_path: Path) -> None:
    driver = UserspaceDriver(binary=str(tmp_path / "nope"), socket_dir=tmp_path)
    with pytest.raises(WireGuardError, match="cannot start"):
        await driver.create("wm0", mtu=1420)


async def test_live_socket_means_name_in_use(tmp_path: Path) -> None:
    server = await asyncio.start_unix_server(lambda r, w: w.close(), path=tmp_path / "wm0.sock")
    async with server:
        driver = UserspaceDriver(binary="/bin/false", socket_dir=tmp_path)
        with pytest.raises(WireGuardError, match="already in use"):
            await driver.create("wm0", mtu=1420)


async def test_stale_socket_is_removed(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(tmp_path / "wm0.sock"))  # bound, never listening: like a kill -9
    driver = UserspaceDriver(binary=script(tmp_path, "exit 1"), socket_dir=tmp_path)
    with pytest.raises(WireGuardError, match="exited with 1"):
        await driver.create("wm0", mtu=1420)
    assert not (tmp_path / "wm0.sock").exists()


@pytest.fixture
async def uapi_server(tmp_path: Path) -> AsyncIterator[list[str]]:
    """A UAPI socket that records requests and answers like wireguard-go (one peer, then none)."""
    requests: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\n\n")).decode()
        requests.append(request)
        if request.startswith("get"):
            writer.write(f"listen_port=51820\npublic_key={PEER_HEX}\nerrno=0\n\n".encode())
        else:
            writer.write(b"errno=-22\n\n" if "bad" in request else b"errno=0\n\n")
        await writer.drain()
        writer.close()

    async with await asyncio.start_unix_server(serve, path=tmp_path / "wm0.sock"):
        yield requests


async def test_configure_sends_only_the_plan(tmp_path: Path, uapi_server: list[str]) -> None:
    driver = UserspaceDriver(socket_dir=tmp_path)
    desired = DeviceConfig("", 51820, (PeerConfig(PEER, allowed_ips=("10.0.0.2/32",)),))
    p = await driver.configure("wm0", desired)
    assert p.describe() == "add 0 peers, update 1 peer (allowed_ips), remove 0 peers"
    assert uapi_server == [
        "get=1\n\n",
        f"set=1\npublic_key={PEER_HEX}\nupdate_only=true\nreplace_allowed_ips=true\n"
        "allowed_ip=10.0.0.2/32\n\n",
    ]
    assert (await driver.configure("wm0", DeviceConfig("", 0, (PeerConfig(PEER),)))).empty


async def test_rejected_set_raises(tmp_path: Path, uapi_server: list[str]) -> None:
    driver = UserspaceDriver(socket_dir=tmp_path)
    with pytest.raises(UapiError, match="errno=-22"):
        uapi.check_errno(await driver.request("wm0", "set=1\nbad=1\n\n"))


async def test_no_socket_says_create_first(tmp_path: Path) -> None:
    with pytest.raises(WireGuardError, match="create it first"):
        await UserspaceDriver(socket_dir=tmp_path).show("wm0")
