"""Fixtures for the loopback node tests: real NodeDaemons, real Raft and gRPC, fake WireGuard.

``cluster`` is module-scoped (one 3-node mesh per test module and xdist worker; its tests run in
the module's event loop and leave it as they found it). ``lab``, for one test, is in
tests/integration/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from integration.node.meshlab import Cluster, Lab


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    lab = Lab(tmp_path_factory.mktemp("cluster"))
    try:
        # The tests of this module share the cluster and join and leave guests one after the
        # other, each expecting the next address: released addresses are reused at once here
        # (test_lifecycle checks the quarantine itself).
        reuse = ("--mesh.address-quarantine=0",)
        bootstrap = await lab.start("n1", extra=reuse)
        voter = await lab.start("n2", join=bootstrap, voter=True, extra=reuse)
        observer = await lab.start("n3", join=bootstrap, extra=reuse)
        yield Cluster(lab, bootstrap, voter, observer)
    finally:
        await lab.close()
