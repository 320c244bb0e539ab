"""Leader election with a ``coordination.k8s.io/v1`` Lease, as controller-runtime does it.

``kubernetes.leaderelection`` (v37) is thread-based and blocking; this is a small asyncio loop
over the :class:`~webmesh_operator.k8s.Cluster` seam with exactly the verbs the chart grants
(get, create, update). Updates carry the ``resourceVersion`` read, so two candidates racing for
an expired Lease cannot both win (the loser gets 409).

Expiry is judged by the local monotonic clock, not by the holder's timestamps (clocks differ
between machines): a Lease held by someone else is taken over only after its record has not
changed for ``leaseDurationSeconds`` as observed here. A leader that cannot renew within the
lease duration considers itself deposed; the caller stops the operator and exits (the pod
restarts), so two leaders never run side by side for long.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

from webmesh_operator import k8s

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Config:
    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0
    renew_interval: float = 5.0
    retry_interval: float = 2.0


def _microtime(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Acquire, hold and release one Lease."""

    def __init__(
        self,
        cluster: k8s.Cluster,
        config: Config,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.cluster = cluster
        self.config = config
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self._last_renewal: float | None = None

    @property
    def leading(self) -> bool:
        return self._last_renewal is not None

    async def acquire(self) -> None:
        """Return once this process holds the Lease (try every ``retry_interval``)."""
        announced = False
        while not await self.try_acquire_or_renew():
            if not announced:
                logger.info(
                    "waiting for leadership: Lease %s/%s is held by %s",
                    self.config.namespace,
                    self.config.name,
                    self._holder(),
                )
                announced = True
            await asyncio.sleep(self.config.retry_interval)
        logger.info(
            "leading: holding Lease %s/%s as %s",
            self.config.namespace,
            self.config.name,
            self.config.identity,
        )

    async def hold(self) -> None:
        """Renew every ``renew_interval``; return when leadership is lost."""
        while True:
            await asyncio.sleep(self.config.renew_interval)
            if await self.try_acquire_or_renew():
                continue
            last = self._last_renewal if self._last_renewal is not None else 0.0
            if self._holder() not in (None, "", self.config.identity):
                logger.error(
                    "lost leadership: Lease %s/%s is now held by %s",
                    self.config.namespace,
                    self.config.name,
                    self._holder(),
                )
                self._last_renewal = None
                return
            if self._monotonic() - last >= self.config.lease_duration:
                logger.error(
                    "lost leadership: could not renew Lease %s/%s for %.0f s",
                    self.config.namespace,
                    self.config.name,
                    self.config.lease_duration,
                )
                self._last_renewal = None
                return

    async def release(self) -> None:
        """Give the Lease up (on a clean stop) so the next leader need not wait for expiry."""
        if not self.leading:
            return
        self._last_renewal = None
        try:
            lease = await self.cluster.get("Lease", self.config.namespace, self.config.name)
            if lease is None or lease.get("spec", {}).get("holderIdentity") != self.config.identity:
                return
            lease["spec"] = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
            await self.cluster.replace(lease)
            logger.info("released Lease %s/%s", self.config.namespace, self.config.name)
        except k8s.ApiError as error:
            logger.warning(
                "could not release Lease %s/%s: %s", self.config.namespace, self.config.name, error
            )

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this process holds the Lease afterwards."""
        try:
            lease = await self.cluster.get("Lease", self.config.namespace, self.config.name)
            if lease is None:
                await self.cluster.create(self._new_lease())
                return self._renewed()
            self._observe(lease)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity") or ""
            if holder and holder != self.config.identity and not self._expired(spec):
                return False
            await self.cluster.replace(self._taken(lease, holder))
            return self._renewed()
        except k8s.ApiError as error:
            level = logging.DEBUG if error.status == 409 else logging.WARNING
            logger.log(level, "Lease %s/%s: %s", self.config.namespace, self.config.name, error)
            return False

    def _renewed(self) -> bool:
        self._last_renewal = self._monotonic()
        return True

    def _holder(self) -> str | None:
        return None if self._observed is None else str(self._observed[0])

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        record = (
            spec.get("holderIdentity") or "",
            spec.get("renewTime"),
            spec.get("leaseTransitions"),
        )
        if record != self._observed:
            self._observed, self._observed_at = record, self._monotonic()

    def _expired(self, spec: dict[str, Any]) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        return self._monotonic() - self._observed_at >= duration

    def _new_lease(self) -> dict[str, Any]:
        now = _microtime(self._wall_clock())
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.config.name, "namespace": self.config.namespace},
            "spec": {
                "holderIdentity": self.config.identity,
                "leaseDurationSeconds": int(self.config.lease_duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            },
        }

    def _taken(self, lease: dict[str, Any], holder: str) -> dict[str, Any]:
        """The Lease renewed (we hold it) or taken over (another held it); keeps resourceVersion."""
        now = _microtime(self._wall_clock())
        spec = dict(lease.get("spec") or {})
        if holder != self.config.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        spec.update(
            holderIdentity=self.config.identity,
            leaseDurationSeconds=int(self.config.lease_duration),
            renewTime=now,
        )
        return {**lease, "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": spec}
