"""A real S3 API for tests: ``moto_server`` (moto[server], in the test venv) in a subprocess.

moto keeps every bucket in memory and accepts any credentials, so a test needs no account and
leaves nothing behind. On loopback, ``running_moto()`` starts one, waits (bounded) until it
answers HTTP, yields its endpoint URL and stops it. Elsewhere (a host of ``support.netlab``,
in its network namespace) run ``moto_command(host, port)`` the way that host runs programs
(``host.spawn(*moto_command(host.lan_ip, 9000))``) and wait with ``answers``.

``client`` and ``create_bucket`` talk to it with explicit dummy credentials, never through
``os.environ``; code under test that reads the standard AWS chain gets them from
``fake_credentials(monkeypatch)``, which pytest undoes after the test.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import boto3
import pytest

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "testing", "testing"  # moto takes any
# What the AWS chain might otherwise find on this machine: a profile, a token, a config file
# (with a region or an endpoint), an instance role (a 1 s metadata probe per attempt).
_FOREIGN_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CA_BUNDLE",
)


def moto_command(host: str, port: int) -> list[str]:
    """The command line of a moto server listening on ``host:port`` (HTTP)."""
    return [str(MOTO_SERVER), "--host", host, "--port", str(port)]


def endpoint_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def answers(endpoint: str, timeout: float = 1.0) -> bool:
    """Whether something answers HTTP at ``endpoint`` (any status counts)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_moto(host: str = "127.0.0.1", port: int = 0, timeout: float = 20.0) -> Iterator[str]:
    """A moto server on ``host:port`` (0: a free port) for the block; yields its endpoint URL."""
    port = port or free_port(host)
    endpoint = endpoint_url(host, port)
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            moto_command(host, port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_ready(server, endpoint, log, timeout)
            yield endpoint
        finally:
            _stop(server)


def _wait_ready(
    server: subprocess.Popen[bytes], endpoint: str, log: IO[bytes], timeout: float
) -> None:
    """Until the server answers; fail at once if it dies (a port taken, say), or at ``timeout``."""
    deadline = time.monotonic() + timeout
    while not answers(endpoint):
        if server.poll() is not None:
            raise AssertionError(f"moto_server exited with {server.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"moto_server at {endpoint}: no answer in {timeout}s\n{_tail(log)}"
            )
        time.sleep(0.05)


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.flush()
    log.seek(0)
    return str(log.read()[-size:].decode(errors="replace"))


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def client(endpoint: str) -> Any:
    """A boto3 S3 client for the moto server at ``endpoint``, with explicit dummy credentials."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def create_bucket(endpoint: str, name: str) -> None:
    s3 = client(endpoint)
    try:
        s3.create_bucket(Bucket=name)
    finally:
        s3.close()


def fake_credentials(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Make the standard AWS chain find the dummy credentials, and nothing of this machine's
    (``home`` stands in for ~: no ~/.aws), for the rest of the test."""
    for name in _FOREIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
