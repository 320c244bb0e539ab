"""The domain error tree, on the lowest floor: it imports nothing of webmesh, and everyone may
import it (kopf keeps its error tree the same way).

Every layer raises these (chaining library errors with ``raise ... from``); the API maps them to
gRPC status codes in one table and wmctl maps those to exit codes in another.
"""

from __future__ import annotations


class MeshError(Exception):
    """Base of every error the mesh reports to a caller."""

    kind = "Internal"


class NotLeader(MeshError):
    """The operation must run on the Raft leader and this node is not it."""

    kind = "NotLeader"

    def __init__(
        self, message: str = "this node is not the leader", *, leader: str = "", leader_id: str = ""
    ) -> None:
        super().__init__(message)
        self.leader = leader  # the leader's API address
        self.leader_id = leader_id  # its node id: the name its TLS certificate carries


class NotFound(MeshError):
    kind = "NotFound"


class Removed(NotFound):
    """This node is no longer in the mesh (removed by an administrator, or purged)."""


class Rejoin(MeshError):
    """This node must join its mesh again: the servers now serve the mesh restored from a
    backup, and this replica's Raft log belongs to the mesh before."""

    kind = "Rejoin"


class AlreadyExists(MeshError):
    kind = "AlreadyExists"


class InvalidArgument(MeshError):
    kind = "InvalidArgument"


class PermissionDenied(MeshError):
    kind = "PermissionDenied"


class Unauthenticated(MeshError):
    kind = "Unauthenticated"


class Unavailable(MeshError):
    kind = "Unavailable"


class Exhausted(MeshError):
    """A finite resource (such as the address pool) has run out."""

    kind = "Exhausted"


class FailedPrecondition(MeshError):
    """The mesh is not in a state that allows the operation (for example: not bootstrapped)."""

    kind = "FailedPrecondition"


ERRORS_BY_KIND: dict[str, type[MeshError]] = {
    cls.kind: cls
    for cls in (
        MeshError,
        NotLeader,
        NotFound,
        AlreadyExists,
        InvalidArgument,
        PermissionDenied,
        Unauthenticated,
        Unavailable,
        Exhausted,
        FailedPrecondition,
    )
}


def error_from_kind(kind: str, message: str) -> MeshError:
    """Rebuild an error that crossed a process boundary as (kind, message)."""
    return ERRORS_BY_KIND.get(kind, MeshError)(message)
