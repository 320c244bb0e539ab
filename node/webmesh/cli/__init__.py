"""wmctl and its typed gRPC client (``webmesh.cli.client``, also used by the node and the operator).

May import webmesh.api (generated messages, status table) and webmesh.mesh; never the daemon.
"""
