"""A mesh in mTLS mode with RBAC, over loopback with real Raft and gRPC (fake WireGuard).

Certificates come from the mesh's own PKI (``wmctl pki``); a node with a certificate from the
mesh CA joins, one with a foreign certificate or none cannot, and RBAC decides mutations through
the leader and through a follower.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import bcrypt
import pytest

from integration.node.meshlab import Lab, Member
from support.wait import async_eventually
from webmesh import errors
from webmesh.api.v1 import admin_pb2
from webmesh.client import pki
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.client.security import ClientSecurity
from webmesh.mesh.objects import Kind

DENY_B_C = admin_pb2.NetworkACL(
    name="deny-b-c", priority=100, action="deny", source_nodes=["n2"], destination_nodes=["n3"]
)


def secure_flags(pki_dir: Path, name: str, *extra: str) -> tuple[str, ...]:
    return (
        "--global.insecure=false",
        f"--global.tls-cert-file={pki_dir / name}.crt",
        f"--global.tls-key-file={pki_dir / name}.key",
        f"--global.tls-ca-file={pki_dir / 'ca.crt'}",
        "--global.mtls",
        f"--tls.ca-file={pki_dir / 'ca.crt'}",
        *extra,
    )


def user_client(
    pki_dir: Path, member: Member, name: str, ca_dir: Path | None = None, server_name: str = ""
) -> MeshClient:
    security = ClientSecurity(
        insecure=False,
        ca_file=str(pki_dir / "ca.crt"),
        cert_file=str((ca_dir or pki_dir) / f"{name}.crt"),
        key_file=str((ca_dir or pki_dir) / f"{name}.key"),
        server_name=server_name,
    )
    return MeshClient(member.api, ClientOptions(security=security, timeout=5))


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    pki.init_ca(directory)
    for node in ("n1", "n2", "n3", "n4"):
        pki.issue(directory, node, ca_dir=directory, kind="node", sans=["127.0.0.1"])
    for user in ("admin", "alice"):
        pki.issue(directory, user, ca_dir=directory, kind="user")
    foreign = tmp_path / "foreign"
    pki.init_ca(foreign, name="someone-else")
    pki.issue(foreign, "rogue", ca_dir=foreign, kind="node", sans=["127.0.0.1"])
    return directory


async def test_mtls_mesh_admits_its_own_and_rbac_decides(lab: Lab, pki_dir: Path) -> None:
    n1 = await lab.start("n1", extra=secure_flags(pki_dir, "n1", "--bootstrap.voters=n2"))
    n2 = await lab.start("n2", join=n1, voter=True, extra=secure_flags(pki_dir, "n2"))
    n3 = await lab.start("n3", join=n1, extra=secure_flags(pki_dir, "n3"))
    async with user_client(pki_dir, n2, "admin") as admin:
        listed = await async_eventually(
            lambda: _ids(admin), timeout=10, what="three nodes through the follower"
        )
    assert listed == {"n1", "n2", "n3"}

    # a node that is not in the voters group may join, but not as a voter
    with pytest.raises(errors.PermissionDenied, match="votes"):
        await lab.start(
            "n4",
            join=n1,
            voter=True,
            extra=secure_flags(pki_dir, "n4", "--mesh.max-join-retries=0"),
        )

    # RBAC: alice has no role; removing another node needs delete on nodes
    for member in (n1, n2):  # the leader, and a follower that forwards with alice's identity
        async with user_client(pki_dir, member, "alice") as alice:
            with pytest.raises(errors.PermissionDenied, match="alice"):
                await alice.leave("n3")
            with pytest.raises(errors.PermissionDenied, match="put networkacls"):
                await alice.put_object(Kind.NETWORKACL, DENY_B_C)
            assert "n3" in await _ids(alice)  # reads need no role
    async with user_client(pki_dir, n2, "admin") as admin:  # through the follower
        await admin.put_object(Kind.NETWORKACL, DENY_B_C)

        async def acl_names() -> list[str] | None:  # follower reads trail the commit briefly
            names = [a.name for a in await admin.list_objects(Kind.NETWORKACL)]
            return names or None

        listed_acls = await async_eventually(acl_names, timeout=10, what="the ACL on the follower")
        assert listed_acls == ["deny-b-c"]
        await admin.leave("n3")
        await async_eventually(lambda: _gone(admin, "n3"), timeout=10, what="n3 removed")
    del n3


async def test_foreign_or_missing_certificates_cannot_join(lab: Lab, pki_dir: Path) -> None:
    n1 = await lab.start("n1", extra=secure_flags(pki_dir, "n1"))
    foreign = pki_dir.parent / "foreign"
    async with user_client(pki_dir, n1, "rogue", ca_dir=foreign) as rogue:
        with pytest.raises(errors.Unavailable):
            await rogue.list_nodes()
    no_cert = ClientSecurity(insecure=False, ca_file=str(pki_dir / "ca.crt"))
    async with MeshClient(n1.api, ClientOptions(security=no_cert, timeout=5)) as anonymous:
        with pytest.raises(errors.Unavailable):
            await anonymous.list_nodes()
    flags = (
        "--global.insecure=false",
        f"--global.tls-cert-file={foreign / 'rogue.crt'}",
        f"--global.tls-key-file={foreign / 'rogue.key'}",
        f"--global.tls-ca-file={foreign / 'ca.crt'}",
        "--global.mtls",
        f"--tls.ca-file={pki_dir / 'ca.crt'}",
        "--mesh.max-join-retries=0",
    )
    with pytest.raises(errors.Unavailable):
        await lab.start("rogue", join=n1, extra=flags)
    async with user_client(pki_dir, n1, "admin") as admin:
        assert await _ids(admin) == {"n1"}


async def test_a_secure_node_without_certificates_refuses_to_start(lab: Lab) -> None:
    with pytest.raises(errors.InvalidArgument, match=r"--global\.tls-cert-file"):
        await lab.start("n1", extra=("--global.insecure=false",))


async def _ids(client: MeshClient) -> set[str]:
    return {n.id for n in await client.list_nodes()}


async def _gone(client: MeshClient, node_id: str) -> bool:
    return node_id not in await _ids(client)


def tls_only_flags(pki_dir: Path, name: str, *extra: str) -> tuple[str, ...]:
    """Server TLS without client certificates: callers authenticate with passwords."""
    return (
        "--global.insecure=false",
        f"--global.tls-cert-file={pki_dir / name}.crt",
        f"--global.tls-key-file={pki_dir / name}.key",
        f"--tls.ca-file={pki_dir / 'ca.crt'}",
        *extra,
    )


async def test_basic_auth_right_password_joins_wrong_one_does_not(
    lab: Lab, pki_dir: Path, tmp_path: Path
) -> None:
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"n2-pw", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"n2:{hashed}\nadmin:{{SHA}}{_sha('admin-pw')}\n")
    plugin = f"--plugins.basic-auth.htpasswd-file={htpasswd}"
    n1 = await lab.start("n1", extra=tls_only_flags(pki_dir, "n1", plugin))
    retries = "--mesh.max-join-retries=0"
    for user, password, error in (("n2", "wrong", "invalid"), ("nobody", "x", "invalid")):
        creds = (
            f"--auth.basic.username={user}",
            f"--auth.basic.password={password}",
            retries,
            plugin,
        )
        with pytest.raises(errors.Unauthenticated, match=error):
            await lab.start(user, join=n1, extra=tls_only_flags(pki_dir, "n2", *creds))
    creds = ("--auth.basic.username=n2", "--auth.basic.password=n2-pw", retries, plugin)
    # The right password, but a user may keep a replica only once bound to the replicas role.
    with pytest.raises(errors.PermissionDenied, match="put replicas/n2"):
        await lab.start("n2", join=n1, extra=tls_only_flags(pki_dir, "n2", *creds))
    admin = ClientSecurity(
        insecure=False, ca_file=str(pki_dir / "ca.crt"), basic=("admin", "admin-pw")
    )
    async with MeshClient(n1.api, ClientOptions(security=admin, timeout=5)) as client:
        replicas = admin_pb2.RoleBinding(
            name="replicas",
            role="replicas",
            subjects=[
                admin_pb2.Subject(kind="node", name="*"),
                admin_pb2.Subject(kind="user", name="n2"),
            ],
        )
        await client.put_object(Kind.ROLEBINDING, replicas)
    await lab.start("n2", join=n1, extra=tls_only_flags(pki_dir, "n2", *creds))
    async with MeshClient(n1.api, ClientOptions(security=admin, timeout=5)) as client:
        assert await _ids(client) == {"n1", "n2"}


def _sha(password: str) -> str:
    return base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


async def test_join_through_an_address_the_certificate_does_not_name(
    lab: Lab, pki_dir: Path
) -> None:
    """A join server behind a load balancer or node port: its certificate names the Service
    (here server.example) and its node id, not the address dialled (127.0.0.1).
    --tls.server-name makes the join verify; without it the join is a TLS failure."""
    pki.issue(pki_dir, "n1", ca_dir=pki_dir, kind="node", sans=["server.example"], force=True)
    n1 = await lab.start("n1", extra=secure_flags(pki_dir, "n1"))
    retries = "--mesh.max-join-retries=0"
    with pytest.raises(errors.Unavailable, match=r"--tls\.server-name"):
        await lab.start("n3", join=n1, extra=secure_flags(pki_dir, "n3", retries))
    named = secure_flags(pki_dir, "n2", retries, "--tls.server-name=server.example")
    await lab.start("n2", join=n1, extra=named)
    async with user_client(pki_dir, n1, "admin", server_name="server.example") as admin:
        assert await _ids(admin) == {"n1", "n2"}
