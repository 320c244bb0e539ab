"""Make every peer learn this node's current endpoint at once, by WireGuard roaming.

WireGuard learns a peer's endpoint from the source address of its authenticated packets. A node
that comes back on another underlay address (a pod rescheduled with a new IP, a laptop on another
network) is still known at the old one until it sends its peers something. Nothing may come: Raft
(pysyncobj) dials only nodes with a lower address, so the lowest-addressed voter waits for peers
whose packets go to its old endpoint; that voter crash-looped on every restart with a new pod IP.

One empty datagram to each peer's mesh address makes the interface start a handshake with it;
the handshake carries the new endpoint, and the peer answers there. The datagram goes to the
discard port and is dropped on arrival.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

DISCARD_PORT = 9


def host_addresses(allowed_ips: Iterable[str]) -> list[str]:
    """The single-host entries of a peer's AllowedIPs (its own mesh addresses), not networks."""
    hosts = []
    for cidr in allowed_ips:
        network = ipaddress.ip_network(cidr, strict=False)
        if network.num_addresses == 1:
            hosts.append(str(network.network_address))
    return hosts


def greet(addresses: Iterable[str]) -> int:
    """Send one empty datagram to each address (through the mesh interface); how many went."""
    sent = 0
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(b"", (address, DISCARD_PORT))
        except OSError:
            continue  # no route yet, or a full buffer: the next handshake comes with traffic
        sent += 1
    return sent
