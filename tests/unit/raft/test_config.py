"""The SyncObjConf we build: every setting that matters for safety and latency."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from webmesh import errors
from webmesh.raft import config


def _conf(tmp_path: Path, *, persistent: bool = True, bind: str | None = "172.16.0.1:9443") -> Any:
    return config.build_conf(
        bind_address=bind,
        paths=config.StorePaths.in_dir(tmp_path),
        timings=config.RaftTimings(),
        persistent=persistent,
        serializer=lambda path, data: None,
        deserializer=lambda path: None,
    )


def test_conf_is_low_latency_pickle_free_and_binds_only_the_given_address(tmp_path: Path) -> None:
    conf: Any = _conf(tmp_path)
    conf.validate()  # pysyncobj's own consistency assertions
    assert conf.password is None  # our channels authenticate and encrypt, not pysyncobj's Fernet
    assert conf.bindAddress == "172.16.0.1:9443"  # pysyncobj would bind 0.0.0.0 otherwise
    assert conf.appendEntriesUseBatch is False
    assert conf.appendEntriesBatchSizeBytes > config.MAX_ENTRY_BYTES + 64  # never chunked
    assert conf.appendEntriesBatchSizeBytes + config.MAX_ENTRY_BYTES < config.MAX_FRAME_BYTES
    assert conf.commandsWaitLeader is False
    assert conf.dynamicMembershipChange is True
    assert conf.useFork is False
    assert conf.journalFile == str(tmp_path / "raft.journal")
    assert conf.fullDumpFile == str(tmp_path / "raft.dump")
    assert conf.serializer is not None and conf.deserializer is not None  # never a pickled dump
    assert conf.raftMinTimeout == 1.0
    assert conf.raftMaxTimeout == 2.5
    assert conf.maxBindRetries == 20


def test_replica_without_data_keeps_no_journal_but_snapshots_to_a_file(tmp_path: Path) -> None:
    conf: Any = _conf(tmp_path, persistent=False, bind=None)
    assert conf.journalFile is None
    assert conf.fullDumpFile == str(tmp_path / "raft.dump")  # pysyncobj pickles in-memory dumps


@pytest.mark.parametrize(
    "timings",
    [
        config.RaftTimings(heartbeat=0.5, election_min=1.0),  # 3 * heartbeat >= election_min
        config.RaftTimings(election_min=2.0, election_max=1.0),
        config.RaftTimings(connection_timeout=1.0, election_max=2.0),
        config.RaftTimings(leader_fallback=0.05),
    ],
)
def test_inconsistent_timings_are_refused(timings: config.RaftTimings) -> None:
    with pytest.raises(errors.InvalidArgument, match="raft timings"):
        timings.validate()


@pytest.mark.parametrize("address", ["127.0.0.1:1", "node-1.mesh:9443", "[fd00::1]:9443"])
def test_valid_addresses(address: str) -> None:
    assert config.validate_address(address) == address


@pytest.mark.parametrize(
    "address", ["", "127.0.0.1", ":9443", "127.0.0.1:0", "127.0.0.1:65536", "h:x", "[zz]:1"]
)
def test_invalid_addresses(address: str) -> None:
    with pytest.raises(errors.InvalidArgument, match="invalid raft address"):
        config.validate_address(address)


def test_other_voters_drops_self_and_duplicates_keeping_order() -> None:
    voters = ["10.0.0.2:1", "10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]
    assert config.other_voters(voters, "10.0.0.1:1") == ["10.0.0.2:1", "10.0.0.3:1"]
    assert config.other_voters(voters, None) == ["10.0.0.2:1", "10.0.0.1:1", "10.0.0.3:1"]


def test_voters_file_round_trip_and_garbage_is_ignored(tmp_path: Path) -> None:
    path = config.StorePaths.in_dir(tmp_path).voters
    assert config.load_voters(path) is None
    config.save_voters(path, ["10.0.0.2:1", "10.0.0.1:1"])
    assert config.load_voters(path) == ["10.0.0.1:1", "10.0.0.2:1"]
    path.write_text("{not json")
    assert config.load_voters(path) is None
    path.write_text('{"voters": ["no-port"]}')
    assert config.load_voters(path) is None


def test_bind_error_names_the_cause() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        assert "in use" in config.bind_error(f"127.0.0.1:{port}")
