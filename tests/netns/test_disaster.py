"""The disaster drill of issue 18, with real processes, WireGuard and Raft in namespaces.

A mesh of three voters and two other nodes, with RBAC, ACL and route objects, writes scheduled,
encrypted backups (to a directory, and to an S3-compatible server started by the test). Then
every server is killed and its data deleted. A corrupted backup is refused; a new server
restored from the newest backup comes up; the surviving nodes notice that the servers serve a
restored mesh and join it on their own; every pair pings again, with the same addresses.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from support import s3server
from support.netlab import QUICKSTART_FLAGS, Host, Lab
from support.wait import eventually
from webmesh.backup import seal, store
from webmesh.mesh import snapshotfile
from webmesh.mesh.objects import Kind

pytestmark = pytest.mark.netns

FLAGS = QUICKSTART_FLAGS
SURVIVORS = ("node-4", "node-5")


def wmctl_json(host: Host, *args: str) -> object:
    out = host.wmctl("--insecure", *args, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def node_ids(host: Host) -> set[str]:
    nodes = wmctl_json(host, "get", "nodes")
    return {n["id"] for n in nodes} if isinstance(nodes, list) else set()


def policy_objects(host: Host) -> set[str]:
    found = set()
    for kind in ("roles", "rolebindings", "networkacls", "routes"):
        items = wmctl_json(host, "get", kind)
        found |= {f"{kind}/{o['name']}" for o in items} if isinstance(items, list) else set()
    return found


POLICY = {"roles/drill-reader", "rolebindings/drill-readers", "networkacls/drill-allow",
          "routes/drill-lan"}  # fmt: skip


def put_policy(host: Host) -> None:
    host.wmctl("--insecure", "put", "roles", "drill-reader", "--verb", "get",
               "--resource", "nodes")  # fmt: skip
    host.wmctl("--insecure", "put", "rolebindings", "drill-readers", "--role", "drill-reader",
               "--node", "node-4")  # fmt: skip
    host.wmctl("--insecure", "put", "networkacls", "drill-allow", "--priority", "10",
               "--src-node", "*", "--dst-node", "*", "--accept")  # fmt: skip
    host.wmctl("--insecure", "put", "routes", "drill-lan", "--node", "node-5",
               "--cidr", "192.168.77.0/24")  # fmt: skip


def newest_holds_policy(directory: Path, key: bytes) -> bool:
    names = store.DirectoryStore(directory).names()
    if not names:
        return False
    _, state = snapshotfile.decode(seal.open_sealed(key, (directory / names[-1]).read_bytes()))
    return len(state.nodes) == 5 and state.objects.get(Kind.ROUTE, "drill-lan") is not None


def wipe(host: Host) -> None:
    """Kill the host's node and delete everything it kept: data dir and /run/wireguard."""
    for process in host.processes:
        process.kill()
    for directory in (host.data, host.run_dir):
        shutil.rmtree(directory)
        directory.mkdir()


def build_mesh(lab: Lab, backup_flags: tuple[str, ...], env: Mapping[str, str]) -> list[Host]:
    servers = [lab.add_host(f"server-{i}") for i in (1, 2, 3)]
    servers[0].spawn("webmesh-node", *FLAGS, "--bootstrap.enabled", *backup_flags, name="node",
                     env=env)  # fmt: skip
    servers[0].wait_port(8443)
    for host in servers[1:]:
        host.spawn("webmesh-node", *FLAGS, "--mesh.join-address=server-1:8443",
                   "--mesh.join-as-voter", *backup_flags, name="node", env=env)  # fmt: skip
        host.wait_port(8443)
    survivors = [lab.add_host(name) for name in SURVIVORS]
    for host in survivors:
        host.node(*FLAGS, "--mesh.join-address=server-1:8443")
    everyone = {h.name for h in (*servers, *survivors)}
    eventually(lambda: node_ids(servers[0]) == everyone, timeout=40,
               what=lambda: f"five nodes\n{lab.logs()}")  # fmt: skip
    put_policy(servers[0])
    return [*servers, *survivors]


def addresses(hosts: list[Host]) -> dict[str, str]:
    return {h.name: h.wait_mesh_ip() for h in hosts}


def every_pair_pings(hosts: list[Host], ips: Mapping[str, str], lab: Lab) -> None:
    for a in hosts:
        for b in hosts:
            if a is not b:
                eventually(lambda a=a, b=b: a.ping(ips[b.name]), timeout=30,
                           what=lambda a=a, b=b: f"{a.name} -> {b.name}\n{lab.logs()}")  # fmt: skip


def restore_and_rejoin(
    lab: Lab, hosts: list[Host], ips: dict[str, str], restore_flags: tuple[str, ...],
    env: Mapping[str, str],
) -> None:  # fmt: skip
    server, survivors = hosts[0], hosts[3:]
    server.spawn("webmesh-node", *FLAGS, "--bootstrap.enabled", *restore_flags, name="node",
                 env=env)  # fmt: skip
    server.wait_port(8443)
    assert server.wait_mesh_ip() == ips[server.name]  # its old address, from the backup
    for host in survivors:  # they notice the restored mesh and join it on their own
        host.processes[-1].wait_line("joining the restored mesh", timeout=60)
    living = [server, *survivors]
    eventually(lambda: all(h.mesh_ip() == ips[h.name] for h in living), timeout=60,
               what=lambda: f"the same addresses\n{lab.logs()}")  # fmt: skip
    every_pair_pings(living, ips, lab)
    assert node_ids(server) == set(ips)  # every record came back, the lost servers' too
    assert policy_objects(server) >= POLICY
    for host in survivors:
        assert node_ids(host) == set(ips)  # they replicate the restored mesh


def backups_written(hosts: list[Host]) -> int:
    return sum(
        p.log.read_text(errors="replace").count("backup written")
        for h in hosts
        for p in h.processes
    )


S3_ENV = {"AWS_ACCESS_KEY_ID": "drill", "AWS_SECRET_ACCESS_KEY": "drill-secret",
          "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip


def start_s3(lab: Lab) -> str:
    """moto_server on a host of the lab's LAN, with an empty bucket "backups"; its URL."""
    host = lab.add_host("store")
    host.spawn(*s3server.moto_command(host.lan_ip, 9000), name="s3")
    url = s3server.endpoint_url("store", 9000)
    make_bucket = (
        "import sys; sys.path.insert(0, sys.argv[1]); from support import s3server; "
        "s3server.create_bucket(sys.argv[2], 'backups')"
    )
    tests = str(Path(__file__).parents[1])
    eventually(
        lambda: host.contained(sys.executable, "-c", make_bucket, tests, url,
                               check=False).returncode == 0,
        timeout=30,
        what=lambda: f"the S3 server and its bucket\n{lab.logs()}",
    )  # fmt: skip
    return url


def test_a_mesh_restored_from_an_s3_backup_reconnects_its_survivors(tmp_path: Path) -> None:
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    with Lab() as lab:
        endpoint = start_s3(lab)
        backup_flags = ("--backup.url=s3://backups/mesh", f"--backup.s3-endpoint={endpoint}",
                        "--backup.interval=1s", "--backup.retain=3",
                        f"--backup.key-file={key_file}")  # fmt: skip
        hosts = build_mesh(lab, backup_flags, S3_ENV)
        ips = addresses(hosts)
        written = backups_written(hosts)
        eventually(lambda: backups_written(hosts) >= written + 2, timeout=30,
                   what=lambda: f"two backups with the policy in\n{lab.logs()}")  # fmt: skip
        for host in hosts[:3]:
            wipe(host)
        # the restored mesh writes to another prefix: the drill restores what was there
        restore_flags = ("--bootstrap.restore-from=s3://backups/mesh",
                         *(f.replace("s3://backups/mesh", "s3://backups/restored")
                           for f in backup_flags))  # fmt: skip
        restore_and_rejoin(lab, hosts, ips, restore_flags, S3_ENV)


def test_a_mesh_restored_from_a_directory_backup_reconnects_its_survivors(tmp_path: Path) -> None:
    key_file = tmp_path / "backup.key"
    key_file.write_text(seal.new_key())
    key = seal.read_key(key_file)
    backups = tmp_path / "backups"
    backup_flags = (f"--backup.url={backups}", "--backup.interval=1s", "--backup.retain=3",
                    f"--backup.key-file={key_file}")  # fmt: skip
    with Lab() as lab:
        hosts = build_mesh(lab, backup_flags, {})
        ips = addresses(hosts)
        eventually(lambda: newest_holds_policy(backups, key), timeout=30,
                   what=lambda: f"a backup of the whole mesh\n{lab.logs()}")  # fmt: skip
        for host in hosts[:3]:
            wipe(host)
        newest = backups / store.DirectoryStore(backups).names()[-1]

        # a corrupted backup is refused, saying so, and starts nothing
        corrupt = tmp_path / "corrupt"
        corrupt.mkdir()
        data = bytearray(newest.read_bytes())
        data[len(data) // 2] ^= 0x01
        (corrupt / newest.name).write_bytes(bytes(data))
        refused = hosts[0].node(*FLAGS, "--bootstrap.enabled",
                                f"--bootstrap.restore-from={corrupt}",
                                f"--backup.key-file={key_file}")  # fmt: skip
        assert refused.popen.wait(30) != 0
        assert "does not open with this key: it was changed" in refused.log.read_text()
        assert not (hosts[0].data / "store" / "raft").exists()  # no mesh was started

        # copy the backups elsewhere: the restored mesh writes its own into the same directory
        kept = tmp_path / "kept"
        shutil.copytree(backups, kept)
        restore_and_rejoin(lab, hosts, ips, (f"--bootstrap.restore-from={kept}", *backup_flags), {})
