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

from webmesh import narrowimport

narrowimport.register_bare_package("pyroute2")
# pyroute2's rtnetlink socket imports ``unittest.mock`` for its mock mode; ``unittest``'s own
# ``__init__`` would load the whole test framework (~0.4 MB) into a node that never tests.
narrowimport.register_bare_package("unittest")

# What pyroute2's __init__ sets up that is not a feature: its logger (level 0, a NullHandler).
import pyroute2.config.log  # noqa: E402,F401
from pyroute2.iproute.linux import AsyncIPRoute, IPRoute  # noqa: E402
from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.generic.wireguard import AsyncWireGuard, WireGuard  # noqa: E402

__all__ = ["AsyncIPRoute", "AsyncWireGuard", "IPRoute", "NetlinkError", "WireGuard"]
