"""HtpasswdAuthenticator: bcrypt and {SHA} entries generated here, reload on change, refusals."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
from pathlib import Path

import bcrypt
import pytest

from webmesh import errors
from webmesh.authn import basic
from webmesh.authn.basic import HtpasswdAuthenticator
from webmesh.authn.types import Chain, Credentials


def _bcrypt(password: str, prefix: str = "$2b$") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return prefix + hashed[4:]


def _sha(password: str) -> str:
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


def _creds(username: str, password: str) -> Credentials:
    return Credentials(basic_username=username, basic_password=password)


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text(
        "# webmesh users\n"
        f"alice:{_bcrypt('alice-pw', '$2y$')}\n"
        f"bob:{_bcrypt('bob-pw', '$2a$')}\n"
        f"carol:{_bcrypt('carol-pw', '$2b$')}\n"
        f"sha:{_sha('sha-pw')}\n"
        "\n"
        "md5user:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\n"
        "broken-line-without-colon\n"
        f"alice:{_sha('second-entry-ignored')}\n"
    )
    return path


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"), ("sha", "sha-pw")],
    ids=["2y", "2a", "2b", "sha"],
)
async def test_supported_entries(htpasswd: Path, username: str, password: str) -> None:
    identity = await HtpasswdAuthenticator(htpasswd).authenticate(_creds(username, password))
    assert identity is not None
    assert (identity.name, identity.kind, identity.method) == (username, "user", "basic")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),
        ("sha", "wrong"),
        ("alice", "second-entry-ignored"),  # the first entry of a user wins
        ("mallory", "alice-pw"),
        ("md5user", "anything"),
    ],
)
async def test_refused(htpasswd: Path, username: str, password: str) -> None:
    with pytest.raises(errors.Unauthenticated) as info:
        await HtpasswdAuthenticator(htpasswd).authenticate(_creds(username, password))
    assert str(info.value) == "invalid basic auth username or password"


async def test_empty_password_refused(htpasswd: Path) -> None:
    with pytest.raises(errors.Unauthenticated, match="empty password"):
        await HtpasswdAuthenticator(htpasswd).authenticate(_creds("alice", ""))


async def test_unsupported_format_is_logged_by_user_not_hash(
    htpasswd: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webmesh.authn.basic")
    auth = HtpasswdAuthenticator(htpasswd)
    assert auth.load() == 4
    with pytest.raises(errors.Unauthenticated):
        await auth.authenticate(_creds("md5user", "x"))
    text = caplog.text
    assert "user=md5user" in text
    assert "unsupported" in text
    assert "$apr1$" not in text
    assert "line=7" in text and "not-user:hash" in text


async def test_reloads_when_the_file_changes(htpasswd: Path) -> None:
    auth = HtpasswdAuthenticator(htpasswd)
    assert await auth.authenticate(_creds("carol", "carol-pw")) is not None
    # Replace carol's password, keep the file the same size class; bump mtime explicitly so
    # the change is seen even on file systems with coarse timestamps.
    htpasswd.write_text(f"carol:{_bcrypt('new-pw')}\ndave:{_sha('dave-pw')}\n")
    stat = htpasswd.stat()
    os.utime(htpasswd, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(errors.Unauthenticated):  # also proves the success cache was dropped
        await auth.authenticate(_creds("carol", "carol-pw"))
    assert await auth.authenticate(_creds("carol", "new-pw")) is not None
    assert await auth.authenticate(_creds("dave", "dave-pw")) is not None
    with pytest.raises(errors.Unauthenticated):
        await auth.authenticate(_creds("alice", "alice-pw"))


async def test_success_cache_does_not_accept_another_password(htpasswd: Path) -> None:
    auth = HtpasswdAuthenticator(htpasswd, cache_ttl=60)
    assert await auth.authenticate(_creds("alice", "alice-pw")) is not None
    assert await auth.authenticate(_creds("alice", "alice-pw")) is not None  # from the cache
    with pytest.raises(errors.Unauthenticated):
        await auth.authenticate(_creds("alice", "alice-pw "))


async def test_missing_file_is_unavailable(tmp_path: Path) -> None:
    auth = HtpasswdAuthenticator(tmp_path / "nope")
    with pytest.raises(errors.Unavailable, match=r"htpasswd file .*nope cannot be read"):
        await auth.authenticate(_creds("alice", "alice-pw"))


async def test_no_basic_credentials_returns_none_and_chain_reports(htpasswd: Path) -> None:
    auth = HtpasswdAuthenticator(htpasswd)
    assert await auth.authenticate(Credentials()) is None
    with pytest.raises(errors.Unauthenticated, match="no credentials: use mTLS, basic or LDAP"):
        await Chain([auth]).authenticate(Credentials(ldap_username="x", ldap_password="y"))


async def test_concurrent_logins_during_reloads(htpasswd: Path) -> None:
    auth = HtpasswdAuthenticator(htpasswd, cache_ttl=0)
    results = await asyncio.gather(
        *(auth.authenticate(_creds("sha", "sha-pw")) for _ in range(20)),
        *(auth.authenticate(_creds("carol", "carol-pw")) for _ in range(5)),
    )
    assert all(result is not None for result in results)


async def test_long_passwords_behave_like_htpasswd(tmp_path: Path) -> None:
    long_pw = "x" * 100
    path = tmp_path / "htpasswd"
    path.write_text(f"long:{bcrypt.hashpw(long_pw.encode()[:72], bcrypt.gensalt(4)).decode()}\n")
    auth = HtpasswdAuthenticator(path)
    assert await auth.authenticate(_creds("long", long_pw)) is not None


def test_parse_reports_entries_and_unsupported() -> None:
    entries, unsupported = basic.parse("a:{SHA}x\nb:plaintext\n# c:{SHA}y\nd:$2b$04$abc\n")
    assert set(entries) == {"a", "d"}
    assert unsupported == ["b"]


def test_credentials_repr_hides_secrets() -> None:
    text = repr(Credentials(basic_username="u", basic_password="p4ss", ldap_password="l4p"))
    assert "p4ss" not in text and "l4p" not in text
