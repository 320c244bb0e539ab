"""``SyncObjStore``: the ``ConsensusStore`` over pysyncobj, and its bridge to asyncio.

Threads: pysyncobj runs its own tick thread (``autoTick``) that owns all Raft state, applies
entries to the machine and calls our callbacks. The asyncio side only

- enqueues commands (``_applyCommand`` is a thread-safe queue), with a callback that hands the
  outcome back through ``loop.call_soon_threadsafe`` (the one crossing point, ``_enqueue``);
- runs anything else that touches pysyncobj internals (leadership transfer sends on sockets) as a
  thunk on the tick thread, through our tick callback (``_on_tick_thread``);
- reads single attributes (term, indexes, leader), which are atomic under the GIL; never
  ``getStatus()``, which iterates dicts that the tick thread mutates.

Snapshots are our own format around the machine's JSON (``webmesh.raft.snapshot``); the wire is
our schema over channels authenticated by each replica's own key and encrypted, and refused
connections (strangers, removed replicas, keys our state does not know) are counted and
reported (``webmesh.raft.channel``, ``webmesh.raft.transport``). Nothing a peer sends is
unpickled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjException

from webmesh import errors
from webmesh.raft import batch, config, durability, failures
from webmesh.raft import status as raft_status
from webmesh.raft.channel import ChannelSettings
from webmesh.raft.consumer import EntryConsumer
from webmesh.raft.credentials import RaftCredentials
from webmesh.raft.snapshot import SnapshotFiles, SnapshotSender
from webmesh.raft.store import RaftStatus, StateMachine, SyncMode
from webmesh.raft.transport import HandshakeWatch, Refusals, SecureTransport

logger = logging.getLogger("webmesh.raft")

_POLL = 0.02  # seconds between checks while waiting for a condition on the tick thread's state
_DENIED_RETRY = 0.1  # seconds between retries of a membership change denied by the leader
_MAX_BATCHES_IN_FLIGHT = 2  # entries of proposals being committed at once; the rest wait

Callback = Callable[[Any, int], None]


def _failure_of(future: asyncio.Future[tuple[Any, int]]) -> BaseException | None:
    """Why a batch has no outcome (the store closed), or None."""
    if future.cancelled():
        return errors.Unavailable("the raft store was closed")
    return future.exception()


def _outcomes(outcome: tuple[Any, int], batched: bool, count: int) -> list[tuple[Any, int]]:
    """Each proposer's ``(result, FAIL_REASON)`` from a batch's: its own result on success."""
    result, reason = outcome
    if reason != FAIL_REASON.SUCCESS or not batched:
        return [(result, reason)] * count
    if isinstance(result, bytes):
        return [(one, reason) for one in batch.unpack_results(result)]
    return [(None, reason)] * count  # the batch failed to apply as a whole (see the logs)


class SyncObjStore:
    """A replica of the Raft log driving ``machine``; a voter, or a non-voting observer.

    ``voters``: raft addresses of the *current* voting members; this node's own address is
    dropped (pysyncobj's ``otherNodes`` convention). Empty on a voter means a cluster of one:
    only to bootstrap. With ``data_dir``, the voter set last seen is kept there and wins over
    ``voters`` on restart. ``observer=True``: a read-only, non-voting replica that never listens
    (``self_address`` is ignored). ``credentials``: this replica's Raft key and the roster of
    keys it admits (``webmesh.raft.credentials``).
    """

    def __init__(
        self,
        machine: StateMachine,
        *,
        self_address: str | None,
        voters: Sequence[str],
        credentials: RaftCredentials,
        data_dir: Path | None = None,
        observer: bool = False,
        timings: config.RaftTimings | None = None,
        sync: SyncMode = SyncMode.ALWAYS,
    ) -> None:
        if observer:
            self_address = None  # a non-voting replica never listens
        elif self_address is None:
            raise errors.InvalidArgument("a voter needs its own raft address (host:port)")
        else:
            config.validate_address(self_address)
        self._others = config.other_voters(tuple(voters), self_address)
        if observer and not self._others:
            raise errors.InvalidArgument("an observer needs the addresses of the voters")
        self._machine = machine
        self._self_address = self_address
        self._credentials = credentials
        self._data_dir = data_dir
        self._timings = (timings or config.RaftTimings()).validate()
        self._watch = HandshakeWatch()
        self._refusals = Refusals(self._watch)
        self._sync = SyncMode(sync)
        self._journals: list[durability.DurableJournal] = []
        self._scratch: Path | None = None  # the snapshot's directory of a replica without data
        self._syncobj: Any = None
        self._consumer: Any = None
        self._wake: Any = None
        self._thunks: collections.deque[Callable[[], None]] = collections.deque()
        self._pending: set[asyncio.Future[tuple[Any, int]]] = set()
        self._proposals: collections.deque[tuple[bytes, asyncio.Future[tuple[Any, int]]]] = (
            collections.deque()
        )
        self._batches_in_flight = 0
        self._dispatch_scheduled = False
        self._membership_lock = asyncio.Lock()
        self._membership_inflight: asyncio.Future[tuple[Any, int]] | None = None
        self._raft_state = raft_status.STATE_FOLLOWER
        self._last_leader: str | None = None
        self._leader_changes = 0
        self._closed = False
        self._voters_file: Path | None = None
        self._saved_voters: frozenset[str] | None = None

    # ----------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the journal, bind the port (voters) and start pysyncobj's thread.

        Call it from a thread that outlives the store (the event loop's, normally the main
        thread): pysyncobj stops ticking when the thread that created it exits.
        """
        if self._syncobj is not None:
            return
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            paths = config.StorePaths.in_dir(self._data_dir)
            self._voters_file = paths.voters
            self._use_remembered_voters(config.load_voters(paths.voters))
        else:
            self._scratch = Path(tempfile.mkdtemp(prefix="webmesh-raft-"))
            paths = config.StorePaths.in_dir(self._scratch)
        sender = SnapshotSender(paths.dump, config.MAX_ENTRY_BYTES)
        snapshots = SnapshotFiles(self._machine, sender)
        conf = config.build_conf(
            bind_address=self._self_address,
            paths=paths,
            timings=self._timings,
            persistent=self._data_dir is not None,
            serializer=snapshots.write,
            deserializer=snapshots.read,
            on_ready=self._on_ready,
            on_state_changed=self._on_state_changed,
        )
        settings = ChannelSettings(
            credentials=self._credentials,
            max_frame=config.MAX_FRAME_BYTES,
            handshake_timeout=self._timings.connection_timeout,
            idle_timeout=self._timings.connection_timeout,
        )
        barrier = None
        if self._data_dir is not None and self._sync is SyncMode.ALWAYS:
            barrier = durability.Barrier(lambda: self._journals[0] if self._journals else None)
        transport = functools.partial(
            SecureTransport,
            settings=settings,
            refusals=self._refusals,
            watch=self._watch,
            barrier=barrier,
        )
        self._consumer = EntryConsumer(self._machine)
        with warnings.catch_warnings():
            # pysyncobj's journal reads its meta file without closing it (ResourceWarning).
            warnings.filterwarnings("ignore", category=ResourceWarning, module="pysyncobj")
            with durability.journals(self._sync, self._journals):
                self._syncobj = SyncObj(
                    self._self_address,
                    self._others,
                    conf=conf,
                    consumers=[self._consumer],
                    transportClass=transport,
                )
        sender.install(self._syncobj._SyncObj__serializer)  # see webmesh.raft.snapshot
        # Private, but the only way to wake pysyncobj's poller (see _on_tick_thread).
        self._wake = getattr(self._syncobj, "_SyncObj__pipeNotifier", None)
        self._syncobj.addOnTickCallback(self._on_tick_thread)
        if self._journals and self._sync is SyncMode.BATCH:
            self._syncobj.addOnTickCallback(durability.BatchSyncer(self._journals[0]).tick)
        logger.info(
            "event=raft_started self=%s observer=%s voters=%s persistent=%s sync=%s",
            self._self_address or "-",
            self._self_address is None,
            ",".join(self._others) or "-",
            self._data_dir is not None,
            self._sync.value if self._data_dir is not None else "-",
        )
        if self._self_address is not None:
            await self._wait_bound(self._self_address)

    def _use_remembered_voters(self, remembered: list[str] | None) -> None:
        """Prefer the voter set of the last run: the one passed in may be stale or empty, and a
        voter restarted alone with no peers would elect itself as a cluster of one.
        """
        if remembered is None:
            return
        others = config.other_voters(remembered, self._self_address)
        if set(others) != set(self._others):
            logger.info(
                "event=raft_voters_remembered given=%s remembered=%s",
                ",".join(self._others) or "-",
                ",".join(others) or "-",
            )
        self._others = others

    def _remember_voters(self) -> None:
        """On the tick thread: save the voter set when it changed (membership is in the log)."""
        if self._voters_file is None:
            return
        voters = frozenset(node.id for node in self._syncobj.otherNodes)
        if voters == self._saved_voters:
            return
        mine = [self._self_address] if self._self_address else []
        try:
            config.save_voters(self._voters_file, [*voters, *mine])
        except OSError:
            logger.exception("event=raft_voters_save_failed path=%s", self._voters_file)
            return
        self._saved_voters = voters

    async def _wait_bound(self, address: str) -> None:
        try:
            await asyncio.to_thread(self._syncobj.waitBinded)
        except SyncObjException as exc:
            reason = config.bind_error(address)
            await self.close()
            raise errors.Unavailable(f"cannot listen for raft on {address}: {reason}") from exc

    async def wait_ready(self, timeout: float) -> None:
        """Wait until the journal is replayed and this replica has caught up with a leader."""
        syncobj = self._running()
        deadline = time.monotonic() + timeout
        while not (syncobj.isReady() and syncobj._getLeader() is not None):
            if time.monotonic() >= deadline:
                problem = raft_status.problem_from(self._watch.report())
                why = problem or f"no raft leader reachable among {','.join(self._others) or '-'}"
                raise errors.Unavailable(f"raft replica not ready after {timeout:g}s: {why}")
            await asyncio.sleep(_POLL)

    async def close(self) -> None:
        """Destroy the SyncObj and join its thread: the port and the journal are released."""
        if self._syncobj is None or self._closed:
            self._closed = True
            return
        self._closed = True
        while self._proposals:
            _, waiting = self._proposals.popleft()
            if not waiting.done():
                waiting.set_exception(errors.Unavailable("the raft store was closed"))
                waiting.exception()
        for future in list(self._pending):
            if not future.done():
                future.set_exception(errors.Unavailable("the raft store was closed"))
                future.exception()  # mark retrieved: an accepted membership change has no awaiter
        await asyncio.to_thread(self._destroy, self._syncobj)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        logger.info("event=raft_closed self=%s", self._self_address or "-")

    @staticmethod
    def _destroy(syncobj: Any) -> None:
        if syncobj.tick_thread_alive():
            syncobj.destroy_synchronous()
        else:  # the thread died (it failed to start): release what it would have released
            syncobj._doDestroy()

    # ------------------------------------------------------------------------------- writes

    async def propose(self, entry: bytes, *, timeout: float = 5.0) -> bytes:
        """Commit ``entry``; return what ``apply`` returned on this (the leader's) replica.

        Proposals made in one turn of the event loop go out together at its end, and those that
        arrive while ``_MAX_BATCHES_IN_FLIGHT`` entries are being committed wait and go together
        in the next one (``webmesh.raft.batch``): one round of messages and one fsync for all of
        them. Gathering a turn's proposals cut the entries per Join by about 14% at 32 in flight.
        """
        if len(entry) > config.MAX_ENTRY_BYTES:
            raise errors.InvalidArgument(
                f"a mesh change of {len(entry)} bytes is larger than the limit of "
                f"{config.MAX_ENTRY_BYTES} bytes: split it"
            )
        self._require_leader("propose")
        started = time.perf_counter()
        waiting: asyncio.Future[tuple[Any, int]] = asyncio.get_running_loop().create_future()
        self._proposals.append((entry, waiting))
        if not self._dispatch_scheduled:  # after the handlers of this turn proposed too
            self._dispatch_scheduled = True
            asyncio.get_running_loop().call_soon(self._send_batches)
        result = self._check(
            await self._outcome(waiting, timeout=timeout, action="propose"), action="propose"
        )
        if not isinstance(result, bytes):
            raise errors.MeshError("the state machine failed to apply the entry (see the logs)")
        logger.debug("event=raft_committed ms=%.2f", (time.perf_counter() - started) * 1000)
        return result

    def _send_batches(self) -> None:
        """Hand waiting proposals to pysyncobj, a batch per entry, while few are in flight."""
        self._dispatch_scheduled = False
        while self._proposals and self._batches_in_flight < _MAX_BATCHES_IN_FLIGHT:
            taken = [self._proposals.popleft()]
            size = batch.ENVELOPE_BYTES + len(taken[0][0])
            while self._proposals:
                more = len(self._proposals[0][0]) + 8
                if size + more > config.MAX_ENTRY_BYTES:
                    break
                taken.append(self._proposals.popleft())
                size += more
            self._batches_in_flight += 1
            entries = [entry for entry, _ in taken]
            packed = entries[0] if len(entries) == 1 else batch.pack(entries)
            future = self._enqueue(functools.partial(self._apply_on_leader, packed))
            future.add_done_callback(
                functools.partial(self._batch_done, [w for _, w in taken], len(entries) > 1)
            )

    def _apply_on_leader(self, entry: bytes, callback: Callback) -> None:
        self._consumer._apply_entry(entry, callback=callback)

    def _batch_done(
        self,
        waiting: list[asyncio.Future[tuple[Any, int]]],
        batched: bool,
        future: asyncio.Future[tuple[Any, int]],
    ) -> None:
        """Give each proposer of a batch its own outcome; send what waits meanwhile."""
        self._batches_in_flight -= 1
        failure = _failure_of(future)
        if failure is not None:
            for one in waiting:
                if not one.done():
                    one.set_exception(failure)
        else:
            outcomes = _outcomes(future.result(), batched, len(waiting))
            for one, outcome in zip(waiting, outcomes, strict=True):
                if not one.done():
                    one.set_result(outcome)
        if not self._closed:
            self._send_batches()

    async def add_voter(
        self, address: str, *, timeout: float = 10.0, wait_for_commit: bool = True
    ) -> None:
        """Add a voting member; call it on the leader, before the new member starts.

        With ``wait_for_commit=False`` return as soon as the leader accepted the change (it is in
        the leader's configuration), without waiting for it to commit. Growing a 1-voter cluster
        needs this: the change commits only once the new voter runs and acknowledges it.
        """
        config.validate_address(address)
        self._require_leader("add voter")
        await self._change_membership("add", address, timeout, wait_for_commit)

    async def remove_voter(self, address: str, *, timeout: float = 10.0) -> None:
        """Remove a voting member (not the leader itself: transfer leadership first).

        The removed node is not told: stop its store once this returns.
        """
        config.validate_address(address)
        self._require_leader("remove voter")
        if address == self._self_address:
            raise errors.FailedPrecondition(
                "the raft leader cannot remove itself: transfer leadership first"
            )
        await self._change_membership("remove", address, timeout, True)

    async def _change_membership(
        self, kind: str, address: str, timeout: float, wait_for_commit: bool
    ) -> None:
        """One change at a time, committed before the next starts.

        pysyncobj 0.3.17 does not enforce this (``__changeClusterIDx`` is never set), so we do:
        the lock serializes callers and a change accepted without waiting for its commit stays
        in ``_membership_inflight`` until pysyncobj reports it. REQUEST_DENIED (the new term's
        no-op is not committed yet) is retried until the timeout.
        """
        syncobj = self._running()
        method = syncobj.addNodeToCluster if kind == "add" else syncobj.removeNodeFromCluster
        done = functools.partial(self._membership_done, kind, address)
        action = f"{kind} voter {address}"
        deadline = time.monotonic() + timeout
        async with self._membership_lock:
            await self._wait_inflight_change(deadline, action)
            while not done():
                future = self._enqueue(functools.partial(method, address))
                self._membership_inflight = future
                outcome = await self._outcome(
                    future,
                    timeout=deadline - time.monotonic(),
                    action=action,
                    accepted=None if wait_for_commit else done,
                )
                denied = outcome[1] == FAIL_REASON.REQUEST_DENIED and not done()
                if denied and time.monotonic() + _DENIED_RETRY < deadline:
                    logger.debug("event=raft_membership_retry change=%s voter=%s", kind, address)
                    await asyncio.sleep(_DENIED_RETRY)
                    continue
                if not done():
                    self._check(outcome, action=action)
                break
        logger.info("event=raft_membership_changed change=%s voter=%s", kind, address)

    async def _wait_inflight_change(self, deadline: float, action: str) -> None:
        previous = self._membership_inflight
        if previous is None or previous.done():
            return
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                await asyncio.shield(previous)
        except TimeoutError:
            raise errors.Unavailable(
                f"{action}: the previous membership change has not committed yet "
                "(has the new voter started?)"
            ) from None

    def _membership_done(self, kind: str, address: str) -> bool:
        members = {node.id for node in self._running().otherNodes}
        return (address in members) == (kind == "add")

    async def transfer_leadership(self, *, timeout: float = 10.0) -> None:
        """Hand leadership to the most caught-up voter and wait until this node steps down."""
        syncobj = self._require_leader("transfer leadership")
        if not syncobj.otherNodes:
            raise errors.FailedPrecondition("a single-voter cluster cannot transfer leadership")
        deadline = time.monotonic() + timeout
        while syncobj._isLeader() and time.monotonic() < deadline:
            outcome = await self._submit(
                lambda callback: self._thunks.append(
                    lambda: syncobj.transferLeadership(callback=callback)
                ),
                timeout=deadline - time.monotonic(),
                action="transfer leadership",
            )
            if outcome[1] not in (FAIL_REASON.SUCCESS, FAIL_REASON.REQUEST_DENIED):
                self._check(outcome, action="transfer leadership")
            # SUCCESS only means "TimeoutNow sent"; DENIED: no voter caught up yet. Either way:
            await self._until(lambda: not syncobj._isLeader(), min(1.0, timeout))
        if syncobj._isLeader():
            raise errors.Unavailable(
                f"transfer leadership: still the leader after {timeout:g}s "
                "(no voter caught up, or the election failed)"
            )
        logger.info("event=raft_leadership_transferred to=%s", self._leader_address())

    async def _submit(
        self, submit: Callable[[Callback], None], *, timeout: float, action: str
    ) -> tuple[Any, int]:
        """Hand a command to pysyncobj and wait for its outcome ``(result, FAIL_REASON)``."""
        return await self._outcome(self._enqueue(submit), timeout=timeout, action=action)

    def _enqueue(self, submit: Callable[[Callback], None]) -> asyncio.Future[tuple[Any, int]]:
        """The one thread crossing: pysyncobj's callback settles an asyncio future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, int]] = loop.create_future()

        def on_done(result: Any, reason: int) -> None:  # on pysyncobj's thread
            with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, future, result, reason)

        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        submit(on_done)
        return future

    async def _outcome(
        self,
        future: asyncio.Future[tuple[Any, int]],
        *,
        timeout: float,
        action: str,
        accepted: Callable[[], bool] | None = None,
    ) -> tuple[Any, int]:
        """Wait for ``future`` (never cancelling it: pysyncobj will still report).

        ``accepted``: also return ``(None, SUCCESS)`` as soon as this predicate holds, without
        waiting for the commit.
        """
        try:
            async with asyncio.timeout(max(timeout, 0.0)):
                while accepted is not None and not future.done():
                    if accepted():
                        return None, FAIL_REASON.SUCCESS
                    await asyncio.sleep(_POLL)
                return await asyncio.shield(future)
        except TimeoutError:
            raise errors.Unavailable(
                f"{action}: not committed within {timeout:g}s (outcome unknown)"
            ) from None

    def _check(self, outcome: tuple[Any, int], *, action: str) -> Any:
        """The result of a successful command, or the domain error for its FAIL_REASON."""
        result, reason = outcome
        if reason == FAIL_REASON.SUCCESS:
            return result
        logger.info(
            "event=raft_command_failed action=%r reason=%s", action, failures.reason_name(reason)
        )
        raise failures.error_for(reason, action=action, leader=self._leader_address())

    # -------------------------------------------------------------------------------- reads

    def status(self) -> RaftStatus:
        syncobj = self._syncobj
        report = self._watch.report()
        if syncobj is None:
            return raft_status.to_status(
                raft_status.Observed.unstarted(
                    self._self_address or "", tuple(self._others), closed=self._closed
                )
            )
        return raft_status.to_status(
            raft_status.Observed(
                self_address=self._self_address or "",
                raft_state=self._raft_state,
                is_leader=bool(syncobj._isLeader()) and not self._closed,
                leader=self._leader_address(),
                term=int(syncobj.raftCurrentTerm),
                commit_index=int(syncobj.raftCommitIndex),
                applied_index=int(syncobj.raftLastApplied),
                other_voters=tuple(node.id for node in syncobj.otherNodes),
                has_quorum=bool(syncobj.hasQuorum),
                ready=bool(syncobj.isReady()),
                leader_changes=self._leader_changes,
                closed=self._closed,
                auth_failures=report.failures,
                problem=raft_status.problem_from(report),
                refused=tuple(sorted(self._refusals.counts().items())),
            )
        )

    def is_leader(self) -> bool:
        return self._syncobj is not None and not self._closed and bool(self._syncobj._isLeader())

    def leader(self) -> str:
        return "" if self._closed else self._leader_address()

    def peer_activity(self) -> dict[bytes, float]:
        syncobj = self._syncobj
        if syncobj is None or self._closed:
            return {}
        return syncobj._SyncObj__transport.peer_activity()  # type: ignore[no-any-return]

    def voters(self) -> tuple[str, ...]:
        syncobj = self._syncobj
        others = self._others if syncobj is None else [node.id for node in syncobj.otherNodes]
        voters = set(others)
        if self._self_address:
            voters.add(self._self_address)
        return tuple(sorted(voters))

    # ------------------------------------------------------------------------------ helpers

    def _running(self) -> Any:
        if self._syncobj is None:
            raise errors.Unavailable("the raft store has not been started")
        if self._closed:
            raise errors.Unavailable("the raft store is closed")
        return self._syncobj

    def _require_leader(self, action: str) -> Any:
        syncobj = self._running()
        if not syncobj._isLeader():
            leader = self._leader_address()
            where = f"the leader is {leader}" if leader else "no leader is known"
            raise errors.NotLeader(
                f"{action}: this node is not the raft leader ({where})", leader=leader
            )
        return syncobj

    def _others_now(self) -> bool:
        return bool(self._syncobj is not None and self._syncobj.otherNodes)

    def _leader_address(self) -> str:
        leader = None if self._syncobj is None else self._syncobj._getLeader()
        return "" if leader is None else str(leader.id)

    async def _until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_POLL)
        return True

    # ----------------------------------------------- callbacks, on pysyncobj's tick thread

    def _on_tick_thread(self) -> None:
        """Runs at the end of every tick, just before pysyncobj polls its sockets."""
        while self._thunks:
            self._thunks.popleft()()
        self._remember_voters()
        if self._pending and self._wake is not None and not self._others_now():
            # A single voter commits on the tick after it appended; no peer's answer wakes the
            # poller, so without this each commit waits a whole tick (50 ms instead of ~0.3 ms).
            self._wake.notify()
        leader = self._leader_address() or None
        if leader is not None and leader != self._last_leader:
            self._leader_changes += 1
            logger.info(
                "event=raft_leader_changed leader=%s term=%d self=%s",
                leader,
                self._syncobj.raftCurrentTerm,
                self._self_address or "-",
            )
        self._last_leader = leader or self._last_leader

    def _on_state_changed(self, old: int, new: int) -> None:
        self._raft_state = new
        names = {0: "follower", 1: "candidate", 2: "leader"}
        logger.info(
            "event=raft_role_changed self=%s from=%s to=%s",
            self._self_address or "-",
            names.get(old, old),
            names.get(new, new),
        )

    def _on_ready(self) -> None:
        logger.info("event=raft_ready self=%s", self._self_address or "-")


def _settle(future: asyncio.Future[tuple[Any, int]], result: Any, reason: int) -> None:
    if not future.done():
        future.set_result((result, reason))
