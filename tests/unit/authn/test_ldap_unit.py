"""LdapAuthenticator without a directory: settings validation, DN parsing, unreachable servers.

A listener that accepts TCP but never answers stands for a hung directory: the login must fail
with Unavailable within the configured timeout, never hang and never succeed.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import time
from collections.abc import Iterator

import pytest

from webmesh import errors
from webmesh.authn import ldap as wm_ldap
from webmesh.authn.ldap import LdapAuthenticator, LdapSettings
from webmesh.authn.types import Credentials

CREDS = Credentials(ldap_username="alice", ldap_password="s3cret-pw")


def _settings(server: str, **overrides: object) -> LdapSettings:
    values: dict[str, object] = {
        "server": server,
        "bind_dn": "cn=svc,dc=example,dc=org",
        "bind_password": "svc-pw",
        "user_base_dn": "ou=people,dc=example,dc=org",
        "timeout": 0.5,
    }
    values.update(overrides)
    return LdapSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def silent_listener() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # the kernel completes handshakes; nobody ever reads or answers
        yield sock.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_hung_directory_is_unavailable_within_the_timeout(silent_listener: int) -> None:
    url = f"ldap://127.0.0.1:{silent_listener}"
    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as info:
        await LdapAuthenticator(_settings(url)).authenticate(CREDS)
    assert time.monotonic() - started < 2.0
    assert url in str(info.value)
    assert "s3cret-pw" not in str(info.value) and "svc-pw" not in str(info.value)


async def test_refused_connection_is_unavailable(closed_port: int) -> None:
    url = f"ldap://127.0.0.1:{closed_port}"
    with pytest.raises(errors.Unavailable, match=f"LDAP server {url} unreachable"):
        await LdapAuthenticator(_settings(url)).authenticate(CREDS)


async def test_ldaps_to_a_silent_listener_is_unavailable(silent_listener: int) -> None:
    url = f"ldaps://127.0.0.1:{silent_listener}"
    with pytest.raises(errors.Unavailable, match=f"LDAP server {url}"):
        await LdapAuthenticator(_settings(url)).authenticate(CREDS)


async def test_missing_ca_file_is_unavailable_and_named(silent_listener: int) -> None:
    url = f"ldaps://127.0.0.1:{silent_listener}"
    settings = _settings(url, ca_file="/nonexistent/ca.pem")
    with pytest.raises(errors.Unavailable, match=re.escape("CA file '/nonexistent/ca.pem'")):
        await LdapAuthenticator(settings).authenticate(CREDS)


async def test_no_ldap_credentials_is_none() -> None:
    auth = LdapAuthenticator(_settings("ldap://127.0.0.1:1"))
    assert await auth.authenticate(Credentials(basic_username="alice")) is None
    with pytest.raises(errors.Unauthenticated, match="empty password"):
        await auth.authenticate(Credentials(ldap_username="alice"))


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"server": "http://x"}, "ldap:// or ldaps://"),
        ({"user_id_attribute": "uid)(x=*"}, "user-id-attribute"),
        ({"group_attribute": ""}, "group-attribute"),
        ({"user_base_dn": "not a dn"}, "user-base-dn"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_settings_validation(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(errors.InvalidArgument, match=match):
        dataclasses.replace(_settings("ldap://127.0.0.1:389"), **overrides)  # type: ignore[arg-type]


def test_settings_repr_hides_the_bind_password() -> None:
    assert "svc-pw" not in repr(_settings("ldap://127.0.0.1:389"))


def test_group_names_and_suffix() -> None:
    values = ["cn=admins,ou=groups,dc=example,dc=org", "CN=Ops Team,OU=G,DC=corp", "plain-name"]
    assert wm_ldap._group_names(values) == ["admins", "Ops Team", "plain-name"]
    assert wm_ldap._suffix("ou=people,dc=example,dc=org") == "dc=example,dc=org"
    assert wm_ldap._suffix("ou=people,o=corp") == "ou=people,o=corp"
