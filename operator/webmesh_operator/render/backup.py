"""``spec.backup`` of a Mesh -> what its voters need to write backups: ``backup.*`` settings, the
key as a file, the S3 credentials as environment variables, and the volume of a directory store.

Why every voter: only the Raft leader writes backups, and any voter may become the leader (a
server, or a pod of a voter Node group), so all of them carry the same settings; observers never
lead and get none, so neither the key nor the credentials reach pods that do not need them.

Why Secrets stay Secrets: the key is a Secret volume with one item (read-only, mode 0400) whose
path is ``--backup.key-file``; the S3 credentials are ``secretKeyRef`` environment variables the
kubelet resolves (the node takes them from the AWS chain). The operator only *names* the Secrets:
it never reads them, and nothing of them enters the ConfigMap, so the config checksum cannot
leak them either. A missing Secret stops the pod where ``kubectl describe pod`` shows it
(``FailedMount`` or ``CreateContainerConfigError``).

``spec.restoreFrom`` is not here: it is ``bootstrap.restore-from`` in the config file (see
:func:`webmesh_operator.render.config.server_config`), which only the pod that bootstraps reads.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from webmesh_operator.render import names

KEY_VOLUME = "backup-key"
STORE_VOLUME = "backups"
KEY_DIR = f"{names.CONFIG_DIR}/backup"
KEY_FILE = "backup.key"
KEY_PATH = f"{KEY_DIR}/{KEY_FILE}"
S3_SCHEME = "s3://"
FILE_SCHEME = "file://"
# The AWS chain's variables: (name, optional). A session token only comes with temporary keys.
CREDENTIAL_KEYS = (
    ("AWS_ACCESS_KEY_ID", False),
    ("AWS_SECRET_ACCESS_KEY", False),
    ("AWS_SESSION_TOKEN", True),
)


def directory(location: str) -> str:
    """The directory of a directory store (``/path`` or ``file:///path``); "" for ``s3://``."""
    if not location or location.startswith(S3_SCHEME):
        return ""
    return posixpath.normpath(location.removeprefix(FILE_SCHEME))


def _backup(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return spec.get("backup") or {}


def settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``backup.*`` of the voters' config file; empty without ``spec.backup``.

    The S3 endpoint and region are written whenever given: ``bootstrap.restore-from`` reads an
    ``s3://`` store with them too, even in a mesh that writes no backups itself.
    """
    backup = _backup(spec)
    result: dict[str, Any] = {}
    if backup.get("url"):
        result.update(url=backup["url"], interval=backup["interval"], retain=backup["retain"])
    if backup.get("keySecret"):
        result["key-file"] = KEY_PATH
    s3 = backup.get("s3") or {}
    if s3.get("endpoint"):
        result["s3-endpoint"] = s3["endpoint"]
    if s3.get("region"):
        result["s3-region"] = s3["region"]
    return result


def env(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The S3 credentials, as references to ``s3.credentialsSecret`` (never their values)."""
    secret = (_backup(spec).get("s3") or {}).get("credentialsSecret") or {}
    if not secret.get("name"):
        return []
    return [
        {
            "name": variable,
            "valueFrom": {
                "secretKeyRef": {"name": secret["name"], "key": variable, "optional": optional}
            },
        }
        for variable, optional in CREDENTIAL_KEYS
    ]


def volumes(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The key (one item of ``keySecret``, as :data:`KEY_FILE`) and a directory store's volume."""
    backup = _backup(spec)
    items: list[dict[str, Any]] = []
    key = backup.get("keySecret") or {}
    if key.get("name"):
        secret = {
            "secretName": key["name"],
            "items": [{"key": key["key"], "path": KEY_FILE}],
            "defaultMode": 0o400,
        }
        items.append({"name": KEY_VOLUME, "secret": secret})
    if backup.get("volume") and directory(str(backup.get("url") or "")):
        source = {k: v for k, v in backup["volume"].items() if k != "name"}
        items.append({"name": STORE_VOLUME, **source})
    return items


def mounts(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Where :func:`volumes` go in the node container: the key read-only, the store at the
    directory of ``spec.backup.url``."""
    mounted = {volume["name"] for volume in volumes(spec)}
    items: list[dict[str, Any]] = []
    if KEY_VOLUME in mounted:
        items.append({"name": KEY_VOLUME, "mountPath": KEY_DIR, "readOnly": True})
    if STORE_VOLUME in mounted:
        path = directory(str(_backup(spec)["url"]))
        items.append({"name": STORE_VOLUME, "mountPath": path})
    return items
