"""A real, ephemeral ``slapd`` per test module, filled with ``ldapadd``.

- ``start_slapd(memberof=False)`` starts one more instance (on a free port, in a temp dir) and
  returns a ``Slapd``; every instance started through it is stopped when the module ends.
- ``slapd``: the module's directory. A module sets ``SLAPD_MEMBEROF = True`` to load the memberof
  overlay (groups then appear in the users' ``memberOf`` attribute).

Without the ``slapd`` / ``ldapadd`` binaries the tests are skipped with a reason naming them,
unless ``CI`` is set: then they fail (CI must install ``slapd ldap-utils``).
Waits are bounded polls with a deadline; processes are stopped in ``finally``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ldap  # type: ignore[import-untyped]
import pytest

from webmesh.authn.ldap import LdapSettings

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=root,{SUFFIX}"
ROOT_PW = "root-secret"
SERVICE_DN = f"cn=webmesh,ou=services,{SUFFIX}"
SERVICE_PW = "service-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "twin": "twin-pw"}
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
START_TIMEOUT = 10.0


@dataclasses.dataclass
class Slapd:
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return (self.workdir / "slapd.log").read_text(errors="replace")[-3000:]


def _require_binaries() -> None:
    missing = [name for name in ("slapd", "slaptest", "ldapadd") if not _which(name)]
    if not missing:
        return
    reason = f"missing LDAP binaries: {', '.join(missing)} (apt-get install slapd ldap-utils)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this is a failure, not a skip")
    pytest.skip(reason)


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _config(workdir: Path, *, memberof: bool) -> str:
    lines = [f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS]
    lines += [
        f"pidfile {workdir}/slapd.pid",
        "modulepath /usr/lib/ldap",
        "moduleload back_mdb",
        *(["moduleload memberof"] if memberof else []),
        "database mdb",
        f'suffix "{SUFFIX}"',
        f'rootdn "{ROOT_DN}"',
        f"rootpw {ROOT_PW}",
        f"directory {workdir}/db",
        *(["overlay memberof"] if memberof else []),
        "access to attrs=userPassword by self write by anonymous auth by * none",
        "access to * by users read by * none",
    ]
    return "\n".join(lines) + "\n"


def _ldif() -> str:
    def person(uid: str, base: str) -> str:
        return (
            f"dn: uid={uid},{base}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\n"
            f"sn: {uid}\nuserPassword: {_ssha(PASSWORDS[uid])}\n"
        )

    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: example\no: example\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=contractors,{PEOPLE}\nobjectClass: organizationalUnit\nou: contractors\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n"
        f"cn: webmesh\nuserPassword: {_ssha(SERVICE_PW)}\n",
        person("alice", PEOPLE),
        person("bob", PEOPLE),
        person("twin", PEOPLE),
        person("twin", f"ou=contractors,{PEOPLE}"),
        f"dn: cn=admins,{GROUPS}\nobjectClass: groupOfNames\ncn: admins\n"
        f"member: uid=alice,{PEOPLE}\n",
        f"dn: cn=mesh-voters,{GROUPS}\nobjectClass: groupOfNames\ncn: mesh-voters\n"
        f"member: uid=alice,{PEOPLE}\nmember: uid=bob,{PEOPLE}\n",
        f"dn: cn=ops,{GROUPS}\nobjectClass: groupOfUniqueNames\ncn: ops\n"
        f"uniqueMember: uid=alice,{PEOPLE}\n",
        f"dn: cn=devs,{GROUPS}\nobjectClass: posixGroup\ncn: devs\ngidNumber: 5000\n"
        f"memberUid: alice\n",
    ]
    return "\n".join(entries)


def _answers(url: str) -> bool:
    conn = ldap.initialize(url)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 1.0)
    conn.set_option(ldap.OPT_TIMEOUT, 1.0)
    try:
        conn.simple_bind_s(ROOT_DN, ROOT_PW)
    except ldap.LDAPError:
        return False
    finally:
        with contextlib.suppress(ldap.LDAPError):
            conn.unbind_s()
    return True


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{what} failed ({result.returncode}): {result.stderr.strip()}")


def _start(workdir: Path, *, memberof: bool) -> Slapd:
    (workdir / "db").mkdir(parents=True)
    conf = workdir / "slapd.conf"
    conf.write_text(_config(workdir, memberof=memberof))
    _run([_which("slaptest") or "slaptest", "-f", str(conf), "-u"], "slaptest")
    url = f"ldap://127.0.0.1:{_free_port()}"
    with (workdir / "slapd.log").open("wb") as log:
        process = subprocess.Popen(
            [_which("slapd") or "slapd", "-f", str(conf), "-h", url, "-d", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Slapd(url, process, workdir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"slapd did not answer on {url}: {server.log()}")
            time.sleep(0.05)  # poll interval of a bounded wait
        ldif = workdir / "data.ldif"
        ldif.write_text(_ldif())
        _run(["ldapadd", "-x", "-H", url, "-D", ROOT_DN, "-w", ROOT_PW, "-f", str(ldif)], "ldapadd")
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def start_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Slapd]]:
    _require_binaries()
    servers: list[Slapd] = []

    def start(*, memberof: bool = False) -> Slapd:
        server = _start(tmp_path_factory.mktemp("slapd"), memberof=memberof)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def slapd(start_slapd: Callable[..., Slapd], request: pytest.FixtureRequest) -> Slapd:
    return start_slapd(memberof=getattr(request.module, "SLAPD_MEMBEROF", False))


@pytest.fixture
def settings(slapd: Slapd) -> LdapSettings:
    """Settings for the module's directory (users alice/alice-pw, bob/bob-pw, an ambiguous twin)."""
    return LdapSettings(
        server=slapd.url,
        bind_dn=SERVICE_DN,
        bind_password=SERVICE_PW,
        user_base_dn=PEOPLE,
        timeout=2.0,
    )
