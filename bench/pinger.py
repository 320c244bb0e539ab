"""A tight ICMP echo loop, run inside a network namespace: report the first reply of each target.

    ip netns exec NS python bench/pinger.py TARGET[,TARGET...] [INTERVAL_S] [TIMEOUT_S]

Prints ``ready`` once its socket is open, then every INTERVAL_S (default 2 ms) sends one echo
request to each target that has not answered yet (``sendto`` fails cheaply while there is no route
yet) and prints ``reply MONO SENT SEQ TARGET`` for each target's first echo reply:
``time.monotonic()`` of its receipt and of the request it answers (CLOCK_MONOTONIC is shared by
every namespace, so the caller can compare it with its own clock). Exits 0 once every target
answered, or 1 after printing ``timeout`` and the targets still silent once TIMEOUT_S (default
30 s) have passed. No subprocess per probe, so the probing itself costs almost nothing and adds at
most one interval to the measurement.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    payload = b"webmesh-bench"
    return struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload


def main() -> int:
    pending = set(sys.argv[1].split(","))
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.002
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    ident = os.getpid() & 0xFFFF
    sent_at: dict[int, tuple[str, float]] = {}  # seq -> (target, when)
    print("ready", flush=True)
    deadline = time.monotonic() + timeout
    seq = 0
    while pending and time.monotonic() < deadline:
        for target in sorted(pending):
            seq = (seq + 1) & 0xFFFF
            try:
                sock.sendto(echo_request(ident, seq), (target, 0))
                sent_at[seq] = (target, time.monotonic())
            except OSError:
                pass  # no route yet (the interface is not up): try again next interval
        wake = time.monotonic() + interval
        while pending and (left := wake - time.monotonic()) > 0:
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                break
            packet, (source, _) = sock.recvfrom(2048)
            now = time.monotonic()
            offset = (packet[0] & 0x0F) * 4
            kind, _, _, rid, rseq = struct.unpack("!BBHHH", packet[offset : offset + 8])
            target, sent = sent_at.get(rseq, ("", 0.0))
            if kind == 0 and rid == ident and source == target and target in pending:
                pending.discard(target)
                print(f"reply {now:.6f} {sent:.6f} {rseq} {target}", flush=True)
    if pending:
        print("timeout " + ",".join(sorted(pending)), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
