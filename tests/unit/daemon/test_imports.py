"""What a running node loads: no LDAP client, YAML parser, boto3, aiohttp or operator unless they
are used.

Each check runs in a fresh interpreter (the test process has imported everything already). It
imports the modules of a running node, reads the settings the quick start's joiner uses (flags
only, no LDAP, no config file), builds its authenticators and opens a driver, then looks at
``sys.modules``. Memory itself is measured by ``bench/idle_node.py``, not here.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

# Loaded only when configured (LDAP, --config, mTLS), never by the node (the operator), or left
# out by the narrow imports of webmesh.wg.pyroute (the rest of pyroute2: NDB, IPDB, IPVS, ...)
# and webmesh.prometheus (prometheus_client's servers).
ABSENT = (
    "ldap",
    "webmesh.authn.ldap",
    "yaml",
    "kopf",
    "kubernetes",
    "webmesh_operator",
    "pyroute2.ndb",
    "pyroute2.ipdb",
    "pyroute2.ipvs",
    "pyroute2.ipset",
    "pyroute2.conntrack",
    "pyroute2.netlink.nl80211",
    "pyroute2.nftables",
    "pyroute2.devlink",
    "pyroute2.plan9",
    "sqlite3",
    # prometheus_client's __init__ (HTTP servers, WSGI, push gateway): webmesh.prometheus
    "http.server",
    "wsgiref",
    "email",
    "urllib.request",
    # unittest: its framework, and unittest.mock, which pyroute2 imports for a placeholder
    # (webmesh.wg.pyroute gives it a stand-in); difflib (a misspelt config key)
    "unittest.case",
    "unittest.loader",
    "unittest.mock",
    "difflib",
    # grpcio-reflection's servicer (and descriptor.proto): only once someone asks for
    # reflection (webmesh.api.reflection)
    "grpc_reflection.v1alpha._base",
    "grpc_reflection.v1alpha._async",
    # certificates are parsed only with mTLS or --tls.insecure-skip-verify
    "cryptography.x509",
    # dnspython: only on a node that serves or uses MeshDNS (webmesh.dns.hostresolver, stdlib
    # only, is there for every node: it puts back what a killed run left in resolv.conf)
    "dns",
    "webmesh.dns.answer",
    "webmesh.dns.forward",
    "webmesh.dns.server",
    "webmesh.daemon.meshdns",
    # backups: only on a node with --backup.url
    "webmesh.backup",
    "webmesh.service.backup",
    # boto3 (and what it brings): only on a node whose --backup.url is s3:// (webmesh.backup.s3)
    "boto3",
    "botocore",
    "s3transfer",
    # the web view: only on a node with --services.dashboard.enabled
    "aiohttp",
    "webmesh.web",
    "webmesh.mesh.view",
)

NODE = """
import asyncio, importlib, json, sys
for name in ("webmesh.daemon.main", "webmesh.daemon.node", "webmesh.wg.driver",
             "webmesh.wg.kernel", "webmesh.wg.userspace", "webmesh.wg.netlink",
             "webmesh.metrics", "webmesh.api.server"):
    importlib.import_module(name)
from webmesh.daemon import security
from webmesh.daemon.settings import load_settings
from webmesh.wg.driver import open_driver
settings = load_settings(sys.argv[1:], {}, hostname="node-b")
security.check(settings)
authenticators = [type(a).__name__ for a in security.authenticators(settings)]
asyncio.run(open_driver("fake").close())
print(json.dumps({"authenticators": authenticators, "modules": sorted(sys.modules)}))
"""


def node_modules(*argv: str, authenticators: list[str]) -> set[str]:
    """``sys.modules`` of a fresh interpreter that did what a node with flags ``argv`` does."""
    out = subprocess.run(
        [sys.executable, "-c", NODE, *argv], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["authenticators"] == authenticators
    return set(found["modules"])


def absent(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == a or m.startswith(f"{a}.") for a in ABSENT))


def test_an_insecure_joiner_loads_no_ldap_yaml_operator_or_unused_pyroute2() -> None:
    argv = ("--global.insecure", "--global.no-ipv6", "--mesh.join-address=bootstrap:8443")
    modules = node_modules(*argv, authenticators=[])
    assert "webmesh.wg.pyroute" in modules  # not vacuous: pyroute2 is in use, narrowly
    assert "pyroute2.iproute.linux" in modules
    assert absent(modules) == []
    # WireGuard keys need X25519 only, not every algorithm and bcrypt (serialization's ssh)
    assert "cryptography.hazmat.primitives.serialization" not in modules
    assert "bcrypt" not in modules


def test_a_node_with_basic_auth_loads_no_ldap(tmp_path: pathlib.Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("")
    argv = ("--global.insecure", f"--plugins.basic-auth.htpasswd-file={htpasswd}")
    modules = node_modules(*argv, authenticators=["HtpasswdAuthenticator"])
    assert "webmesh.authn.basic" in modules
    assert absent(modules) == []


STORE = """
import json, sys
from webmesh.backup.store import open_store
open_store(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize(("url", "loads_boto3"), [("/srv/backups", False), ("s3://b/mesh", True)])
def test_only_an_s3_backup_store_loads_boto3(url: str, loads_boto3: bool) -> None:
    out = subprocess.run(
        [sys.executable, "-c", STORE, url], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    modules = set(json.loads(out.stdout))
    boto = {"boto3", "botocore"}
    assert boto & modules == (boto if loads_boto3 else set())
