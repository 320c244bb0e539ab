"""pyroute2, narrowly: the classes ``webmesh.wg`` uses, without pyroute2's package ``__init__``.

Every other module of this package takes pyroute2 from here. ``import pyroute2`` (or of any of its
submodules, which imports the package first) runs ``pyroute2/__init__.py``, which imports every
feature of the library: NDB (with sqlite3 and logging.handlers), IPDB, IPVS, ipset, conntrack,
nftables, nl80211, devlink, plan9... about 200 modules, 9 MB of heap and 1 MB of library pages in
a process that uses two of them. We need rtnetlink (``AsyncIPRoute``, ``IPRoute``) and the
WireGuard generic-netlink family only, about 100 modules.

So this module registers the ``pyroute2`` package without running its ``__init__``
(:mod:`webmesh.narrowimport`) and imports just those submodules. The classes are the very objects
``pyroute2.AsyncIPRoute`` etc. name on Linux.
"""

from __future__ import annotations

import types

from webmesh import narrowimport

narrowimport.register_bare_package("pyroute2")
# pyroute2's rtnetlink socket module (``pyroute2.netlink.rtnl.iprsocket``, 0.9.7) imports
# ``unittest.mock`` for one line: ``class NotLocal: msg_queue = mock.Mock()``, a placeholder of
# the synchronous ``IPRSocket``, which webmesh does not use. ``unittest.mock`` costs a node
# 0.45 MB (bench/idle_node.py), so that import gets a stand-in whose ``Mock`` absorbs attributes
# and calls as a Mock does; ``unittest``'s own ``__init__`` (the test framework) is left out
# too. Anyone importing ``unittest.mock`` later gets the real one.
narrowimport.register_bare_package("unittest")


class _Absorbing:
    """Any attribute and any call give another one: what ``NotLocal.msg_queue`` needs of a
    ``Mock`` (``tests/unit/wg/test_pyroute.py`` checks pyroute2 asks nothing more)."""

    def __getattr__(self, name: str) -> _Absorbing:
        return _Absorbing()

    def __call__(self, *args: object, **kwargs: object) -> _Absorbing:
        return _Absorbing()


_MOCK_STAND_IN = types.ModuleType("unittest.mock", "webmesh.wg.pyroute's stand-in, see there")
_MOCK_STAND_IN.Mock = _Absorbing  # type: ignore[attr-defined]

# What pyroute2's __init__ sets up that is not a feature: its logger (level 0, a NullHandler).
import pyroute2.config.log  # noqa: E402,F401

with narrowimport.standing_in("unittest.mock", _MOCK_STAND_IN):
    from pyroute2.iproute.linux import AsyncIPRoute, IPRoute
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.generic.wireguard import AsyncWireGuard, WireGuard  # noqa: E402

__all__ = ["AsyncIPRoute", "AsyncWireGuard", "IPRoute", "NetlinkError", "WireGuard"]
