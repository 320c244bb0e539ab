"""Import a few submodules of a big package without running the package's ``__init__``.

Some libraries import every feature from their ``__init__`` (pyroute2: NDB, IPDB, IPVS, nl80211,
about 100 modules; prometheus_client: its HTTP servers, WSGI, urllib and the email package), and
importing any submodule runs that ``__init__`` first. A node uses a few classes of each and pays
megabytes of resident memory for the rest (``bench/idle_node.py``; node/DESIGN.md, "Memory at
idle").

:func:`register_bare_package` puts the package in ``sys.modules`` uninitialised, so that
``import pkg.sub`` loads ``pkg/sub.py`` alone (these libraries' modules import each other by full
submodule name). The package stays whole for anyone else in the process: an attribute that is not
a submodule (``pyroute2.NDB``, ``from prometheus_client import *``) runs the real ``__init__``
first (a PEP 562 module ``__getattr__``). A package imported before is left as it is.

:func:`standing_in` lends a library a small module in place of one it imports only for code it
never runs, for the time of that import; later imports of the name get the real module.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator


def register_bare_package(name: str) -> None:
    """Register ``name`` without running its ``__init__`` (see the module docstring)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def __getattr__(attribute: str) -> object:
        try:  # `from pkg import sub` inside the library: that submodule only
            return importlib.import_module(f"{name}.{attribute}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.{attribute}":
                raise
        # Any other name: the whole package, as a plain `import pkg` gives it.
        if vars(package).pop("__getattr__", None) is not None:
            loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = package


@contextlib.contextmanager
def standing_in(name: str, module: types.ModuleType) -> Iterator[None]:
    """``import name`` gives ``module`` inside the block; after it, the real one (imported then).

    For an import a library makes at its top for code a node never runs; the library keeps
    the stand-in it was given. A module already imported is not replaced.
    """
    if name in sys.modules:
        yield
        return
    sys.modules[name] = module
    try:
        yield
    finally:
        if sys.modules.get(name) is module:
            del sys.modules[name]
