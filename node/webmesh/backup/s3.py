"""Backups in an S3 bucket (``--backup.url=s3://bucket/prefix``): AWS S3 or any store that
speaks its API (MinIO, Ceph, R2, ...) through ``--backup.s3-endpoint``.

boto3 because it is the S3 client that AWS itself keeps up (signatures, regions, retries,
credential sources), and every S3-compatible store is tested against it: one ``endpoint_url``
reaches them all. It is imported only by a node whose ``--backup.url`` is an s3:// URL
(``store.open_store`` imports this module lazily), so other nodes and wmctl pay nothing for it.

Credentials come from the standard AWS chain, never from our flags: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment, ~/.aws/credentials and
~/.aws/config (AWS_PROFILE), web identity (IRSA) or the instance/container role. The region is
``--backup.s3-region``, else AWS_REGION, else the chain's (AWS_DEFAULT_REGION, ~/.aws/config),
else us-east-1.

Objects are ``<prefix>/<name>`` (just ``<name>`` without a prefix). They are already sealed
(AES-256-GCM), so they go up as opaque ``application/octet-stream``; a damaged one fails to
open. The scheduler handles only ``OSError``, so every boto3/botocore failure becomes an
``S3Error`` (an ``OSError``) whose one line names the URL and the cause, and a missing object
is a ``FileNotFoundError``, as in a directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from webmesh.backup.store import is_backup_name

SCHEME = "s3://"
# One DeleteObjects request takes at most 1000 keys; one ListObjectsV2 page holds as many.
MAX_KEYS = 1000
# Connecting may take a while across the internet; a 60 s silence on a read is a dead peer.
# Three attempts ride out a blip; the next scheduled backup is the real retry.
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 10.0, 60.0, 3
_MISSING = frozenset({"NoSuchKey", "NotFound", "404"})


class S3Error(OSError):
    """An S3 request failed: the message names the URL and the cause, on one line."""


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` as ``(bucket, prefix)``, the prefix without outer slashes."""
    if not url.startswith(SCHEME):
        raise ValueError(f"{url!r} is not an s3:// URL: s3://bucket/prefix")
    bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
    if not bucket:
        raise ValueError(f"{url!r} names no bucket: s3://bucket/prefix")
    return bucket, prefix.strip("/")


def new_client(endpoint: str = "", region: str = "") -> Any:
    """An S3 client for ``endpoint`` ("" = AWS) with bounded timeouts and retries."""
    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "retries": {"mode": "standard", "total_max_attempts": ATTEMPTS},
    }
    if endpoint:
        options |= {
            # Bucket names in the path: a store of our own seldom has per-bucket DNS names.
            "s3": {"addressing_style": "path"},
            # Checksums only where the API requires them: many S3-compatible stores reject the
            # CRC headers boto3 sends by default (and GCM authenticates every object anyway).
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    # ValueError: an endpoint that is no URL, a region that is no region name; BotoCoreError:
    # an AWS_PROFILE that ~/.aws does not have.
    with _translated(endpoint or "AWS S3", ValueError):
        session = boto3.session.Session()
        region = region or os.environ.get("AWS_REGION") or session.region_name or "us-east-1"
        return session.client(
            "s3", endpoint_url=endpoint or None, region_name=region, config=Config(**options)
        )


class S3Store:
    """A ``BackupStore`` over one bucket and prefix (blocking; the client is thread-safe)."""

    def __init__(self, bucket: str, prefix: str, client: Any, *, page_size: int = MAX_KEYS) -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = client
        self._page_size = page_size

    @classmethod
    def from_url(
        cls, url: str, *, endpoint: str = "", region: str = "", page_size: int = MAX_KEYS
    ) -> S3Store:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix, new_client(endpoint, region), page_size=page_size)

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, name: str) -> str:
        return f"{SCHEME}{self.bucket}/{self.key(name)}"

    def put(self, name: str, data: bytes) -> None:
        with _translated(self.url(name)):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(name),
                Body=data,
                ContentType="application/octet-stream",
            )

    def names(self) -> list[str]:
        """The backups directly under the prefix (not in deeper "folders"), the oldest first."""
        with _translated(str(self)):
            return sorted(self._list())

    def _list(self) -> Iterator[str]:
        start = self.key("")
        # The delimiter folds deeper keys into CommonPrefixes, which we skip.
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket,
            Prefix=start,
            Delimiter="/",
            PaginationConfig={"PageSize": self._page_size},
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = str(item["Key"]).removeprefix(start)
                if is_backup_name(name):
                    yield name

    def get(self, name: str) -> bytes:
        url = self.url(name)
        with _translated(url):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"]
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise FileNotFoundError(errno.ENOENT, "no such backup object", url) from exc
                raise
            with contextlib.closing(body):
                return bytes(body.read())

    def prune(self, retain: int) -> list[str]:
        """Delete all but the newest ``retain``; the names deleted."""
        names = self.names()
        doomed = names[: max(len(names) - retain, 0)]
        for start in range(0, len(doomed), MAX_KEYS):
            self._delete(doomed[start : start + MAX_KEYS])
        return doomed

    def _delete(self, names: list[str]) -> None:
        objects = [{"Key": self.key(name)} for name in names]
        with _translated(str(self)):
            done = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
            )
        failed = done.get("Errors") or []
        if failed:
            first = failed[0]
            raise S3Error(
                f"{SCHEME}{self.bucket}/{first.get('Key', '')}: {first.get('Code', 'Error')}: "
                f"{first.get('Message', '')} ({len(failed)} of {len(names)} not deleted)"
            )


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _translated(url: str, *also: type[Exception]) -> Iterator[None]:
    """Turn boto3's exceptions (and ``also``) into ``S3Error``: one line, naming ``url`` and
    the cause."""
    try:
        yield
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message") or str(exc)
        raise S3Error(_one_line(f"{url}: {_code(exc) or 'Error'}: {message}")) from exc
    except (BotoCoreError, *also) as exc:
        raise S3Error(_one_line(f"{url}: {type(exc).__name__}: {exc}")) from exc


def _one_line(text: str) -> str:
    return " ".join(text.split())
