"""`pip install .` on a machine with no compiler and no C headers, as a new user does it.

A clean venv, no pip cache, in a mount namespace where /usr/include is empty and every C compiler
is /bin/false: everything but pysyncobj (pure Python, published only as an sdist) must come as a
wheel (`--only-binary=:all:`), so a dependency that needs building fails here. Versions are the
lock's (`requirements/base.txt` as constraints), so an upstream release cannot change the result.
Then the wheel that `python -m build` makes is checked for the protos and type stubs and installed
over it, and the three console scripts answer.

Needs the package index (as CI has) and root (for the mount namespace).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPILERS = ("cc", "gcc", "c++", "g++", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-gcc-12", "clang")
SKIP_COPY = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".k8s-assets",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "build",
    "dist",
    "*.egg-info",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a mount namespace"),
]


def constraints_from_lock(tmp: Path) -> Path:
    """The lock's pins without hashes (pip takes no hashes in constraints files)."""
    lines = []
    for name in ("base.txt", "build.txt"):
        text = (ROOT / "requirements" / name).read_text()
        lines += [
            m.group(0).strip() for m in re.finditer(r"^[A-Za-z0-9_.-]+==[^\s\\]+", text, re.M)
        ]
    path = tmp / "constraints.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def without_compilers(command: str) -> list[str]:
    """``command`` in a mount namespace with an empty /usr/include and no working C compiler."""
    hide = ["mount -t tmpfs none /usr/include"]
    for name in COMPILERS:
        found = shutil.which(name)
        if found:
            hide.append(f"mount --bind /bin/false {os.path.realpath(found)}")
    script = " && ".join(
        [*hide, "! cc --version >/dev/null 2>&1", "! test -e /usr/include/lber.h", command]
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def run(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def pip_install_clone(tmp: Path) -> Path:
    """A venv where `pip install .` of a copy of this tree ran without compilers; its bin/."""
    tree = tmp / "webmesh"
    shutil.copytree(ROOT, tree, ignore=SKIP_COPY)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {
        **os.environ,
        "PIP_NO_CACHE_DIR": "1",
        "PIP_CONSTRAINT": str(constraints_from_lock(tmp)),  # also reaches the isolated builds
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("PIP_FIND_LINKS", None)  # only the index: what a user's pip sees
    pip = f"{venv}/bin/pip install --no-cache-dir --only-binary=:all: --no-binary=pysyncobj"
    done = run(without_compilers(f"cd {tree} && {pip} ."), env=env)
    assert done.returncode == 0, (
        f"pip install . failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return venv / "bin"


def build_wheel(tmp: Path) -> Path:
    tree = tmp / "wheel-src"
    shutil.copytree(ROOT, tree, ignore=SKIP_COPY)
    out = tmp / "dist"
    done = run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(tree),
        ]
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return next(out.glob("webmesh-*.whl"))


def check_entry_points(bin_dir: Path, data_dir: Path) -> None:
    for program in ("webmesh-node", "wmctl"):
        done = run([str(bin_dir / program), "--help"], timeout=60)
        assert done.returncode == 0, f"{program} --help: {done.stderr}"
        assert "usage" in done.stdout.lower() and done.stderr == "", program
    # The operator without its extra: one line naming it, exit 2, no traceback.
    done = run([str(bin_dir / "webmesh-operator"), "--help"], timeout=60)
    assert (done.returncode, done.stderr.count("\n")) == (2, 1), done.stderr
    assert "pip install 'webmesh[operator]'" in done.stderr
    # LDAP settings without the extra: the same.
    node = [str(bin_dir / "webmesh-node"), "--global.insecure", "--bootstrap.enabled"]
    ldap = [f"--raft.data-dir={data_dir}", "--plugins.ldap.server=ldap://127.0.0.1:1"]
    done = run([*node, *ldap], timeout=60)
    assert (done.returncode, done.stderr.count("\n")) == (2, 1), done.stderr
    assert "pip install 'webmesh[ldap]'" in done.stderr


def test_pip_install_from_a_clone_needs_no_compiler_and_the_wheel_is_whole(tmp_path: Path) -> None:
    """One test, not several: under xdist each would install again."""
    bin_dir = pip_install_clone(tmp_path)
    code = "import importlib.util as u; print([m for m in EXTRAS if u.find_spec(m)])"
    code = code.replace("EXTRAS", "('ldap', 'kopf', 'kubernetes')")
    assert run([str(bin_dir / "python"), "-c", code]).stdout.strip() == "[]", "extras leaked in"
    check_entry_points(bin_dir, tmp_path / "data")

    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for proto in ("admin", "membership", "mesh", "node", "types"):
        assert f"webmesh/api/v1/{proto}.proto" in names
        assert f"webmesh/api/v1/{proto}_pb2.pyi" in names
    assert {"webmesh/py.typed", "webmesh_operator/entry.py"} <= names
    pip = [str(bin_dir / "pip"), "install", "--no-cache-dir", "--no-deps", "--force-reinstall"]
    done = run([*pip, str(wheel)])
    assert done.returncode == 0, done.stderr
    check_entry_points(bin_dir, tmp_path / "data")
