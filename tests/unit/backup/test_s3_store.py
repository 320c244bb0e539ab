"""The s3:// store without a server: how its URL splits into bucket and keys, how its client is
configured, and how S3's answers become OSErrors (botocore's Stubber plays S3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.stub import Stubber

from support import s3server
from webmesh.backup import s3, store

NAME = store.object_name(1_700_000_000, 42)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s3server.fake_credentials(monkeypatch, tmp_path)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://backups/mesh", "backups", "mesh"),
        ("s3://backups/mesh/", "backups", "mesh"),
        ("s3://backups/team/mesh/", "backups", "team/mesh"),
        ("s3://backups//mesh", "backups", "mesh"),
        ("s3://backups", "backups", ""),
        ("s3://backups/", "backups", ""),
    ],
)
def test_an_s3_url_splits_into_bucket_and_prefix(url: str, bucket: str, prefix: str) -> None:
    assert s3.parse_url(url) == (bucket, prefix)
    opened = s3.S3Store.from_url(url)
    assert (opened.bucket, opened.prefix) == (bucket, prefix)
    assert str(opened) == (f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}")
    key = f"{prefix}/{NAME}" if prefix else NAME  # never a leading slash
    assert opened.key(NAME) == key
    assert opened.url(NAME) == f"s3://{bucket}/{key}"


@pytest.mark.parametrize(
    ("url", "why"),
    [("s3://", "names no bucket"), ("s3:///mesh", "names no bucket"), ("/srv/b", "not an s3")],
)
def test_a_url_without_a_bucket_is_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        s3.parse_url(url)


def test_open_store_opens_s3_urls_with_the_endpoint() -> None:
    opened = store.open_store("s3://backups/mesh", s3_endpoint="http://minio:9000")
    assert isinstance(opened, s3.S3Store)
    meta = opened.client.meta
    assert meta.endpoint_url == "http://minio:9000"
    assert meta.config.s3 == {"addressing_style": "path"}
    assert (meta.config.connect_timeout, meta.config.read_timeout) == (10, 60)
    assert meta.config.retries == {"mode": "standard", "total_max_attempts": 3}  # 1 + 2 retries


def test_without_an_endpoint_it_is_aws() -> None:
    meta = s3.new_client().meta
    assert meta.endpoint_url == "https://s3.amazonaws.com"
    assert not (meta.config.s3 or {}).get("addressing_style")


def test_the_region_is_the_flag_then_aws_region_then_the_chain_then_us_east_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert s3.new_client().meta.region_name == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert s3.new_client().meta.region_name == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert s3.new_client().meta.region_name == "eu-central-1"
    assert s3.new_client(region="ap-south-1").meta.region_name == "ap-south-1"


@pytest.fixture
def stubbed() -> Iterator[tuple[s3.S3Store, Stubber]]:
    opened = s3.S3Store.from_url("s3://backups/mesh", endpoint="http://minio:9000")
    with Stubber(opened.client) as stubber:
        yield opened, stubber
        stubber.assert_no_pending_responses()


def test_a_missing_object_is_file_not_found(stubbed: tuple[s3.S3Store, Stubber]) -> None:
    opened, stubber = stubbed
    stubber.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
    with pytest.raises(FileNotFoundError, match=f"'s3://backups/mesh/{NAME}'"):
        opened.get(NAME)


def test_an_s3_error_is_one_line_with_the_url_and_the_cause(
    stubbed: tuple[s3.S3Store, Stubber],
) -> None:
    opened, stubber = stubbed
    stubber.add_client_error("put_object", "AccessDenied", "Access\nDenied", 403)
    with pytest.raises(s3.S3Error) as caught:
        opened.put(NAME, b"sealed")
    assert str(caught.value) == f"s3://backups/mesh/{NAME}: AccessDenied: Access Denied"
    assert isinstance(caught.value, OSError)  # what the scheduler catches


def test_prune_reports_objects_it_could_not_delete(stubbed: tuple[s3.S3Store, Stubber]) -> None:
    opened, stubber = stubbed
    older, newer = store.object_name(1_600_000_000, 1), NAME
    stubber.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": f"mesh/{newer}"}, {"Key": f"mesh/{older}"}]},
        {"Bucket": "backups", "Prefix": "mesh/", "Delimiter": "/", "MaxKeys": 1000},
    )
    denied = {"Key": f"mesh/{older}", "Code": "AccessDenied", "Message": "Access Denied"}
    stubber.add_response(
        "delete_objects",
        {"Errors": [denied]},
        {"Bucket": "backups", "Delete": {"Objects": [{"Key": f"mesh/{older}"}], "Quiet": True}},
    )
    with pytest.raises(s3.S3Error, match=f"^s3://backups/mesh/{older}: AccessDenied: .*1 of 1"):
        opened.prune(1)
