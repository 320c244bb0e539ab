"""The web view's gate: a browser's one login goes to htpasswd first, then to LDAP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiohttp import web

from webmesh import errors
from webmesh.authn.types import Chain, Credentials, Identity
from webmesh.mesh.state import MeshState
from webmesh.web.auth import Gate


class Htpasswd:
    async def authenticate(self, creds: Credentials) -> Identity | None:
        if not creds.basic_username:
            return None
        if (creds.basic_username, creds.basic_password) == ("local", "pw"):
            return Identity("local", "user", method="basic")
        raise errors.Unauthenticated("invalid basic auth username or password")


class Ldap:
    def __init__(self, *, down: bool = False) -> None:
        self.down = down

    async def authenticate(self, creds: Credentials) -> Identity | None:
        if not creds.ldap_username:
            return None
        if self.down:
            raise errors.Unavailable("LDAP server ldap://dir:389 cannot be reached")
        if (creds.ldap_username, creds.ldap_password) == ("directory", "pw"):
            return Identity("directory", "user", ("ops",), method="ldap")
        raise errors.Unauthenticated("invalid LDAP username or password")


class Request:
    """What the gate reads of a request: its headers, its peer and its (plain) transport."""

    def __init__(self, user: str, password: str) -> None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}
        self.remote = "192.0.2.1"
        self.transport = None


async def principal_of(authenticators: list[Any], user: str, password: str) -> Any:
    gate = Gate(Chain(authenticators), MeshState)
    return await gate.principal(Request(user, password))  # type: ignore[arg-type]


async def test_htpasswd_users_and_ldap_users_both_log_in() -> None:
    both = [Htpasswd(), Ldap()]
    local = await principal_of(both, "local", "pw")
    assert (local.name, local.method) == ("local", "basic")
    directory = await principal_of(both, "directory", "pw")
    assert (directory.name, directory.method, directory.groups) == ("directory", "ldap", ("ops",))


async def test_ldap_alone_takes_the_browsers_basic_login() -> None:
    found = await principal_of([Ldap()], "directory", "pw")
    assert found.name == "directory"


@pytest.mark.parametrize(("user", "password"), [("local", "bad"), ("directory", "bad"), ("x", "y")])
async def test_wrong_credentials_are_401_with_a_challenge(user: str, password: str) -> None:
    with pytest.raises(web.HTTPUnauthorized) as refused:
        await principal_of([Htpasswd(), Ldap()], user, password)
    assert refused.value.headers["WWW-Authenticate"].startswith('Basic realm="webmesh"')


async def test_an_unreachable_directory_is_503_not_a_wrong_password() -> None:
    with pytest.raises(web.HTTPServiceUnavailable):
        await principal_of([Ldap(down=True)], "directory", "pw")
