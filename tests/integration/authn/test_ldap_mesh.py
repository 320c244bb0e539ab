"""LDAP end to end: a mesh whose API authenticates against a real slapd. The right password
joins, a wrong one or an unknown user is refused, a directory that is down is UNAVAILABLE, and
LDAP groups drive RBAC (a binding to group ``admins`` lets alice, not bob, change ACLs)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from integration.authn.conftest import PEOPLE, SERVICE_DN, SERVICE_PW, Slapd
from integration.node.meshlab import Lab, free_port
from webmesh import errors
from webmesh.api.v1 import admin_pb2
from webmesh.client import pki
from webmesh.client.mesh_client import ClientOptions, MeshClient
from webmesh.client.security import ClientSecurity
from webmesh.mesh.objects import Kind


def flags(pki_dir: Path, server: str, htpasswd: Path, *extra: str) -> tuple[str, ...]:
    return (
        "--global.insecure=false",
        f"--global.tls-cert-file={pki_dir / 'node'}.crt",
        f"--global.tls-key-file={pki_dir / 'node'}.key",
        f"--tls.ca-file={pki_dir / 'ca.crt'}",
        f"--plugins.basic-auth.htpasswd-file={htpasswd}",
        f"--plugins.ldap.server={server}",
        f"--plugins.ldap.bind-dn={SERVICE_DN}",
        f"--plugins.ldap.bind-password={SERVICE_PW}",
        f"--plugins.ldap.user-base-dn={PEOPLE}",
        "--bootstrap.admin=root",
        "--mesh.max-join-retries=0",
        *extra,
    )


def client(api: str, pki_dir: Path, **creds: tuple[str, str]) -> MeshClient:
    security = ClientSecurity(insecure=False, ca_file=str(pki_dir / "ca.crt"), **creds)
    return MeshClient(api, ClientOptions(security=security, timeout=10))


def deny(name: str) -> admin_pb2.NetworkACL:
    return admin_pb2.NetworkACL(
        name=name, priority=1, action="deny", source_nodes=["x"], destination_nodes=["y"]
    )


async def test_ldap_logins_and_groups_drive_rbac(lab: Lab, slapd: Slapd, tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    pki.init_ca(pki_dir)
    pki.issue(pki_dir, "node", ca_dir=pki_dir, kind="server", sans=["127.0.0.1"])
    htpasswd = tmp_path / "htpasswd"
    sha = base64.b64encode(hashlib.sha1(b"root-pw").digest()).decode()
    htpasswd.write_text(f"root:{{SHA}}{sha}\n")
    n1 = await lab.start("n1", extra=flags(pki_dir, slapd.url, htpasswd))

    # joining: the LDAP user name is the node id
    for user, password in (("alice", "wrong"), ("nobody", "x")):
        creds = (f"--auth.ldap.username={user}", f"--auth.ldap.password={password}")
        with pytest.raises(errors.Unauthenticated):
            await lab.start(user, join=n1, extra=flags(pki_dir, slapd.url, htpasswd, *creds))
    # keeping a replica needs "put replicas": by default only nodes (node certificates) have it
    creds = ("--auth.ldap.username=alice", "--auth.ldap.password=alice-pw")
    with pytest.raises(errors.PermissionDenied, match="put replicas/alice"):
        await lab.start("alice", join=n1, extra=flags(pki_dir, slapd.url, htpasswd, *creds))

    # RBAC from LDAP groups: root (Basic, the bootstrap admin) binds mesh-admin and the replicas
    # role to group admins
    async with client(n1.api, pki_dir, basic=("root", "root-pw")) as root:
        for name, role in (("ldap-admins", "mesh-admin"), ("replicas", "replicas")):
            binding = admin_pb2.RoleBinding(
                name=name,
                role=role,
                subjects=[admin_pb2.Subject(kind="group", name="admins")],
            )
            await root.put_object(Kind.ROLEBINDING, binding)
    await lab.start("alice", join=n1, extra=flags(pki_dir, slapd.url, htpasswd, *creds))
    async with client(n1.api, pki_dir, ldap=("bob", "bob-pw")) as bob:
        with pytest.raises(errors.PermissionDenied, match="bob"):
            await bob.put_object(Kind.NETWORKACL, deny("by-bob"), allow_missing_nodes=True)
    async with client(n1.api, pki_dir, ldap=("alice", "alice-pw")) as alice:
        await alice.put_object(Kind.NETWORKACL, deny("by-alice"), allow_missing_nodes=True)
        assert [a.name for a in await alice.list_objects(Kind.NETWORKACL)] == ["by-alice"]
        assert {n.id for n in await alice.list_nodes()} == {"n1", "alice"}


async def test_a_directory_that_is_down_is_unavailable(lab: Lab, tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    pki.init_ca(pki_dir)
    pki.issue(pki_dir, "node", ca_dir=pki_dir, kind="server", sans=["127.0.0.1"])
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("")
    nowhere = f"ldap://127.0.0.1:{free_port()}"
    n1 = await lab.start("n1", extra=flags(pki_dir, nowhere, htpasswd))
    async with client(n1.api, pki_dir, ldap=("alice", "alice-pw")) as alice:
        with pytest.raises(errors.Unavailable, match="LDAP"):
            await alice.list_nodes()
