"""The s3:// backup store against a real S3 API: moto_server on loopback, over HTTP.

Every test has a bucket of its own on one server per module. The store is made as the node makes
it (``S3Store.from_url`` with ``--backup.s3-endpoint``, credentials from the AWS environment);
the foreign objects are put beside it with a client of the test's own. Failures (no bucket, a
dead endpoint, no credentials) must come out as one-line ``OSError``s, in bounded time, since
that is all the scheduler catches.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import s3server
from webmesh.backup import store
from webmesh.backup.s3 import S3Error, S3Store

_buckets = itertools.count()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3server.running_moto() as url:
        yield url


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s3server.fake_credentials(monkeypatch, tmp_path)


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"backups-{next(_buckets)}"
    s3server.create_bucket(endpoint, name)
    return name


def names(count: int) -> list[str]:
    """``count`` backup names, the oldest first (a minute apart)."""
    return [store.object_name(1_700_000_000 + 60 * i, 100 + i) for i in range(count)]


@pytest.mark.parametrize("prefix", ["mesh/prod", ""])
def test_put_names_get_prune_round_trip(endpoint: str, bucket: str, prefix: str) -> None:
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    s3 = store.open_store(url, s3_endpoint=endpoint)
    assert str(s3) == url
    assert s3.names() == []
    written = names(4)
    for i, name in enumerate(reversed(written)):  # put newest first: names() sorts
        s3.put(name, f"backup {i}".encode())
    assert s3.names() == written
    assert s3.get(written[0]) == b"backup 3"

    keys = sorted(
        o["Key"] for o in s3server.client(endpoint).list_objects_v2(Bucket=bucket)["Contents"]
    )
    assert keys == [f"{prefix}/{n}" if prefix else n for n in written]  # no leading slash

    assert s3.prune(2) == written[:2]
    assert s3.names() == written[2:]
    assert s3.prune(2) == []
    assert s3.prune(5) == []


def test_the_objects_are_opaque_binary(endpoint: str, bucket: str) -> None:
    s3 = S3Store.from_url(f"s3://{bucket}/p", endpoint=endpoint)
    data = bytes(range(256)) * 64
    s3.put(names(1)[0], data)
    head = s3server.client(endpoint).head_object(Bucket=bucket, Key=f"p/{names(1)[0]}")
    assert head["ContentType"] == "application/octet-stream"
    assert s3.get(names(1)[0]) == data


def test_names_are_only_backups_directly_under_the_prefix(endpoint: str, bucket: str) -> None:
    ours, deeper = names(3), names(5)[3:]
    client = s3server.client(endpoint)
    foreign = [
        "mesh/README.txt",
        "mesh/webmesh-notes.txt",
        f"mesh/old/{deeper[0]}",  # a deeper "folder"
        f"mesh-other/{deeper[1]}",  # a prefix that only starts like ours
        deeper[1],  # the bucket's root
    ]
    for key in foreign:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3 = S3Store.from_url(f"s3://{bucket}/mesh", endpoint=endpoint)
    for name in ours:
        s3.put(name, b"ours")
    assert s3.names() == ours
    assert s3.prune(1) == ours[:2]
    left = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert left == {*foreign, f"mesh/{ours[2]}"}  # prune touched only ours


def test_names_and_prune_follow_every_page(endpoint: str, bucket: str) -> None:
    s3 = S3Store.from_url(f"s3://{bucket}/paged", endpoint=endpoint, page_size=2)
    written = names(7)
    for name in written:
        s3.put(name, b"b")
    assert s3.names() == written  # 4 pages of at most 2
    assert s3.prune(3) == written[:4]
    assert s3.names() == written[4:]


def test_a_missing_object_is_file_not_found(endpoint: str, bucket: str) -> None:
    s3 = S3Store.from_url(f"s3://{bucket}/mesh", endpoint=endpoint)
    name = names(1)[0]
    with pytest.raises(FileNotFoundError, match=f"s3://{bucket}/mesh/{name}"):
        s3.get(name)


def test_a_missing_bucket_is_an_s3_error(endpoint: str) -> None:
    s3 = S3Store.from_url("s3://no-such-bucket/mesh", endpoint=endpoint)
    message = "s3://no-such-bucket/mesh: NoSuchBucket: The specified bucket does not exist"
    with pytest.raises(S3Error, match=f"^{message}$") as caught:
        s3.names()
    assert isinstance(caught.value, OSError)
    with pytest.raises(S3Error, match=r"^s3://no-such-bucket/mesh/webmesh-.*: NoSuchBucket: "):
        s3.put(names(1)[0], b"b")
    with pytest.raises(S3Error, match="NoSuchBucket"):
        s3.get(names(1)[0])  # a missing bucket is not a missing object


def test_a_dead_endpoint_fails_in_bounded_time() -> None:
    dead = s3server.endpoint_url("127.0.0.1", s3server.free_port())
    s3 = S3Store.from_url("s3://b/mesh", endpoint=dead)
    started = time.monotonic()
    with pytest.raises(S3Error, match=r"^s3://b/mesh: EndpointConnectionError: .*127\.0\.0\.1"):
        s3.names()
    assert time.monotonic() - started < 15  # three attempts, with backoff, then give up


def test_no_credentials_is_an_s3_error(
    endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s3 = S3Store.from_url(f"s3://{bucket}/mesh", endpoint=endpoint)
    with pytest.raises(S3Error, match=f"^s3://{bucket}/mesh: NoCredentialsError: "):
        s3.names()
