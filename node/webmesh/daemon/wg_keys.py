"""When a node makes a new WireGuard key, and the order of the switch (pure).

A rotation, level-triggered and resumable from ``node.json``:

1. make the key and save it as ``private_key_next`` (a crash from here on resumes the rotation);
2. publish it: the node's record gets the new public key (``Join`` or, on the leader, its own
   ``PutNode``, naming the key it replaces: no other node can take the id this way), and the
   call returns once that is committed;
3. ``SWITCH_AFTER`` later (every replica applies the commit at about the same moment, and each
   peer replaces the old key with the new one), put the new key on the device and greet the
   peers, so that new handshakes start at once. Not later: from the peers' switch on, this
   node's old key reaches nobody, Raft included, so it must not wait for its own replica;
   resuming, it asks the servers (the join address first) whether the record has the new key.
   A node publishes through its join address (outside the tunnel) when it has one; otherwise
   the answer may be lost in the tunnel the leader has just moved: then it uses the new key
   tentatively and goes back to the old one unless the mesh confirms the new one.
4. save it as ``private_key``.

Between 2 and 3 the peers and the node disagree for about the time it takes a commit to reach
every replica (milliseconds on a LAN), plus one handshake: a ping a second loses at most one
packet (``tests/netns/test_key_rotation.py``).
"""

from __future__ import annotations

from webmesh.daemon.identity import Identity

CHECK_EVERY = 2.0  # seconds between two looks at whether a rotation is due
CONFIRM_WITHIN = 5.0  # seconds a tentatively used new key has to show up in the mesh
# Seconds between this replica applying the new record and the switch: the peers apply it a
# few milliseconds later. Switching last means the node's own first handshake (its greeting)
# meets peers that already know the new key; a node that switched first would be answered by
# nobody, and WireGuard tries again only after 5 s.
SWITCH_AFTER = 0.05


def due(identity: Identity, *, requested: int, now: float, interval: float) -> bool:
    """Whether this node should rotate its key now: one is under way (resume), the mesh asked
    for one more than it served, or the key is older than ``interval`` (0: never)."""
    if identity.private_key_next:
        return True
    if requested > identity.key_rotations_served:
        return True
    made = identity.key_created_at
    return interval > 0 and made > 0 and now - made >= interval
