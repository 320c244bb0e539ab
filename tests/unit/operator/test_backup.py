"""spec.backup and spec.restoreFrom: what every voter gets (the node loads its settings; the key
is a file; the S3 credentials stay Secret references), what observers do not get, and the rules
validate adds to the schema's."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from webmesh.daemon import settings
from webmesh_operator import k8s, reconcile, validate
from webmesh_operator.render import backup as backup_render
from webmesh_operator.render import mesh_with_defaults, names, render_mesh, render_node_group

NAMESPACE = "demo-ns"
KEY = {"name": "mesh-backup-key", "key": "backup.key"}
S3_BACKUP = {
    "url": "s3://backups/demo",
    "interval": "15m",
    "retain": 48,
    "keySecret": KEY,
    "s3": {
        "endpoint": "http://minio.minio.svc:9000",
        "region": "eu-west-1",
        "credentialsSecret": {"name": "s3-creds"},
    },
}
DIRECTORY_BACKUP = {
    "url": "file:///backups/demo",
    "keySecret": KEY,
    "volume": {"persistentVolumeClaim": {"claimName": "mesh-backups"}},
}


def mesh(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "demo", "namespace": NAMESPACE}, "spec": copy.deepcopy(spec)}


def node_group(*, voter: bool) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": {"meshRef": {"name": "demo"}, "replicas": 2, "voter": voter},
    }


def by_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [manifest for manifest in manifests if manifest["kind"] == kind]


def config_text(manifests: list[dict[str, Any]]) -> str:
    (configmap,) = [m for m in by_kind(manifests, "ConfigMap") if names.CONFIG_FILE in m["data"]]
    text = configmap["data"][names.CONFIG_FILE]
    assert isinstance(text, str)
    return text


def pod_spec(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (statefulset,) = by_kind(manifests, "StatefulSet")
    spec = statefulset["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def node_container(spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = [
        c
        for c in [*spec.get("initContainers", []), *spec["containers"]]
        if c["name"] == "webmesh-node"
    ]
    return container


def load(tmp_path: Path, text: str, *extra: str) -> settings.Settings:
    path = tmp_path / "webmesh.yaml"
    path.write_text(text)
    return settings.load_settings(["--config", str(path), *extra], {}, hostname="demo-0")


def problems(**spec: Any) -> list[str]:
    return validate.mesh_problems(mesh_with_defaults(mesh(**spec)))


# --- render: the servers ------------------------------------------------------------------------


def test_the_servers_config_carries_the_backup_settings_the_node_loads(tmp_path: Path) -> None:
    manifests = render_mesh(mesh(backup=S3_BACKUP))
    loaded = load(tmp_path, config_text(manifests)).backup
    assert (loaded.url, loaded.interval, loaded.retain) == ("s3://backups/demo", 900, 48)
    assert loaded.key_file == backup_render.KEY_PATH == "/etc/webmesh/backup/backup.key"
    assert (loaded.s3_endpoint, loaded.s3_region) == ("http://minio.minio.svc:9000", "eu-west-1")


def test_interval_and_retain_default_as_in_the_crd(tmp_path: Path) -> None:
    spec = {"url": "s3://backups/demo", "keySecret": KEY}
    loaded = load(tmp_path, config_text(render_mesh(mesh(backup=spec)))).backup
    assert (loaded.interval, loaded.retain) == (3600, 24)


def test_the_key_is_one_item_of_its_secret_mounted_read_only() -> None:
    spec = pod_spec(render_mesh(mesh(backup=S3_BACKUP)))
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes[backup_render.KEY_VOLUME]["secret"] == {
        "secretName": "mesh-backup-key",
        "items": [{"key": "backup.key", "path": backup_render.KEY_FILE}],
        "defaultMode": 0o400,
    }
    mounts = {m["name"]: m for m in node_container(spec)["volumeMounts"]}
    mount = mounts[backup_render.KEY_VOLUME]
    assert mount == {"name": "backup-key", "mountPath": backup_render.KEY_DIR, "readOnly": True}
    assert f"{mount['mountPath']}/{backup_render.KEY_FILE}" == backup_render.KEY_PATH


def test_s3_credentials_are_secret_references_never_values() -> None:
    manifests = render_mesh(mesh(backup=S3_BACKUP))
    env = {item["name"]: item for item in node_container(pod_spec(manifests))["env"]}
    refs = {
        name: env[name]["valueFrom"]["secretKeyRef"]
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    }
    assert refs == {
        "AWS_ACCESS_KEY_ID": {"name": "s3-creds", "key": "AWS_ACCESS_KEY_ID", "optional": False},
        "AWS_SECRET_ACCESS_KEY": {
            "name": "s3-creds",
            "key": "AWS_SECRET_ACCESS_KEY",
            "optional": False,
        },
        "AWS_SESSION_TOKEN": {"name": "s3-creds", "key": "AWS_SESSION_TOKEN", "optional": True},
    }
    assert all("value" not in item for item in refs.values())
    text = config_text(manifests)
    assert "s3-creds" not in text and "AWS_" not in text and "mesh-backup-key" not in text


def test_without_credentials_the_aws_chain_finds_its_own() -> None:
    """A workload identity or an instance role: no env of ours to shadow them."""
    spec = copy.deepcopy(S3_BACKUP)
    del spec["s3"]["credentialsSecret"]
    env = {item["name"] for item in node_container(pod_spec(render_mesh(mesh(backup=spec))))["env"]}
    assert not {name for name in env if name.startswith("AWS_")}


def test_a_directory_store_is_its_volume_mounted_at_the_url() -> None:
    given = copy.deepcopy(DIRECTORY_BACKUP)
    given["volume"]["name"] = "ignored"  # the pod's volume has our name, whatever was given
    spec = pod_spec(render_mesh(mesh(backup=given)))
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes[backup_render.STORE_VOLUME] == {
        "name": "backups",
        "persistentVolumeClaim": {"claimName": "mesh-backups"},
    }
    mounts = {m["name"]: m for m in node_container(spec)["volumeMounts"]}
    assert mounts[backup_render.STORE_VOLUME] == {"name": "backups", "mountPath": "/backups/demo"}


def test_no_backup_no_backup_pieces() -> None:
    manifests = render_mesh(mesh())
    assert "backup" not in config_text(manifests)
    assert "restore-from" not in config_text(manifests)
    spec = pod_spec(manifests)
    assert not {v["name"] for v in spec["volumes"]} & {"backup-key", "backups"}
    assert not [item for item in node_container(spec)["env"] if item["name"].startswith("AWS_")]


@pytest.mark.parametrize(
    "entrypoint",
    [["--bootstrap.enabled"], [f"--mesh.join-address=demo-headless.{NAMESPACE}.svc:8443"]],
    ids=["pod-0", "the-others"],
)
def test_restore_from_is_a_bootstrap_setting(tmp_path: Path, entrypoint: list[str]) -> None:
    """One config for every server: only the pod that bootstraps reads bootstrap.*, and only
    while it has no state; the others join, and the file loads with either entrypoint."""
    manifests = render_mesh(mesh(backup=S3_BACKUP, restoreFrom="s3://old-backups/demo"))
    loaded = load(tmp_path, config_text(manifests), *entrypoint)
    assert loaded.bootstrap.restore_from == "s3://old-backups/demo"
    assert loaded.backup.key_file == backup_render.KEY_PATH, "the key opens the backup"


def test_restoring_without_writing_backups(tmp_path: Path) -> None:
    """A new mesh started from another's bucket: the key and S3 settings, no backup.url."""
    spec = {"keySecret": KEY, "s3": {"endpoint": "https://s3.example.com"}}
    manifests = render_mesh(mesh(backup=spec, restoreFrom="s3://old/demo"))
    loaded = load(tmp_path, config_text(manifests), "--bootstrap.enabled")
    assert loaded.backup.url == ""
    assert (loaded.backup.key_file, loaded.backup.s3_endpoint) == (
        backup_render.KEY_PATH,
        "https://s3.example.com",
    )


def test_changing_backups_rolls_the_servers() -> None:
    def checksum(**spec: Any) -> str:
        (statefulset,) = by_kind(render_mesh(mesh(**spec)), "StatefulSet")
        return str(
            statefulset["spec"]["template"]["metadata"]["annotations"][
                names.CONFIG_CHECKSUM_ANNOTATION
            ]
        )

    off, on = checksum(), checksum(backup=S3_BACKUP)
    assert on != off
    assert checksum(backup={**S3_BACKUP, "retain": 7}) not in (on, off)


# --- render: Node groups ------------------------------------------------------------------------


def test_voter_groups_may_lead_so_they_carry_the_backups(tmp_path: Path) -> None:
    configmap, statefulset = render_node_group(
        node_group(voter=True), mesh(backup=S3_BACKUP, restoreFrom="s3://old/demo")
    )
    loaded = load(tmp_path, configmap["data"][names.CONFIG_FILE])
    assert loaded.backup.url == "s3://backups/demo"
    assert loaded.bootstrap.restore_from == "", "only the Mesh's pod 0 bootstraps"
    spec = statefulset["spec"]["template"]["spec"]
    assert backup_render.KEY_VOLUME in {volume["name"] for volume in spec["volumes"]}
    env = {item["name"] for item in node_container(spec)["env"]}
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= env


def test_observer_groups_never_lead_so_they_get_no_key_and_no_credentials() -> None:
    configmap, statefulset = render_node_group(
        node_group(voter=False), mesh(backup=DIRECTORY_BACKUP)
    )
    assert "backup" not in configmap["data"][names.CONFIG_FILE]
    spec = statefulset["spec"]["template"]["spec"]
    assert {volume["name"] for volume in spec["volumes"]}.isdisjoint({"backup-key", "backups"})
    assert not [i for i in node_container(spec)["env"] if i["name"].startswith("AWS_")]


# --- defaults -----------------------------------------------------------------------------------


def test_backup_defaults_only_when_backup_is_given() -> None:
    assert "backup" not in mesh_with_defaults(mesh())["spec"]
    filled = mesh_with_defaults(mesh(backup={"url": "s3://b"}))["spec"]["backup"]
    assert filled == {"url": "s3://b", "interval": "1h", "retain": 24}
    kept = mesh_with_defaults(mesh(backup={"interval": "5m", "retain": 3}))["spec"]["backup"]
    assert (kept["interval"], kept["retain"]) == ("5m", 3)


# --- validate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"backup": S3_BACKUP},
        {"backup": DIRECTORY_BACKUP},
        {"backup": {**DIRECTORY_BACKUP, "url": "/backups"}, "restoreFrom": "/backups"},
        {"backup": DIRECTORY_BACKUP, "restoreFrom": "/backups/demo/2026-01-01.wmbackup"},
        {  # S3 settings serve the restore, the backups go to a directory
            "backup": {**DIRECTORY_BACKUP, "s3": {"endpoint": "http://minio.minio.svc:9000"}},
            "restoreFrom": "s3://old/demo",
        },
        {"backup": {"keySecret": KEY}, "restoreFrom": "s3://old/demo"},
        {"backup": {**S3_BACKUP, "interval": "1h30m"}},
        {"backup": {**S3_BACKUP, "interval": "90"}},
        {"backup": {"keySecret": KEY}},  # no url: no backups, nothing wrong
    ],
)
def test_valid_backup_specs(spec: dict[str, Any]) -> None:
    assert problems(**spec) == []


def test_a_backup_needs_its_key() -> None:
    (problem,) = problems(backup={"url": "s3://backups/demo"})
    assert problem.startswith("spec.backup.keySecret is required with spec.backup.url")
    assert "head -c 32 /dev/urandom | base64" in problem


def test_a_restore_needs_the_key() -> None:
    (problem,) = problems(restoreFrom="s3://backups/demo")
    assert problem.startswith("spec.restoreFrom needs spec.backup.keySecret")


def test_a_directory_needs_a_volume_or_the_backups_go_with_the_pod() -> None:
    (problem,) = problems(backup={"url": "/backups", "keySecret": KEY})
    assert problem.startswith("spec.backup.url /backups is a directory, so spec.backup.volume")
    assert "lost with it" in problem and "s3://" in problem


@pytest.mark.parametrize(
    ("volume", "fragment"),
    [
        ({"emptyDir": {}}, "spec.backup.volume.emptyDir is deleted with the pod"),
        ({"ephemeral": {"volumeClaimTemplate": {}}}, "spec.backup.volume.ephemeral is deleted"),
        ({"name": "x"}, "exactly one volume source"),
        ({"nfs": {"server": "n", "path": "/"}, "hostPath": {"path": "/b"}}, "it names 2"),
    ],
)
def test_the_volume_must_outlive_the_pod(volume: dict[str, Any], fragment: str) -> None:
    (problem,) = problems(backup={**DIRECTORY_BACKUP, "volume": volume})
    assert fragment in problem, problem


@pytest.mark.parametrize(
    "url", ["/", "file:///", "/etc/webmesh/backups", "/var/lib/webmesh", "/var", "/run/wireguard"]
)
def test_the_directory_must_not_cover_the_nodes_own(url: str) -> None:
    (problem,) = problems(backup={**DIRECTORY_BACKUP, "url": url})
    assert problem.startswith(f"spec.backup.url {url} overlaps")
    assert "/backups" in problem


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"backup": {**S3_BACKUP, "volume": {"nfs": {}}}}, "spec.backup.url is s3://backups/demo"),
        ({"backup": {"keySecret": KEY, "volume": {"nfs": {}}}}, "spec.backup.url is not set"),
        ({"backup": {**DIRECTORY_BACKUP, "s3": {"region": "x"}}}, "spec.backup.s3 applies to"),
    ],
)
def test_settings_nothing_would_use_are_refused(spec: dict[str, Any], fragment: str) -> None:
    (problem,) = problems(**spec)
    assert fragment in problem, problem


@pytest.mark.parametrize(
    ("restore", "backup", "fragment"),
    [
        ("/elsewhere/x.wmbackup", DIRECTORY_BACKUP, "directory /backups/demo"),
        ("/backups/demo-old", DIRECTORY_BACKUP, "directory /backups/demo"),
        ("/backups/demo", S3_BACKUP, "a directory spec.backup.url"),
    ],
)
def test_a_restore_path_must_be_in_the_backup_volume(
    restore: str, backup: dict[str, Any], fragment: str
) -> None:
    (problem,) = problems(backup=backup, restoreFrom=restore)
    assert problem.startswith(f"spec.restoreFrom {restore} must be in")
    assert fragment in problem and "s3://" in problem


@pytest.mark.parametrize(
    ("interval", "fragment"),
    [
        ("0s", "more than zero"),
        ("0", "more than zero"),
        ("0h0m", "more than zero"),
        ("1d", "not a duration"),
        ("1h 30m", "not a duration"),
    ],
)
def test_interval(interval: str, fragment: str) -> None:
    (problem,) = problems(backup={**S3_BACKUP, "interval": interval})
    assert problem.startswith("spec.backup.interval") and fragment in problem


@pytest.mark.parametrize(
    ("field", "location", "fragment"),
    [
        ("url", "http://backups.example.com/x", "the only schemes are s3:// and file://"),
        ("url", "backups", "not an absolute path"),
        ("url", "s3:///prefix", "names no bucket"),
        ("restoreFrom", "gs://bucket/x", "the only schemes"),
        ("restoreFrom", "file://backups", "not an absolute path"),
    ],
)
def test_locations_the_node_would_refuse(field: str, location: str, fragment: str) -> None:
    if field == "url":
        found = problems(backup={**S3_BACKUP, "url": location})
    else:
        found = problems(backup=S3_BACKUP, restoreFrom=location)
    (problem,) = found
    assert problem.startswith(f"spec.{'backup.' if field == 'url' else ''}{field} {location}")
    assert fragment in problem, problem


# --- reconcile ----------------------------------------------------------------------------------


def stored_resource(kind: str, spec: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "mesh.webmesh.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1},
        "spec": spec,
    }


async def test_a_voter_group_waits_while_its_mesh_backups_are_invalid() -> None:
    """Its pods would carry the wrong settings; the Mesh's own status says what to fix."""
    cluster = k8s.MemoryCluster()
    ctx = reconcile.Context(cluster=cluster)
    cluster.put(stored_resource("Mesh", {"backup": {"url": "s3://b/demo"}}, "demo"))
    voters = cluster.put(stored_resource("Node", node_group(voter=True)["spec"], "web"))
    with pytest.raises(reconcile.RetryLater):
        await reconcile.reconcile_node(ctx, voters)
    found = cluster.find("Node", NAMESPACE, "web")
    assert found is not None
    conditions = {c["type"]: c for c in found["status"]["conditions"]}
    assert conditions["Progressing"]["reason"] == reconcile.MESH_INVALID
    assert "spec.backup.keySecret is required" in conditions["Progressing"]["message"]
    assert cluster.find("StatefulSet", NAMESPACE, "demo-web") is None
    found = cluster.find("Node", NAMESPACE, "web")
    assert found is not None
    await reconcile.refresh_node_status(ctx, copy.deepcopy(found))  # the timer says the same
    after = cluster.find("Node", NAMESPACE, "web")
    assert after is not None
    reasons = {c["type"]: c["reason"] for c in after["status"]["conditions"]}
    assert reasons["Progressing"] == reconcile.MESH_INVALID


async def test_an_observer_group_goes_on_whatever_its_mesh_backups_say() -> None:
    cluster = k8s.MemoryCluster()
    ctx = reconcile.Context(cluster=cluster)
    insecure = {"security": {"mode": "insecure"}}  # no CA to wait for
    cluster.put(stored_resource("Mesh", {**insecure, "backup": {"url": "s3://b/demo"}}, "demo"))
    observers = cluster.put(stored_resource("Node", node_group(voter=False)["spec"], "web"))
    await reconcile.reconcile_node(ctx, observers)
    assert cluster.find("StatefulSet", NAMESPACE, "demo-web") is not None
