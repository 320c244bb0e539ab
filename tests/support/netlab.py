"""A lab of container-like hosts on one machine, for real-network tests.

Each host is a network namespace attached to a private LAN (a bridge in a namespace of its own).
A node runs there the way a container would: its own hostname (UTS namespace), its own
``/run/wireguard`` (a tmpfs, so every node may call its interface ``webmesh0``), its own
``/var/lib/webmesh`` and ``/etc/hosts``. Everything has unique names, so labs run in parallel.

``Lab(nameserver=...)`` also gives every host an ``/etc/resolv.conf`` naming that server and a
default route, as a container has. The route goes via a gateway that no host owns, whose
neighbour entry is permanent with a made-up MAC: its frames go onto the lab's bridge and are
dropped there, so a DNS server off the LAN never answers and no packet leaves the lab.

``Lab(uplink=True)`` instead links the LAN to this machine's own network namespace (a veth, the
machine side ``<subnet>.254``) and gives every host a default route through it: the hosts reach
what runs on this machine (a Kubernetes node's NodePorts, its pods) the way a workstation on the
node's network would, through the machine's routing and forwarding, and nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from support.wait import eventually

BIN = Path(sys.executable).parent  # the venv that runs the tests has the console scripts
# The quick start's node flags (insecure, IPv4, endpoints detected on the host's interfaces).
QUICKSTART_FLAGS = (
    "--global.insecure",
    "--global.no-ipv6",
    "--global.detect-endpoints",
    "--global.detect-private-endpoints",
)
_counter = itertools.count()


def run(*cmd: str, check: bool = True, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)


def can_run() -> str:
    """'' when this machine can run network tests, else why not."""
    if os.geteuid() != 0:
        return "network tests need root"
    for tool in ("wireguard-go", "ip", "ping", "unshare", "iptables", "nft", "dnsmasq"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return ""


@dataclass
class Process:
    host: Host
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait (bounded), then SIGKILL. Returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.popen.wait(5)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)

    def wait_line(self, text: str, timeout: float = 30.0) -> float:
        """Wait until the log has a line with ``text``; when it was seen (time.monotonic)."""
        eventually(
            lambda: text in self.log.read_text(errors="replace"),
            timeout=timeout,
            interval=0.02,
            what=lambda: f"{text!r} from {self.name} on {self.host.name}\n{self.host.lab.logs()}",
        )
        return time.monotonic()

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Host:
    lab: Lab
    name: str  # the hostname, as a container would have it
    netns: str
    lan_ip: str
    data: Path
    run_dir: Path  # its /run/wireguard: kept across restarts of its processes, as on a host
    resolv_file: Path | None = None  # its /etc/resolv.conf (a lab with a nameserver)
    processes: list[Process] = field(default_factory=list)

    def exec(
        self, *cmd: str, check: bool = True, timeout: float = 20.0
    ) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.netns, *cmd, check=check, timeout=timeout)

    def spawn(
        self,
        program: str,
        *args: str,
        name: str = "",
        env: Mapping[str, str] | None = None,
        mounts: Sequence[tuple[Path, str]] = (),
    ) -> Process:
        """Start a program as in a container: own hostname, /run/wireguard, data dir, /etc/hosts.

        ``env`` is added to the environment; ``mounts`` binds more files or directories (a
        kubelet's volumes: ConfigMaps, Secrets). Their mount points are made in a private
        overlay of /etc, so a mount under /etc (``/etc/webmesh``) leaves the real /etc untouched.
        """
        label = name or program
        log = self.lab.dir / f"{self.name}-{label}-{len(self.processes)}.log"
        inner = "; ".join(
            [
                f"hostname {shlex.quote(self.name)}",
                "mkdir -p /run/wireguard /var/lib/webmesh",
                *self._private_etc(mounts),
                f"mount --bind {shlex.quote(str(self.run_dir))} /run/wireguard",
                f"mount --bind {shlex.quote(str(self.data))} /var/lib/webmesh",
                *self.lab.etc_binds(self),
                *(_bind(source, target) for source, target in mounts),
                f"export PATH={shlex.quote(str(BIN))}:$PATH",
                "exec " + " ".join(shlex.quote(a) for a in (program, *args)),
            ]
        )
        cmd = [
            "ip",
            "netns",
            "exec",
            self.netns,
            "unshare",
            "--uts",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            inner,
        ]
        environ = {**os.environ, **(env or {})}
        with log.open("wb") as out:
            popen = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=environ
            )
        process = Process(self, label, popen, log)
        self.processes.append(process)
        self.lab.processes.append(process)
        return process

    def contained(
        self,
        *cmd: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 20.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to its end as ``spawn`` runs one: the host's hostname, the lab's
        ``/etc/hosts`` (and ``/etc/resolv.conf``), the venv's console scripts on PATH."""
        inner = "; ".join(
            [
                f"hostname {shlex.quote(self.name)}",
                *self.lab.etc_binds(self),
                f"export PATH={shlex.quote(str(BIN))}:$PATH",
                "exec " + " ".join(shlex.quote(a) for a in cmd),
            ]
        )
        unshare = ("unshare", "--uts", "--mount", "--propagation", "private")
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *unshare, "sh", "-c", inner],
            check=check,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    def _private_etc(self, mounts: Sequence[tuple[Path, str]]) -> list[str]:
        """Shell lines that overlay /etc (upper layer on a tmpfs) when a mount goes under it."""
        if not any(target.startswith("/etc/") for _, target in mounts):
            return []
        layer = self.lab.dir / f"etc-{self.name}-{len(self.processes)}"
        layer.mkdir()
        q = shlex.quote(str(layer))
        options = f"lowerdir=/etc,upperdir={q}/upper,workdir={q}/work"
        return [
            f"mount -t tmpfs tmpfs {q} && mkdir {q}/upper {q}/work "
            f"&& mount -t overlay overlay -o {options} /etc || exit 97"
        ]

    def node(self, *args: str) -> Process:
        return self.spawn("webmesh-node", *args, name="node")

    def wmctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.exec(str(BIN / "wmctl"), *args, check=check)

    def mesh_ip(self, iface: str = "webmesh0", version: int = 4) -> str:
        """The node's mesh address on its interface, or ''."""
        out = self.exec("ip", "-j", f"-{version}", "addr", "show", "dev", iface, check=False)
        if out.returncode != 0 or not out.stdout.strip():
            return ""
        for link in json.loads(out.stdout):
            for info in link.get("addr_info", []):
                if info.get("scope") == "global":
                    return str(info["local"])
        return ""

    def wait_mesh_ip(self, timeout: float = 30.0, version: int = 4) -> str:
        return eventually(
            lambda: self.mesh_ip(version=version),
            timeout=timeout,
            what=lambda: f"a mesh address on {self.name}\n{self.logs()}",
        )

    def ping(self, address: str, count: int = 1, wait: int = 1) -> bool:
        flag = "-6" if ":" in address else "-4"
        result = self.exec(
            "ping",
            flag,
            "-c",
            str(count),
            "-W",
            str(wait),
            address,
            check=False,
            timeout=count * wait + 5,
        )
        return result.returncode == 0

    def ping_ttl(self, address: str, wait: float = 1.0) -> int:
        """The TTL of the reply to one IPv4 ping (0: no reply within ``wait`` seconds): 64
        from a host one WireGuard hop away, one less for each router (a relay) between."""
        out = self.exec("ping", "-4", "-c", "1", "-W", f"{wait:g}", address, check=False,
                        timeout=wait + 5)  # fmt: skip
        found = re.search(r"ttl=(\d+)", out.stdout)
        return int(found.group(1)) if out.returncode == 0 and found else 0

    def wait_port(self, port: int, timeout: float = 30.0) -> None:
        probe = f"exec 3<>/dev/tcp/127.0.0.1/{port}"
        eventually(
            lambda: self.exec("bash", "-c", probe, check=False).returncode == 0,
            timeout=timeout,
            what=lambda: f"port {port} on {self.name}\n{self.logs()}",
        )

    def in_container(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the running node's own mount namespace (its /run/wireguard)."""
        alive = [p for p in self.processes if p.alive()]
        if not alive:
            raise AssertionError(f"no process runs on {self.name}")
        pid = str(alive[-1].popen.pid)
        return run("nsenter", "-t", pid, "-m", "-n", *cmd, check=check)

    def wg(self, *args: str, iface: str = "webmesh0") -> str:
        """``wg show IFACE ARGS`` inside the node's container ('' if it fails)."""
        out = self.in_container("wg", "show", iface, *args, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""

    def wg_peers(self, iface: str = "webmesh0") -> set[str]:
        return set(self.wg("peers", iface=iface).split())

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} on {self.name}\n{p.tail()}" for p in self.processes)


def _bind(source: Path, target: str) -> str:
    """A shell line that bind-mounts ``source`` at ``target``, making the mount point first."""
    s, d = shlex.quote(str(source)), shlex.quote(target)
    if source.is_dir():
        return f"mkdir -p {d} && mount --bind {s} {d} || exit 97"
    return f'mkdir -p "$(dirname {d})" && touch {d} && mount --bind {s} {d} || exit 97'


# A home router's nftables: masquerade on the WAN (Linux keeps the source port when it can;
# "random" draws one per connection), and a firewall that drops what comes in on the WAN
# unasked. Dropped before conntrack confirms it, an unasked packet leaves no entry behind that
# could clash with the mapping of the router's own next outgoing packet (which would then get
# another port, and the hole punch would miss).
NAT_RULES = """
table ip webmesh_lab_nat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "{wan}" masquerade{random}
  }}
}}
table inet webmesh_lab_firewall {{
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname "{wan}" ct state new drop
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{wan}" ct state new drop
  }}
}}
"""


@dataclass
class Nat:
    """A router namespace with a private LAN behind it (``Lab.add_nat``)."""

    netns: str
    wan_ip: str  # its address on the lab's LAN: what the internet sees
    subnet: str  # the private LAN's first three octets
    hosts: int = 0

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def run(self, *cmd: str) -> None:
        """Run a command in the router's namespace (change its addresses or firewall)."""
        run("ip", "netns", "exec", self.netns, *cmd)

    def next_address(self) -> str:
        self.hosts += 1
        return f"{self.subnet}.{self.hosts + 1}"


class Lab:
    """Create hosts with ``add_host``; ``close()`` (or the context manager) removes everything."""

    # The lab's black-hole gateway (with ``nameserver``): its MAC is made up, no host has it.
    GATEWAY_MAC = "02:00:00:00:00:53"

    def __init__(
        self, subnet: str = "10.213.0", *, nameserver: str = "", uplink: bool = False
    ) -> None:
        """``nameserver``: an address for every host's /etc/resolv.conf, and give the hosts a
        default route via a gateway that drops everything (see the module docstring). An
        address off the LAN (TEST-NET 192.0.2.53) never answers: it is reached via that gateway.
        ``uplink``: the default route goes to this machine instead (not with ``nameserver``).
        """
        if nameserver and uplink:
            raise ValueError("a lab has either a black-hole gateway (nameserver) or an uplink")
        self.tag = f"wm{os.getpid() % 100000}x{next(_counter)}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self.subnet = subnet
        self.resolv_file: Path | None = None
        self.gateway = ""
        if nameserver:
            self.resolv_file = self.dir / "resolv.conf"
            self.resolv_file.write_text(f"nameserver {nameserver}\n")
            self.gateway = f"{subnet}.254"
        self.hosts: list[Host] = []
        self.nats: list[Nat] = []
        self.processes: list[Process] = []
        self.lan = f"{self.tag}lan"
        self.hosts_file = self.dir / "hosts"
        self.hosts_file.write_text("127.0.0.1 localhost\n::1 localhost\n")
        run("ip", "netns", "add", self.lan)
        run("ip", "-n", self.lan, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.lan, "link", "set", "br0", "up")
        self.uplink = ""
        if uplink:
            self._link_to_this_machine()

    def _link_to_this_machine(self) -> None:
        """A veth from the LAN's bridge to this machine's namespace, which routes for the hosts.
        Deleting the LAN's namespace deletes both ends."""
        self.uplink = f"{self.subnet}.254"
        machine_side, lan_side = f"{self.tag}u", f"{self.tag}ub"
        run("ip", "link", "add", machine_side, "type", "veth", "peer", "name", lan_side)
        run("ip", "link", "set", lan_side, "netns", self.lan)
        run("ip", "-n", self.lan, "link", "set", lan_side, "master", "br0", "up")
        run("ip", "addr", "add", f"{self.uplink}/24", "dev", machine_side)
        run("ip", "link", "set", machine_side, "up")

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_nat(self, subnet: str, *, symmetric: bool = False) -> Nat:
        """A home router: its WAN on the lab's LAN (the "internet", ``<lab subnet>.20x``), a
        private LAN ``<subnet>.0/24`` behind it (the router is ``.1``; ``add_host(behind=)``),
        masquerading what leaves by the WAN as Linux does by default (keeping source ports
        when it can; ``symmetric``: a random port per connection, as carrier-grade NATs do), and
        dropping what arrives unasked on the WAN, as every home router's firewall does."""
        index = len(self.nats) + 1
        nat = Nat(f"{self.tag}n{index}", f"{self.subnet}.{200 + index}", subnet)
        wan, wan_peer = f"{self.tag}w{index}", f"{self.tag}x{index}"
        run("ip", "netns", "add", nat.netns)
        self.nats.append(nat)
        run("ip", "link", "add", wan, "type", "veth", "peer", "name", wan_peer)
        run("ip", "link", "set", wan, "netns", nat.netns)
        run("ip", "link", "set", wan_peer, "netns", self.lan)
        run("ip", "-n", self.lan, "link", "set", wan_peer, "master", "br0", "up")
        run("ip", "-n", nat.netns, "link", "set", "lo", "up")
        run("ip", "-n", nat.netns, "addr", "add", f"{nat.wan_ip}/24", "dev", wan)
        run("ip", "-n", nat.netns, "link", "set", wan, "up")
        run("ip", "-n", nat.netns, "link", "add", "br1", "type", "bridge")
        run("ip", "-n", nat.netns, "addr", "add", f"{nat.gateway}/24", "dev", "br1")
        run("ip", "-n", nat.netns, "link", "set", "br1", "up")
        run("ip", "netns", "exec", nat.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        rules = self.dir / f"nat-{index}.nft"
        rules.write_text(NAT_RULES.format(wan=wan, random=" random" if symmetric else ""))
        run("ip", "netns", "exec", nat.netns, "nft", "-f", str(rules))
        return nat

    def add_host(self, name: str, *, behind: Nat | None = None) -> Host:
        index = len(self.hosts) + 1
        netns = f"{self.tag}h{index}"
        outside, inside = f"{self.tag}a{index}", f"{self.tag}b{index}"
        lan_ip = behind.next_address() if behind else f"{self.subnet}.{index}"
        bridge_ns, bridge = (behind.netns, "br1") if behind else (self.lan, "br0")
        run("ip", "netns", "add", netns)
        run("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
        run("ip", "link", "set", inside, "netns", netns)
        run("ip", "link", "set", outside, "netns", bridge_ns)
        run("ip", "-n", bridge_ns, "link", "set", outside, "master", bridge, "up")
        run("ip", "-n", netns, "link", "set", "lo", "up")
        run("ip", "-n", netns, "addr", "add", f"{lan_ip}/24", "dev", inside)
        run("ip", "-n", netns, "link", "set", inside, "up")
        if behind:
            run("ip", "-n", netns, "route", "add", "default", "via", behind.gateway, "dev", inside)
        elif self.gateway:
            neigh = ("neigh", "add", self.gateway, "lladdr", self.GATEWAY_MAC, "dev", inside)
            run("ip", "-n", netns, *neigh, "nud", "permanent")
            run("ip", "-n", netns, "route", "add", "default", "via", self.gateway, "dev", inside)
        elif self.uplink:
            run("ip", "-n", netns, "route", "add", "default", "via", self.uplink, "dev", inside)
        data = self.dir / f"data-{name}"
        data.mkdir()
        run_dir = self.dir / f"run-{name}"
        run_dir.mkdir()
        host = Host(self, name, netns, lan_ip, data, run_dir)
        if self.resolv_file is not None:  # each host its own, as each container has
            host.resolv_file = self.dir / f"resolv-{name}.conf"
            shutil.copyfile(self.resolv_file, host.resolv_file)
        self.hosts.append(host)
        with self.hosts_file.open("a") as out:
            out.write(f"{lan_ip} {name}\n")
        return host

    def logs(self) -> str:
        """The tail of every process's log, host by host: what a failed wait shows."""
        return "\n".join(host.logs() for host in self.hosts)

    def etc_binds(self, host: Host) -> list[str]:
        """Shell lines that bind the lab's /etc/hosts and the host's own resolv.conf (when the
        lab has a nameserver) in a mount namespace."""
        lines = [f"mount --bind {shlex.quote(str(self.hosts_file))} /etc/hosts"]
        if host.resolv_file is not None:
            resolv = shlex.quote(str(host.resolv_file))
            lines.append(f"mount --bind {resolv} /etc/resolv.conf || exit 97")
        return lines

    def close(self) -> None:
        for process in self.processes:
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            process.kill()
        for host in self.hosts:
            run("ip", "netns", "del", host.netns, check=False)
        for nat in self.nats:
            run("ip", "netns", "del", nat.netns, check=False)
        run("ip", "netns", "del", self.lan, check=False)
        if not os.environ.get("WEBMESH_KEEP_LAB"):
            shutil.rmtree(self.dir, ignore_errors=True)
