"""Basic auth against an htpasswd file (``--plugins.basic-auth.htpasswd-file``).

Supported entries: bcrypt (``$2y$``, ``$2b$``, ``$2a$``, as written by ``htpasswd -B``) and SHA-1
(``{SHA}`` + base64, ``htpasswd -s``). Other formats (MD5 ``$apr1$``, crypt, plain text) are
refused: the user is logged once per load, by name, never with the hash, and cannot log in.

- The file is re-read when its (mtime, size, inode) changes; the check is one ``stat`` per call.
  A file that cannot be read is ``Unavailable`` (never "accept with the old contents").
- Comparisons are constant-time (bcrypt's own, ``hmac.compare_digest`` for SHA). An unknown user
  costs a bcrypt check too, so response times do not reveal which users exist.
- bcrypt is slow on purpose (~50-250 ms): it runs in a worker thread, never on the event loop.
  Successful checks are remembered for ``cache_ttl`` seconds (keyed by an HMAC of user, password
  and entry under a per-process random key; the cache is dropped when the file changes), so a
  client that sends Basic credentials with every RPC does not pay bcrypt every time.
- Identity: ``Identity(name=username, kind="user", method="basic")``. A node that joins with Basic
  credentials gets the username as its node id (``types.resolve_node_id``).
- Thread-safe and task-safe: the parsed table is an immutable snapshot swapped under a lock.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import bcrypt

from webmesh import errors
from webmesh.authn.types import Credentials, Identity

log = logging.getLogger(__name__)

METHOD = "basic"
BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")
SHA_PREFIX = "{SHA}"
INVALID = "invalid basic auth username or password"
_CACHE_MAX = 1024


@dataclasses.dataclass(frozen=True, slots=True)
class _Table:
    stamp: tuple[int, int, int]
    entries: Mapping[str, str]  # username -> hash (only supported formats)
    unsupported: frozenset[str]


class HtpasswdAuthenticator:
    def __init__(self, path: str | os.PathLike[str], *, cache_ttl: float = 60.0) -> None:
        self.path = Path(path)
        self._cache_ttl = cache_ttl
        self._lock = threading.Lock()
        self._table: _Table | None = None
        self._cache: dict[bytes, float] = {}
        self._cache_key = secrets.token_bytes(32)

    def load(self) -> int:
        """(Re)load the file now if it changed; returns the number of usable users.

        The daemon calls it once at start-up so that a missing file is reported immediately.
        """
        return len(self._current().entries)

    async def authenticate(self, creds: Credentials) -> Identity | None:
        username = creds.basic_username
        if not username:
            return None
        if not creds.basic_password:
            raise errors.Unauthenticated(f"basic auth for user {username!r} has an empty password")
        table = self._current()
        entry = table.entries.get(username)
        if entry is not None and self._cached(username, creds.basic_password, entry):
            return Identity(name=username, kind="user", method=METHOD)
        ok = await asyncio.to_thread(_verify, creds.basic_password, entry)
        if not ok or entry is None:
            if username in table.unsupported:
                log.warning("basic auth refused user=%s reason=unsupported-hash-format", username)
            else:
                log.info("basic auth failed user=%s", username)
            raise errors.Unauthenticated(INVALID)
        self._remember(username, creds.basic_password, entry)
        return Identity(name=username, kind="user", method=METHOD)

    # -- the table -----------------------------------------------------------------------------

    def _current(self) -> _Table:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise errors.Unavailable(
                f"htpasswd file {self.path} cannot be read: {exc.strerror or exc}"
            ) from exc
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        table = self._table
        if table is not None and table.stamp == stamp:
            return table
        with self._lock:
            if self._table is not None and self._table.stamp == stamp:
                return self._table
            try:
                text = self.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise errors.Unavailable(
                    f"htpasswd file {self.path} cannot be read: {exc}"
                ) from exc
            entries, unsupported = parse(text, source=str(self.path))
            self._table = _Table(stamp, entries, frozenset(unsupported))
            self._cache.clear()
            log.info("htpasswd loaded path=%s users=%d", self.path, len(entries))
            return self._table

    # -- the cache of successful checks ---------------------------------------------------------

    def _cache_id(self, username: str, password: str, entry: str) -> bytes:
        material = "\0".join((username, password, entry)).encode()
        return hmac.new(self._cache_key, material, hashlib.sha256).digest()

    def _cached(self, username: str, password: str, entry: str) -> bool:
        if self._cache_ttl <= 0:
            return False
        key = self._cache_id(username, password, entry)
        with self._lock:
            expiry = self._cache.get(key)
            return expiry is not None and expiry > time.monotonic()

    def _remember(self, username: str, password: str, entry: str) -> None:
        if self._cache_ttl <= 0:
            return
        key = self._cache_id(username, password, entry)
        now = time.monotonic()
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache = {k: v for k, v in self._cache.items() if v > now}
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
            self._cache[key] = now + self._cache_ttl


def parse(text: str, *, source: str = "htpasswd") -> tuple[dict[str, str], list[str]]:
    """Parse htpasswd text into ({user: supported hash}, [users with an unsupported format]).

    Blank lines and ``#`` comments are skipped; the first entry of a user wins (as in Apache).
    """
    entries: dict[str, str] = {}
    unsupported: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        username, sep, hashed = line.partition(":")
        if not sep or not username or not hashed:
            log.warning(
                "htpasswd line ignored path=%s line=%d reason=not-user:hash", source, number
            )
            continue
        if username in entries or username in unsupported:
            log.warning(
                "htpasswd duplicate user ignored path=%s user=%s line=%d", source, username, number
            )
            continue
        if hashed.startswith(BCRYPT_PREFIXES) or hashed.startswith(SHA_PREFIX):
            entries[username] = hashed
        else:
            unsupported.append(username)
            log.warning(
                "htpasswd user has an unsupported hash format (use bcrypt: htpasswd -B) "
                "path=%s user=%s line=%d",
                source,
                username,
                number,
            )
    return entries, unsupported


def _verify(password: str, entry: str | None) -> bool:
    """Constant-time check of ``password`` against one entry (None: burn the same time)."""
    secret = password.encode("utf-8")
    if entry is None:
        bcrypt.checkpw(secret[:72], _dummy_hash())
        return False
    if entry.startswith(SHA_PREFIX):
        expected = entry.removeprefix(SHA_PREFIX).encode("ascii", "replace")
        actual = base64.b64encode(hashlib.sha1(secret).digest())  # noqa: S324 - the htpasswd format
        return hmac.compare_digest(actual, expected)
    hashed = entry.encode("ascii", "replace")  # bcrypt accepts $2a$, $2b$ and $2y$ alike
    try:
        # bcrypt only ever used 72 bytes; bcrypt >= 5 raises instead of truncating like htpasswd.
        return bcrypt.checkpw(secret[:72], hashed)
    except ValueError:  # malformed hash (wrong length, bad salt)
        log.warning("htpasswd entry is not a valid bcrypt hash")
        return False


@functools.cache
def _dummy_hash() -> bytes:
    """Checked for unknown users so that they cost as much as known ones (cost 10: htpasswd -B)."""
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=10))
