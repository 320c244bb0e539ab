"""Running ``nft`` for the tables the node owns (exit masquerading, peering filters): one
transaction per call, bounded in time, in another network namespace when asked.

Each table is ours alone, added and deleted whole, so no rule of the host's is ever touched,
whatever firewall it runs (iptables-nft and firewalld keep their own tables).
"""

from __future__ import annotations

import asyncio
import shutil

from webmesh.wg.errors import WireGuardError

NFT_TIMEOUT = 10.0


def available() -> bool:
    return shutil.which("nft") is not None


async def run(
    stdin: str, *args: str, netns: str | None = None, missing_ok: bool = False, needed_for: str
) -> None:
    """``nft ARGS`` with ``stdin``; ``missing_ok``: a table that is not there is no error."""
    nft = shutil.which("nft")
    if nft is None:
        raise WireGuardError(f"{needed_for} needs nft: install nftables")
    prefix = ("ip", "netns", "exec", netns) if netns else ()
    process = await asyncio.create_subprocess_exec(
        *prefix, nft, *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(process.communicate(stdin.encode()), NFT_TIMEOUT)
    except TimeoutError:
        process.kill()
        raise WireGuardError(f"nft did not answer within {NFT_TIMEOUT:g} s") from None
    message = err.decode(errors="replace").strip()
    if process.returncode and not (missing_ok and "No such file" in message):
        raise WireGuardError(f"nft {' '.join(args)} failed: {message}")
