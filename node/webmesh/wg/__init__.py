"""The WireGuard data plane: the only package that imports pyroute2 or runs wireguard-go.

Drivers (kernel via netlink, userspace via wireguard-go's UAPI socket, an in-memory fake) share
the ``WireGuardDriver`` protocol over the frozen configs in ``webmesh.wg.config``. Planning a change
is a pure diff (``webmesh.wg.plan``). Must not import grpc, pysyncobj or other webmesh packages
except ``webmesh.errors`` and ``webmesh.narrowimport``: it knows nothing of the mesh model (the
reconciler above turns peers into configs). Its modules take pyroute2 from
``webmesh.wg.pyroute`` (rtnetlink and the WireGuard family only), never ``import pyroute2``,
which loads the whole library.
"""
