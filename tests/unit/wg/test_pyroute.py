"""webmesh.wg.pyroute: pyroute2's rtnetlink and WireGuard classes without the rest of pyroute2,
and a ``pyroute2`` package that still works whole for anyone who asks for more."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
import textwrap


def run(code: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr


def test_the_narrow_import_leaves_out_the_rest_of_pyroute2() -> None:
    run("""
        import sys
        from webmesh.wg import pyroute
        assert "pyroute2.iproute.linux" in sys.modules
        for name in ("pyroute2.ndb.main", "pyroute2.ipdb", "pyroute2.ipvs", "pyroute2.conntrack",
                     "pyroute2.netlink.nl80211", "pyroute2.plan9", "sqlite3"):
            assert name not in sys.modules, name
        import logging
        handlers = logging.getLogger("pyroute2").handlers
        assert any(isinstance(h, logging.NullHandler) for h in handlers)  # as pyroute2 sets up
        """)


def test_the_package_loads_whole_on_first_use_and_names_the_same_classes() -> None:
    run("""
        from webmesh.wg import pyroute
        import pyroute2
        from pyroute2 import config  # a submodule: imported alone
        assert "pyroute2.ndb.main" not in __import__("sys").modules
        assert pyroute2.AsyncIPRoute is pyroute.AsyncIPRoute  # any other name: the whole package
        assert pyroute2.IPRoute is pyroute.IPRoute
        assert pyroute2.WireGuard is pyroute.WireGuard
        assert pyroute2.AsyncWireGuard is pyroute.AsyncWireGuard
        assert pyroute2.NetlinkError is pyroute.NetlinkError
        assert pyroute2.NDB.__module__ == "pyroute2.ndb.main"
        assert pyroute2.__version__
        try:
            pyroute2.no_such_name
        except AttributeError:
            pass
        else:
            raise AssertionError("pyroute2.no_such_name")
        """)


def test_dunder_names_and_a_full_import_first_are_untouched() -> None:
    run("""
        from webmesh.wg import pyroute
        import pyroute2
        assert pyroute.IPRoute in pyroute2.__all__  # not a submodule: the whole package
        """)
    run("""
        import pyroute2
        full = pyroute2
        from webmesh.wg import pyroute
        import sys
        assert sys.modules["pyroute2"] is full and "__getattr__" not in vars(full)
        assert pyroute.AsyncIPRoute is full.AsyncIPRoute
        """)


def test_pyroute2_gets_a_stand_in_for_unittest_mock_and_everyone_else_the_real_one() -> None:
    run("""
        import sys
        from webmesh.wg import pyroute
        from pyroute2.netlink.rtnl import iprsocket
        assert "unittest.mock" not in sys.modules and "unittest.case" not in sys.modules
        queue = iprsocket.NotLocal.msg_queue
        assert type(queue).__name__ == "_Absorbing"
        assert type(queue.put_nowait(0, b"")).__name__ == "_Absorbing"  # as a Mock would
        from unittest import mock
        assert mock is sys.modules["unittest.mock"] and isinstance(mock.Mock(), mock.Mock)
        assert mock is not iprsocket.mock
        """)


def test_the_synchronous_socket_that_holds_the_stand_in_still_works() -> None:
    """``IPRSocket`` is the one user of ``NotLocal``: a dump of the links through it, and close."""
    run("""
        from webmesh.wg import pyroute
        from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
        from pyroute2.netlink.rtnl import RTM_GETLINK
        from pyroute2.netlink.rtnl.iprsocket import IPRSocket
        with IPRSocket() as sock:
            sock.put(None, RTM_GETLINK, msg_flags=NLM_F_REQUEST | NLM_F_DUMP)
            links = [m for m in sock.get() if m["header"]["type"] == RTM_GETLINK - 2]
        assert links and links[0].get_attr("IFLA_IFNAME")
        """)


def test_pyroute2_uses_unittest_mock_only_for_that_placeholder() -> None:
    """Why the stand-in is enough, checked against the pinned pyroute2: a release that uses
    ``unittest.mock`` for more fails here, not in a running node."""
    spec = importlib.util.find_spec("pyroute2")
    assert spec is not None and spec.submodule_search_locations
    package = pathlib.Path(spec.submodule_search_locations[0])
    users = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "unittest" in path.read_text() and "fixtures" not in path.parts
    ]
    assert users == ["netlink/rtnl/iprsocket.py"]
    source = (package / "netlink/rtnl/iprsocket.py").read_text()
    assert source.count("mock.") == 1 and "msg_queue = mock.Mock()" in source
