"""Refresh (or check) the lock: uv.lock and its pip-readable exports under requirements/.

uv.lock is the one resolution of every dependency, runtime and test, with hashes. The files under
requirements/ are exports of it for pip, so installing needs nothing but pip:

- build.txt     setuptools, the build backend (of webmesh and of pysyncobj, an sdist)
- base.txt      `pip install webmesh`: what a node or wmctl needs, wheels only
- node.txt      base + LDAP (python-ldap): what the node image installs
- operator.txt  base + the operator (kopf, kubernetes): what the operator image installs
- dev.txt       everything: runtime, LDAP, operator and the test tools (make install, CI)

    scripts/lock.py            follow pyproject.toml, keeping every pin it still allows; re-export
    scripts/lock.py --upgrade  move every pin to the newest version pyproject.toml allows
    scripts/lock.py --check    fail if uv.lock is stale for pyproject.toml or an export differs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"
HEADER = "# Generated from uv.lock by `make lock` (scripts/lock.py); do not edit.\n"

EXPORTS: dict[str, list[str]] = {
    "build.txt": ["--only-group", "build"],
    "base.txt": [],
    "node.txt": ["--extra", "ldap"],
    "operator.txt": ["--extra", "operator"],
    "dev.txt": ["--extra", "ldap", "--extra", "operator", "--extra", "test"],
}


def uv(*args: str) -> str:
    done = subprocess.run([str(UV), *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"uv {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def export(extra_args: list[str]) -> str:
    text = uv(
        "export",
        "--frozen",
        "--no-emit-project",
        "--no-default-groups",
        "--no-header",
        "--format",
        "requirements-txt",
        *extra_args,
    )
    return HEADER + text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; change nothing")
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions")
    args = parser.parse_args()
    if args.check:
        uv("lock", "--check")
    else:
        uv("lock", *(["--upgrade"] if args.upgrade else []))
    stale = []
    for name, extra_args in EXPORTS.items():
        path = ROOT / "requirements" / name
        wanted = export(extra_args)
        if args.check:
            if not path.exists() or path.read_text() != wanted:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(wanted)
    if stale:
        sys.exit(f"the lock's exports are stale ({', '.join(stale)}): run `make lock` and commit")


if __name__ == "__main__":
    main()
