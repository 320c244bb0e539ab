"""Off-site backups of the mesh state: sealed (AES-GCM) snapshot files in a store.

``seal`` encrypts and authenticates one snapshot file (webmesh.mesh.snapshotfile's bytes) with
the mesh's backup key; ``store`` keeps them (a directory today) with a retention. Imports errors
and cryptography only; the schedule that decides when the leader writes one is
``webmesh.service.backup``.
"""
