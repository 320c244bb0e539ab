"""LdapAuthenticator against a real slapd WITHOUT the memberof overlay: groups come from searching
groupOfNames / groupOfUniqueNames / posixGroup entries that name the user."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest

from webmesh import errors
from webmesh.authn.ldap import LdapAuthenticator, LdapSettings
from webmesh.authn.types import Chain, Credentials


def _creds(username: str, password: str) -> Credentials:
    return Credentials(ldap_username=username, ldap_password=password)


async def test_right_password_gives_the_user_and_all_their_groups(settings: LdapSettings) -> None:
    identity = await LdapAuthenticator(settings).authenticate(_creds("alice", "alice-pw"))
    assert identity is not None
    assert identity.name == "alice"
    assert identity.kind == "user"
    assert identity.method == "ldap"
    assert identity.groups == ("admins", "devs", "mesh-voters", "ops")


async def test_user_in_one_group(settings: LdapSettings) -> None:
    identity = await LdapAuthenticator(settings).authenticate(_creds("bob", "bob-pw"))
    assert identity is not None
    assert identity.groups == ("mesh-voters",)


async def test_group_search_can_be_disabled(settings: LdapSettings) -> None:
    quiet = dataclasses.replace(settings, group_search=False)
    identity = await LdapAuthenticator(quiet).authenticate(_creds("alice", "alice-pw"))
    assert identity is not None
    assert identity.groups == ()  # no memberOf without the overlay


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),  # wrong password
        ("alice", "bob-pw"),  # someone else's password
        ("mallory", "alice-pw"),  # unknown user
        ("twin", "twin-pw"),  # two entries match: refused, never "the first one"
        ("al*", "alice-pw"),  # a wildcard would match alice alone if it were not escaped
        ("*)(uid=*", "alice-pw"),  # filter injection
        ("*", "alice-pw"),
        ("alice)(|(objectClass=*", "alice-pw"),
    ],
)
async def test_refused_with_one_message(
    settings: LdapSettings, username: str, password: str
) -> None:
    with pytest.raises(errors.Unauthenticated) as info:
        await LdapAuthenticator(settings).authenticate(_creds(username, password))
    assert str(info.value) == "invalid LDAP username or password"
    assert password not in str(info.value)


async def test_empty_password_is_not_an_anonymous_bind(settings: LdapSettings) -> None:
    with pytest.raises(errors.Unauthenticated, match="empty password"):
        await LdapAuthenticator(settings).authenticate(_creds("alice", ""))


async def test_no_ldap_credentials_lets_the_chain_go_on(settings: LdapSettings) -> None:
    assert await LdapAuthenticator(settings).authenticate(Credentials(basic_username="x")) is None
    identity = await Chain([LdapAuthenticator(settings)]).authenticate(_creds("bob", "bob-pw"))
    assert identity.name == "bob"


async def test_wrong_service_account_is_unavailable_not_a_login(settings: LdapSettings) -> None:
    broken = dataclasses.replace(settings, bind_password="not-it")
    with pytest.raises(errors.Unavailable, match="refused the service account") as info:
        await LdapAuthenticator(broken).authenticate(_creds("alice", "alice-pw"))
    assert "not-it" not in str(info.value)
    assert "alice-pw" not in str(info.value)


async def test_missing_user_base_is_unavailable(settings: LdapSettings) -> None:
    wrong = dataclasses.replace(settings, user_base_dn="ou=nobody,dc=example,dc=org")
    with pytest.raises(errors.Unavailable, match="does not exist"):
        await LdapAuthenticator(wrong).authenticate(_creds("alice", "alice-pw"))


async def test_stopped_directory_is_unavailable_fast(start_slapd: Callable[..., Any]) -> None:
    server = start_slapd()
    own = LdapSettings(
        server=server.url,
        bind_dn="cn=webmesh,ou=services,dc=example,dc=org",
        bind_password="service-secret",
        user_base_dn="ou=people,dc=example,dc=org",
        timeout=2.0,
    )
    authenticator = LdapAuthenticator(own)
    assert await authenticator.authenticate(_creds("alice", "alice-pw")) is not None
    server.stop()
    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as info:
        await authenticator.authenticate(_creds("alice", "alice-pw"))
    assert time.monotonic() - started < 3.0
    message = str(info.value)
    assert message.startswith(f"LDAP server {server.url} unreachable")
    assert "alice-pw" not in message
