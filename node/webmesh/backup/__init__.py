"""Off-site backups of the mesh state: sealed (AES-GCM) snapshot files in a store.

``seal`` encrypts and authenticates one snapshot file (webmesh.mesh.snapshotfile's bytes) with
the mesh's backup key; ``store`` keeps them (a directory, or an S3 bucket through ``s3``, which
alone imports boto3, and only when an s3:// URL is used) with a retention; ``source`` reads
the one to restore from. The schedule that decides when the leader writes one is
``webmesh.service.backup``; restoring is ``webmesh.service.restore``.
"""
