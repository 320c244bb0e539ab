"""The images, checked without Docker: what the Dockerfiles install is what the rendered pods run,
the tags agree everywhere a default image is named, and the kind e2e script parses.

A Dockerfile is read as instructions (one per logical line); the checks look at the final
(runtime) stage, since that is what the pods get.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from webmesh_operator.render import mesh_with_defaults, render_mesh, render_node_group

ROOT = Path(__file__).resolve().parents[3]
NODE_DOCKERFILE = ROOT / "node" / "Dockerfile"
OPERATOR_DOCKERFILE = ROOT / "operator" / "Dockerfile"
BASE_IMAGE = "python:3.11-slim-bookworm"

# What provides each command the rendered pods run, in the node image: a Debian package of the
# runtime stage, the base image (Debian's essential packages), or the webmesh package itself.
BASE = "base image"
PACKAGE = "webmesh package"
PROVIDERS: dict[str, str] = {
    "sh": BASE,  # dash
    "getent": BASE,  # libc-bin
    "ls": BASE,  # coreutils
    "cat": BASE,  # coreutils
    "webmesh-node": PACKAGE,
    "wmctl": PACKAGE,
    "wireguard-go": "wireguard-go",  # started by the node (userspace WireGuard)
    "wg": "wireguard-tools",
    "ip": "iproute2",
    "ping": "iputils-ping",  # the kind e2e pings between pods
}
SHELL_BUILTINS = {
    *("set", "exec", "echo", "export", "test", "[", "if", "then", "else", "elif", "fi", "!"),
}


# ---- reading Dockerfiles --------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: comments dropped, continuations joined."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            logical.append(pending.strip())
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def apt_packages(steps: list[tuple[str, str]]) -> set[str]:
    """The packages of every ``apt-get install`` in these steps."""
    found: set[str] = set()
    for op, args in steps:
        if op != "RUN":
            continue
        for command in re.split(r"&&|;", args):
            words = command.split()
            if words[:2] == ["apt-get", "install"]:
                found |= {w for w in words[2:] if not w.startswith("-")}
    return found


def pip_installs(path: Path) -> list[str]:
    return [
        args
        for op, args in instructions(path)
        if op == "RUN" and re.search(r'pip"?\s+install', args)
    ]


def arg_default(path: Path, name: str) -> str:
    for op, args in instructions(path):
        if op == "ARG" and args.startswith(f"{name}="):
            return args.split("=", 1)[1]
    raise AssertionError(f"no ARG {name} in {path}")


def entrypoint(path: Path) -> Any:
    return yaml.safe_load(next(args for op, args in final_stage(path) if op == "ENTRYPOINT"))


# ---- what the rendered pods run -------------------------------------------------------------


def commands_in_script(script: str) -> set[str]:
    """The commands a POSIX shell snippet runs (a small scanner, enough for our entrypoints)."""
    found: set[str] = set()
    for segment in re.split(r"\|\||&&|[;\n|&]|\$\(|\bthen\b|\belse\b|\bif\b|\bdo\b", script):
        words = segment.replace("\\", " ").split()
        while words and (words[0] in {"exec", "!"} or re.match(r"^[A-Za-z_]\w*=", words[0])):
            words.pop(0)
        if words and re.fullmatch(r"[a-z][a-z0-9_.-]*", words[0]):
            found.add(words[0])
    return found - SHELL_BUILTINS


def pod_commands(manifests: list[dict[str, Any]]) -> set[str]:
    """Every program the node image's containers of these manifests run."""
    found: set[str] = set()
    for manifest in manifests:
        if manifest["kind"] != "StatefulSet":
            continue
        spec = manifest["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            if not container["name"].startswith(("webmesh", "ip-forwarding")):
                continue  # an app container: its own image
            command = [*container.get("command", []), *container.get("args", [])]
            found.add(command[0])
            if command[:2] == ["sh", "-c"]:
                found |= commands_in_script(command[2])
    return found


def sample_manifests() -> list[dict[str, Any]]:
    mesh = {"metadata": {"name": "demo", "namespace": "ns"}, "spec": {}}
    node = {"metadata": {"name": "app", "namespace": "ns"}, "spec": {"meshRef": {"name": "demo"}}}
    return [*render_mesh(mesh), *render_node_group(node, mesh)]


def test_the_scanner_finds_the_server_entrypoint_commands() -> None:
    script = 'set -eu\nif [ -n "$(ls -A /x)" ] || ! getent hosts "$H"; then\n  exec a-b --c\nfi\n'
    assert commands_in_script(script) == {"ls", "getent", "a-b"}


def test_the_node_image_provides_every_command_the_pods_run() -> None:
    used = pod_commands(sample_manifests()) | {"wireguard-go", "ip"}
    assert {"sh", "getent", "ls", "webmesh-node"} <= used
    unknown = used - PROVIDERS.keys()
    assert not unknown, f"say in PROVIDERS which package of node/Dockerfile provides {unknown}"
    installed = apt_packages(final_stage(NODE_DOCKERFILE))
    for command in sorted(used):
        provider = PROVIDERS[command]
        if provider not in (BASE, PACKAGE):
            assert provider in installed, f"{command}: node/Dockerfile must install {provider}"


def test_the_node_image_installs_its_debugging_tools_and_ldap_runtime() -> None:
    installed = apt_packages(final_stage(NODE_DOCKERFILE))
    assert {"wireguard-go", "wireguard-tools", "iproute2", "iputils-ping"} <= installed
    assert any(p.startswith("libldap-") for p in installed)  # python-ldap's shared library
    assert not installed & {"gcc", "libldap2-dev", "libsasl2-dev"}, "build tools stay in build"


def test_the_console_scripts_come_from_the_package() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"webmesh-node", "wmctl", "webmesh-operator"} <= scripts.keys()


@pytest.mark.parametrize("path", [NODE_DOCKERFILE, OPERATOR_DOCKERFILE], ids=["node", "operator"])
def test_apt_never_installs_recommends(path: Path) -> None:
    for op, args in instructions(path):
        for command in re.split(r"&&|;", args) if op == "RUN" else []:
            if command.split()[:2] == ["apt-get", "install"]:
                assert "--no-install-recommends" in command, command


@pytest.mark.parametrize("path", [NODE_DOCKERFILE, OPERATOR_DOCKERFILE], ids=["node", "operator"])
def test_the_base_image_and_what_is_copied(path: Path) -> None:
    assert arg_default(path, "BASE") == BASE_IMAGE
    froms = [args for op, args in instructions(path) if op == "FROM"]
    assert all(f.split()[0] == "${BASE}" for f in froms)
    for op, args in instructions(path):
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"{path.name} copies {source}, which is missing"


def test_the_node_image_runs_the_node_without_the_operator_extra() -> None:
    assert entrypoint(NODE_DOCKERFILE) == ["/opt/webmesh/bin/webmesh-node"]
    installs = pip_installs(NODE_DOCKERFILE)
    assert installs, "node/Dockerfile installs the package"
    # only the wheelhouse scripts/images.sh makes from the lock's node.txt (base + LDAP)
    assert "--no-index" in " ".join(installs) and "/wheelhouse/node/" in " ".join(installs)
    for line in installs:
        assert "[operator]" not in line and "kopf" not in line and "kubernetes" not in line
    volumes = next(args for op, args in final_stage(NODE_DOCKERFILE) if op == "VOLUME")
    assert set(yaml.safe_load(volumes)) == {"/run/wireguard", "/var/lib/webmesh"}
    # root on purpose (NET_ADMIN for the WireGuard interface): no USER instruction
    assert not [args for op, args in final_stage(NODE_DOCKERFILE) if op == "USER"]


def test_the_operator_image_runs_the_operator_as_the_charts_non_root_user() -> None:
    assert entrypoint(OPERATOR_DOCKERFILE) == ["/opt/webmesh/bin/webmesh-operator"]
    installs = " ".join(pip_installs(OPERATOR_DOCKERFILE))
    assert (
        "/wheelhouse/operator/" in installs
    )  # the lock's operator.txt, as scripts/images.sh makes it
    users = [args for op, args in final_stage(OPERATOR_DOCKERFILE) if op == "USER"]
    assert users, "the operator image runs as a non-root user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and uid != "0", "a numeric uid, so runAsNonRoot can check it"
    values = ROOT / "charts" / "webmesh" / "values.yaml"
    if values.exists():
        chart_uid = yaml.safe_load(values.read_text())["operator"]["podSecurityContext"]
        assert str(chart_uid.get("runAsUser", uid)) == uid


# ---- tags ------------------------------------------------------------------------------------


def makefile_variable(name: str) -> str:
    match = re.search(rf"^{name}\s*[?:]?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"no {name} in the Makefile"
    return match.group(1)


def image_strings(value: Any) -> list[str]:
    """Every ``webmesh-*:<tag>`` image named anywhere in a YAML document."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in image_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in image_strings(item)]
    if isinstance(value, str) and re.fullmatch(r"(\S+/)?webmesh-(node|operator):\S+", value):
        return [value]
    return []


def test_the_image_tags_agree() -> None:
    tag = makefile_variable("IMAGE_TAG")
    assert makefile_variable("NODE_IMAGE") == "webmesh-node:$(IMAGE_TAG)"
    assert makefile_variable("OPERATOR_IMAGE") == "webmesh-operator:$(IMAGE_TAG)"
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == tag
    defaulted = mesh_with_defaults({"metadata": {"name": "m", "namespace": "n"}, "spec": {}})
    assert defaulted["spec"]["image"] == f"webmesh-node:{tag}"
    crd = yaml.safe_load((ROOT / "crds" / "mesh.webmesh.io_meshes.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["image"]["default"] == f"webmesh-node:{tag}"
    for path in (NODE_DOCKERFILE, OPERATOR_DOCKERFILE):
        assert arg_default(path, "VERSION") == tag
    values = ROOT / "charts" / "webmesh" / "values.yaml"
    if values.exists():
        named = image_strings(yaml.safe_load(values.read_text()))
        assert f"webmesh-operator:{tag}" in named
        assert all(image.endswith(f":{tag}") for image in named), named


# ---- the build context and the kind e2e --------------------------------------------------------


def test_the_build_context_keeps_what_the_images_copy() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv"} <= ignored
    assert not ignored & {"node", "operator", "pyproject.toml", "README.md", "*", "**"}


def test_the_make_targets_exist_and_document_themselves() -> None:
    text = (ROOT / "Makefile").read_text()
    for target in ("images", "kind-up", "e2e", "kind-down"):
        assert re.search(rf"^{target}:.*## \S", text, re.MULTILINE), f"make {target}"
    assert "kind-config.yaml" in text
    kind = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    assert kind["kind"] == "Cluster"
    assert [n["role"] for n in kind["nodes"]] == ["control-plane", "worker"]


def test_the_e2e_script_parses() -> None:
    script = ROOT / "scripts" / "e2e.sh"
    assert script.stat().st_mode & 0o111, "scripts/e2e.sh is executable"
    result = subprocess.run(
        ["bash", "-n", str(script)], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    if shutil.which("shellcheck"):
        lint = subprocess.run(
            ["shellcheck", str(script)], check=False, capture_output=True, text=True, timeout=60
        )
        assert lint.returncode == 0, lint.stdout
