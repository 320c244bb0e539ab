"""MeshDNS: a name for every node, served by the servers on their mesh addresses.

The adapters of the DNS wire (dnspython): the answers for the mesh domain (``answer``), the
UDP and TCP server that faces strangers (``server``), forwarding other names to the host's
resolvers (``forward``), and the host's resolver configuration (``resolvconf``).

Imports errors and logs only; never the state machine: the service floor hands the server a
lookup function (webmesh.mesh.names answers it).
"""
