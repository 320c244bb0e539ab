"""The mesh state machine: an immutable ``MeshState`` and the deterministic ``apply``.

``apply(state, command)`` returns a new state, a result for the proposer and the effects (what
changed), and never mutates its input. Each apply copies only the top-level maps it touches, so a
change costs the same in a 10-node and a 10,000-node mesh (up to a dict copy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeVar

from webmesh import errors
from webmesh.authz.model import is_builtin, is_read_only
from webmesh.mesh import commands, ipam
from webmesh.mesh.model import Networks, Node, NodeRole, validate_endpoint, validate_node
from webmesh.mesh.objects import (
    Kind,
    MeshObject,
    Objects,
    Peering,
    Route,
    check_peering,
    check_references,
)
from webmesh.mesh.pmap import PersistentMap

SNAPSHOT_VERSION = 1
_V = TypeVar("_V")


_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NO_NODES: PersistentMap[Node] = PersistentMap()
_NO_OWNERS: PersistentMap[str] = PersistentMap()


@dataclass(frozen=True, slots=True)
class NodeAdded:
    node: Node


@dataclass(frozen=True, slots=True)
class NodeUpdated:
    before: Node
    after: Node


@dataclass(frozen=True, slots=True)
class NodeRemoved:
    node: Node


@dataclass(frozen=True, slots=True)
class Bootstrapped:
    networks: Networks


@dataclass(frozen=True, slots=True)
class ObjectChanged:
    """A policy object was put or deleted (``after`` is None when deleted)."""

    kind: Kind
    before: MeshObject | None
    after: MeshObject | None


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """These nodes went offline or came back (``SetPresence``)."""

    node_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class PathChanged:
    """How two nodes without an endpoint reach each other changed (``SetPath``)."""

    node_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Reset:
    """The whole state was replaced (a snapshot was installed): anything may have changed."""


Effect = (
    NodeAdded
    | NodeUpdated
    | NodeRemoved
    | Bootstrapped
    | ObjectChanged
    | PresenceChanged
    | PathChanged
    | Reset
)


def changed_node_ids(effects: tuple[Effect, ...]) -> frozenset[str] | None:
    """The ids of the nodes the effects touch; None when everything may have changed."""
    ids: set[str] = set()
    for effect in effects:
        match effect:
            case NodeAdded(node) | NodeRemoved(node):
                ids.add(node.id)
            case NodeUpdated(before, _):
                ids.add(before.id)
            case PresenceChanged(node_ids) | PathChanged(node_ids):
                ids.update(node_ids)
            case ObjectChanged(kind, before, after):
                if kind in (Kind.GROUP, Kind.NETWORKACL):
                    return None  # who may reach whom may have changed anywhere
                ids.update(o.node for o in (before, after) if isinstance(o, Route))
                ids.update(o.gateway for o in (before, after) if isinstance(o, Peering))
            case Bootstrapped() | Reset():
                return None
    return frozenset(ids)


@dataclass(frozen=True, slots=True)
class MeshState:
    """One whole, consistent view of the mesh. Never mutated: apply makes a new one."""

    index: int = 0  # how many commands have been applied (successfully or not)
    networks: Networks | None = None
    # Persistent maps (webmesh.mesh.pmap): a change copies O(√n) of them, not all of them.
    nodes: PersistentMap[Node] = field(default_factory=lambda: _NO_NODES)
    address_owners: PersistentMap[str] = field(default_factory=lambda: _NO_OWNERS)  # prefix -> id
    # prefix -> unix seconds its owner was removed: proposers let it rest before reuse
    # (``released_at``); forgotten after RELEASE_MEMORY.
    released: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    # Derived indexes (rebuilt from nodes on restore, never snapshotted), so that computing one
    # node's peer changes costs O(1) however large the mesh is:
    relay_id: str = ""  # the oldest online node with an endpoint: relays for nodes without one
    routing_nodes: frozenset[str] = frozenset()  # ids of the nodes that advertise routes
    # ids of the nodes that have an endpoint: the only possible peers of a node without one
    endpoint_nodes: frozenset[str] = frozenset()
    dns_nodes: frozenset[str] = frozenset()  # ids of the nodes that serve MeshDNS
    # ids of the replicas without an endpoint that servers have seen from outside: any two of
    # them try to reach each other directly (hole punching, ``webmesh.mesh.peers``)
    punch_nodes: frozenset[str] = frozenset()
    # pair_key(a, b) -> "direct" or "relayed": what came of two punch nodes' hole punch
    paths: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    objects: Objects = field(default_factory=Objects)  # RBAC, ACLs, routes, with their views
    # Raised by RotateRaftKeys: a replica whose Node.raft_key_epoch is lower makes a new key.
    raft_key_epoch: int = 0
    # node id -> when it was last seen (unix seconds), for the nodes the leader sees no more
    # (``SetPresence``); every other node is online. Small: only the offline ones.
    offline: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    # node id -> how many WireGuard key rotations were asked of it (RequestKeyRotation); the
    # node rotates while this is above the count it last served (webmesh.daemon.wg_keys).
    key_rotations: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    # A random id given when the mesh was bootstrapped or restored from a backup: a replica of
    # the mesh before a restore sees that the servers now serve another one ("": older meshes).
    generation: str = ""
    restoring: bool = False  # a Restore was applied and its last RestoreNodes not yet

    @property
    def bootstrapped(self) -> bool:
        return self.networks is not None

    def is_online(self, node_id: str) -> bool:
        return node_id not in self.offline

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise errors.NotFound(f"node {node_id!r} not found") from None


@dataclass(frozen=True, slots=True)
class Transition:
    state: MeshState
    result: commands.Result
    effects: tuple[Effect, ...] = ()


def apply(state: MeshState, command: commands.Command) -> Transition:
    """Apply one command. Rejections leave the state unchanged except for its index."""
    advanced = replace(state, index=state.index + 1)
    try:
        return _dispatch(advanced, command)
    except errors.MeshError as exc:
        return Transition(advanced, commands.Result.failure(exc))


def _dispatch(state: MeshState, command: commands.Command) -> Transition:
    handler = _HANDLERS.get(type(command))
    if handler is None:  # pragma: no cover
        raise AssertionError(f"unhandled command {command!r}")
    return handler(state, command)


def apply_encoded(state: MeshState, data: bytes) -> Transition:
    """Apply a command as it came out of the log; a malformed entry is a rejected no-op."""
    try:
        command = commands.decode(data)
    except errors.MeshError as exc:
        return Transition(replace(state, index=state.index + 1), commands.Result.failure(exc))
    return apply(state, command)


def _bootstrap(state: MeshState, command: commands.Bootstrap) -> Transition:
    if state.networks is not None:
        raise errors.AlreadyExists("the mesh is already bootstrapped")
    _check_networks(command.networks)
    seeded = state.objects.with_policy(command.policy)
    for kind, obj in command.seed:
        seeded = seeded.put(kind, obj)
    new = replace(state, networks=command.networks, objects=seeded, generation=command.generation)
    return Transition(new, commands.Result(), (Bootstrapped(command.networks),))


def _check_networks(networks: Networks) -> None:
    ipam.parse_ipv4_network(networks.ipv4)
    if networks.ipv6:
        ipam.parse_ipv6_network(networks.ipv6)


def _restore(state: MeshState, command: commands.Restore) -> Transition:
    """Everything of the snapshot but its nodes (``RestoreNodes`` brings them)."""
    if state.networks is not None:
        raise errors.AlreadyExists("the mesh is already bootstrapped: nothing to restore into")
    if not command.generation:
        raise errors.InvalidArgument("a restore needs a generation")
    raw = command.snapshot
    if raw.get("v") != SNAPSHOT_VERSION or not raw.get("networks") or raw.get("nodes"):
        raise errors.InvalidArgument("a Restore carries a snapshot without its nodes")
    try:
        head = from_snapshot({**raw, "index": state.index})
        # kept whole: the nodes they name come in the RestoreNodes that follow
        offline = MappingProxyType({str(i): float(t) for i, t in raw.get("offline", {}).items()})
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.InvalidArgument(f"a malformed Restore: {exc!r}") from exc
    networks = head.networks
    assert networks is not None  # checked above
    _check_networks(networks)
    new = replace(head, offline=offline, generation=command.generation, restoring=True)
    return Transition(new, commands.Result(), (Bootstrapped(networks),))


def _restore_nodes(state: MeshState, command: commands.RestoreNodes) -> Transition:
    """Add a restore's node records (all at once: the derived indexes are rebuilt once)."""
    if not state.restoring or command.generation != state.generation:
        raise errors.FailedPrecondition(
            f"no restore of generation {command.generation!r} is under way"
        )
    assert state.networks is not None  # restoring implies a Restore was applied
    owners: dict[str, str] = {}
    for node in command.nodes:
        validate_node(node)
        if node.id in state.nodes:
            raise errors.AlreadyExists(f"node {node.id!r} was already restored")
        _check_addresses(state, state.networks, node)
        for prefix in node.addresses():
            if owners.setdefault(prefix, node.id) != node.id:
                raise errors.AlreadyExists(f"address {prefix} is held by two restored nodes")
    nodes = state.nodes.changed(put={node.id: node for node in command.nodes})
    offline = state.offline
    if command.last:  # presence of nodes the snapshot does not hold means nothing
        offline = MappingProxyType({i: t for i, t in offline.items() if i in nodes})
    new = replace(
        state,
        nodes=nodes,
        address_owners=state.address_owners.changed(put=owners),
        offline=offline,
        relay_id=elect_relay(nodes.values(), offline),
        routing_nodes=state.routing_nodes | {n.id for n in command.nodes if n.routes},
        endpoint_nodes=state.endpoint_nodes | {n.id for n in command.nodes if n.endpoints},
        dns_nodes=state.dns_nodes | {n.id for n in command.nodes if n.dns_address},
        punch_nodes=state.punch_nodes | {n.id for n in command.nodes if punches(n)},
        restoring=not command.last,
    )
    return Transition(new, commands.Result(value={"restored": len(command.nodes)}), (Reset(),))


def _put_object(
    state: MeshState, kind: Kind, obj: MeshObject, allow_missing_nodes: bool = False
) -> Transition:
    """Store one policy object, refusing dangling references here, in the replicated apply.

    Checked on apply, not by the proposer alone, so that a proposal made from a stale view (the
    node left, the role was deleted in between) is refused identically on every replica; the
    rejection reaches the caller as the proposal's result. The bootstrap seed is not checked:
    it is built in and may name objects of the same seed.
    """
    if state.networks is None:
        raise errors.FailedPrecondition("the mesh is not bootstrapped yet")
    if is_read_only(f"{kind.value}s", obj.name):
        raise errors.PermissionDenied(f"{kind.value} {obj.name!r} is built in and read-only")
    check_references(kind, obj, state.objects, state.nodes, allow_missing_nodes)
    if isinstance(obj, Peering):
        networks = (state.networks.ipv4, state.networks.ipv6)
        check_peering(obj, tuple(n for n in networks if n), state.objects)
    before = state.objects.by_kind[kind].get(obj.name)
    new = replace(state, objects=state.objects.put(kind, obj))
    return Transition(new, commands.Result(), (ObjectChanged(kind, before, obj),))


def _delete_object(state: MeshState, kind: Kind, name: str) -> Transition:
    if is_builtin(f"{kind.value}s", name):
        raise errors.PermissionDenied(f"{kind.value} {name!r} is built in and cannot be deleted")
    before = state.objects.get(kind, name)
    new = replace(state, objects=state.objects.delete(kind, name))
    return Transition(new, commands.Result(), (ObjectChanged(kind, before, None),))


def _put_node(state: MeshState, node: Node, replaces_key: str = "") -> Transition:
    if state.networks is None:
        raise errors.FailedPrecondition("the mesh is not bootstrapped yet")
    validate_node(node)
    _check_addresses(state, state.networks, node)
    before = state.nodes.get(node.id)
    rotating = before is not None and bool(replaces_key) and before.public_key == replaces_key
    if before is not None and before.public_key != node.public_key and not rotating:
        raise errors.AlreadyExists(
            f"node {node.id!r} already exists with a different public key; "
            "remove it first or pick another node id"
        )
    owners = state.address_owners.changed(
        put=dict.fromkeys(node.addresses(), node.id),
        remove=before.addresses() if before is not None else (),
    )
    nodes = state.nodes.changed(put={node.id: node})
    offline = _without(state.offline, (node.id,))  # it just spoke to the leader
    new = replace(
        state,
        nodes=nodes,
        address_owners=owners,
        offline=offline,
        relay_id=_relay_after_put(state, nodes, offline, node),
        routing_nodes=_with_member(state.routing_nodes, node.id, bool(node.routes)),
        endpoint_nodes=_with_member(state.endpoint_nodes, node.id, bool(node.endpoints)),
        dns_nodes=_with_member(state.dns_nodes, node.id, bool(node.dns_address)),
        punch_nodes=_with_member(state.punch_nodes, node.id, punches(node)),
        paths=state.paths if _same_path(before, node) else _without_paths(state.paths, node.id),
    )
    effect: Effect = NodeAdded(node) if before is None else NodeUpdated(before, node)
    back = (PresenceChanged(frozenset({node.id})),) if node.id in state.offline else ()
    if before == node:
        return Transition(new, commands.Result(value={"changed": False}), back)
    return Transition(new, commands.Result(value={"changed": True}), (effect, *back))


def _rotate_raft_keys(state: MeshState) -> Transition:
    if state.networks is None:
        raise errors.FailedPrecondition("the mesh is not bootstrapped yet")
    epoch = state.raft_key_epoch + 1
    return Transition(replace(state, raft_key_epoch=epoch), commands.Result(value={"epoch": epoch}))


def _check_addresses(state: MeshState, networks: Networks, node: Node) -> None:
    if node.ipv4 and not ipam.contains(networks.ipv4, node.ipv4):
        raise errors.InvalidArgument(f"{node.ipv4} is outside the mesh network {networks.ipv4}")
    if node.ipv6 and not (networks.ipv6 and ipam.contains(networks.ipv6, node.ipv6)):
        raise errors.InvalidArgument(f"{node.ipv6} is outside the mesh network {networks.ipv6!r}")
    for prefix in node.addresses():
        owner = state.address_owners.get(prefix)
        if owner is not None and owner != node.id:
            raise errors.AlreadyExists(f"address {prefix} is already assigned to node {owner!r}")


def _remove_node(state: MeshState, node_id: str, at: float) -> Transition:
    node = state.node(node_id)
    nodes = state.nodes.changed(remove=(node_id,))
    owners = state.address_owners.changed(remove=node.addresses())
    released = {p: t for p, t in state.released.items() if at - t < RELEASE_MEMORY}
    released.update(dict.fromkeys(node.addresses(), at))
    offline = _without(state.offline, (node_id,))
    new = replace(
        state,
        nodes=nodes,
        address_owners=owners,
        released=MappingProxyType(released),
        offline=offline,
        key_rotations=_without(state.key_rotations, (node_id,)),
        relay_id=elect_relay(nodes.values(), offline)
        if state.relay_id == node_id
        else state.relay_id,
        routing_nodes=_with_member(state.routing_nodes, node_id, False),
        endpoint_nodes=_with_member(state.endpoint_nodes, node_id, False),
        dns_nodes=_with_member(state.dns_nodes, node_id, False),
        punch_nodes=_with_member(state.punch_nodes, node_id, False),
        paths=_without_paths(state.paths, node_id),
    )
    return Transition(new, commands.Result(), (NodeRemoved(node),))


RELEASE_MEMORY = 86400.0  # seconds a released address is remembered (longer than any quarantine)


def replicas_by_raft_key(state: MeshState) -> dict[str, Node]:
    """Raft public key (base64) -> the replica (voter or observer) holding it: its current key
    and, while it rotates, the one it replaces. O(n): callers keep it per state."""
    return {
        key: node
        for node in state.nodes.values()
        if node.role is not NodeRole.CLIENT
        for key in (node.raft_key, node.raft_key_previous)
        if key
    }


def released_at(state: MeshState, prefix: str) -> float | None:
    """When ``prefix`` was released by a removed node (unix seconds), or None."""
    return state.released.get(prefix)


def _relay_rank(node: Node) -> tuple[float, str]:
    return (node.joined_at, node.id)


def elect_relay(nodes: Iterable[Node], offline: Mapping[str, float] = _EMPTY) -> str:
    """The oldest online node that has an endpoint; the oldest with one when none is online
    ("" when none has). O(n): only on rare changes (an endpoint node leaves, goes offline or
    comes back)."""
    candidates = [n for n in nodes if n.endpoints]
    online = [n for n in candidates if n.id not in offline]
    return min(online or candidates, key=_relay_rank).id if candidates else ""


def _relay_after_put(
    state: MeshState, nodes: Mapping[str, Node], offline: Mapping[str, float], node: Node
) -> str:
    current = state.relay_id
    if current == node.id:
        return current if node.endpoints else elect_relay(nodes.values(), offline)
    if not node.endpoints:
        return current
    if not current or current in offline or _relay_rank(node) < _relay_rank(nodes[current]):
        return node.id  # when the relay is offline, no other endpoint node is online
    return current


def _request_key_rotation(state: MeshState, node_id: str) -> Transition:
    state.node(node_id)  # NotFound
    count = state.key_rotations.get(node_id, 0) + 1
    rotations = MappingProxyType({**state.key_rotations, node_id: count})
    new = replace(state, key_rotations=rotations)
    return Transition(new, commands.Result(value={"requested": count}))


def _set_presence(state: MeshState, command: commands.SetPresence) -> Transition:
    """Record who went offline and who came back; the relay moves off an offline node."""
    gone = {i: t for i, t in command.offline.items() if i in state.nodes and i not in state.offline}
    back = tuple(i for i in command.online if i in state.offline)
    if not gone and not back:
        return Transition(state, commands.Result(value={"changed": False}))
    offline = dict(_without(state.offline, back))
    offline.update(gone)
    frozen = MappingProxyType(offline)
    changed = frozenset(gone) | frozenset(back)
    relay = state.relay_id
    if changed & state.endpoint_nodes:
        relay = elect_relay(state.nodes.values(), frozen)
    new = replace(state, offline=frozen, relay_id=relay)
    return Transition(new, commands.Result(value={"changed": True}), (PresenceChanged(changed),))


def punches(node: Node) -> bool:
    """Whether ``node`` takes part in hole punching: a replica without an endpoint of its own
    that the servers have seen from outside (clients follow their servers' peer lists only)."""
    return not node.endpoints and bool(node.observed_endpoint) and node.role is not NodeRole.CLIENT


def pair_key(a: str, b: str) -> str:
    """The key of a pair of nodes in ``MeshState.paths`` (node ids never hold a space)."""
    return f"{a} {b}" if a < b else f"{b} {a}"


def _pair_known(key: str, nodes: Mapping[str, Node]) -> bool:
    return all(node_id in nodes for node_id in key.split(" "))


def _same_path(before: Node | None, after: Node) -> bool:
    """Whether a node's hole punches still hold: the same outside address and still a punch
    node (a new NAT mapping, or an endpoint of its own, voids them)."""
    return before is None or (
        before.observed_endpoint == after.observed_endpoint and punches(before) == punches(after)
    )


def _without_paths(paths: Mapping[str, str], node_id: str) -> Mapping[str, str]:
    dropped = [k for k in paths if node_id in k.split(" ")]
    if not dropped:
        return paths
    return MappingProxyType({k: v for k, v in paths.items() if k not in dropped})


def _observe_endpoints(state: MeshState, command: commands.ObserveEndpoints) -> Transition:
    """Record where servers see nodes from; a node seen somewhere new punches again."""
    new, effects = state, []
    for node_id, endpoint in sorted(command.endpoints.items()):
        before = new.nodes.get(node_id)
        if before is None or before.observed_endpoint == endpoint:
            continue
        validate_endpoint(endpoint)
        node = replace(before, observed_endpoint=endpoint)
        new = replace(
            new,
            nodes=new.nodes.changed(put={node_id: node}),
            punch_nodes=_with_member(new.punch_nodes, node_id, punches(node)),
            paths=_without_paths(new.paths, node_id),
        )
        effects.append(NodeUpdated(before, node))
    return Transition(new, commands.Result(value={"changed": bool(effects)}), tuple(effects))


def _set_path(state: MeshState, command: commands.SetPath) -> Transition:
    """Record what came of a hole punch between two punch nodes."""
    if command.a == command.b or not {command.a, command.b} <= state.punch_nodes:
        raise errors.FailedPrecondition(
            f"{command.a!r} and {command.b!r} are not two nodes that punch holes"
        )
    key = pair_key(command.a, command.b)
    if state.paths.get(key, "") == command.path:
        return Transition(state, commands.Result(value={"changed": False}))
    paths = {k: v for k, v in state.paths.items() if k != key}
    if command.path:
        paths[key] = command.path
    changed = PathChanged(frozenset({command.a, command.b}))
    new = replace(state, paths=MappingProxyType(paths))
    return Transition(new, commands.Result(value={"changed": True}), (changed,))


def _without(by_node: Mapping[str, _V], ids: Iterable[str]) -> Mapping[str, _V]:
    """``by_node`` without ``ids`` (the same mapping when none of them is in it)."""
    dropped = [i for i in ids if i in by_node]
    if not dropped:
        return by_node
    return MappingProxyType({k: v for k, v in by_node.items() if k not in dropped})


def _with_member(ids: frozenset[str], node_id: str, member: bool) -> frozenset[str]:
    """``ids`` with ``node_id`` in it or not (the index of nodes with routes, endpoints, DNS)."""
    if member == (node_id in ids):
        return ids
    return ids | {node_id} if member else ids - {node_id}


_HANDLERS: Mapping[type, Callable[[MeshState, Any], Transition]] = {
    commands.Bootstrap: _bootstrap,
    commands.Restore: _restore,
    commands.RestoreNodes: _restore_nodes,
    commands.PutNode: lambda state, c: _put_node(state, c.node, c.replaces_key),
    commands.RemoveNode: lambda state, c: _remove_node(state, c.node_id, c.at),
    commands.PutObject: lambda state, c: _put_object(state, c.kind, c.obj, c.allow_missing_nodes),
    commands.DeleteObject: lambda state, c: _delete_object(state, c.kind, c.name),
    commands.RotateRaftKeys: lambda state, _c: _rotate_raft_keys(state),
    commands.SetPresence: _set_presence,
    commands.RequestKeyRotation: lambda state, c: _request_key_rotation(state, c.node_id),
    commands.ObserveEndpoints: _observe_endpoints,
    commands.SetPath: _set_path,
}


def to_snapshot(state: MeshState) -> dict[str, Any]:
    """A versioned, JSON-able snapshot (never pickle)."""
    return {
        "v": SNAPSHOT_VERSION,
        "index": state.index,
        "networks": state.networks.to_dict() if state.networks else None,
        "nodes": [node.to_dict() for node in sorted(state.nodes.values(), key=lambda n: n.id)],
        "objects": state.objects.to_dict(),
        "released": dict(sorted(state.released.items())),
        **({"raft_key_epoch": state.raft_key_epoch} if state.raft_key_epoch else {}),
        **({"offline": dict(sorted(state.offline.items()))} if state.offline else {}),
        **(
            {"key_rotations": dict(sorted(state.key_rotations.items()))}
            if state.key_rotations
            else {}
        ),
        **({"paths": dict(sorted(state.paths.items()))} if state.paths else {}),
        **({"generation": state.generation} if state.generation else {}),
        **({"restoring": True} if state.restoring else {}),
    }


def from_snapshot(raw: Mapping[str, Any]) -> MeshState:
    if raw.get("v") != SNAPSHOT_VERSION:
        raise errors.InvalidArgument(f"unsupported snapshot version {raw.get('v')!r}")
    nodes = {n.id: n for n in (Node.from_dict(item) for item in raw["nodes"])}
    owners = {prefix: node.id for node in nodes.values() for prefix in node.addresses()}
    networks = Networks.from_dict(raw["networks"]) if raw.get("networks") else None
    offline = MappingProxyType(
        {str(i): float(t) for i, t in raw.get("offline", {}).items() if str(i) in nodes}
    )
    return MeshState(
        index=int(raw["index"]),
        networks=networks,
        nodes=PersistentMap(nodes),
        address_owners=PersistentMap(owners),
        released=MappingProxyType({str(p): float(t) for p, t in raw.get("released", {}).items()}),
        relay_id=elect_relay(nodes.values(), offline),
        offline=offline,
        key_rotations=MappingProxyType(
            {str(i): int(n) for i, n in raw.get("key_rotations", {}).items()}
        ),
        routing_nodes=frozenset(n.id for n in nodes.values() if n.routes),
        endpoint_nodes=frozenset(n.id for n in nodes.values() if n.endpoints),
        dns_nodes=frozenset(n.id for n in nodes.values() if n.dns_address),
        punch_nodes=frozenset(n.id for n in nodes.values() if punches(n)),
        paths=MappingProxyType(
            {str(k): str(v) for k, v in raw.get("paths", {}).items() if _pair_known(k, nodes)}
        ),
        objects=Objects.from_dict(raw.get("objects", {})),
        raft_key_epoch=int(raw.get("raft_key_epoch", 0)),
        generation=str(raw.get("generation", "")),
        restoring=bool(raw.get("restoring", False)),
    )
