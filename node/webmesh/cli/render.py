"""Pictures of the mesh graph: its DOT text through Graphviz's ``dot`` into SVG or PNG.

Graphviz is a system package (Debian's ``graphviz``), not a wheel, so wmctl runs the ``dot``
it finds on the PATH rather than depending on a binding; where there is none, it says how to
install it and that ``-o dot`` gives the text to render elsewhere. ``dot`` reads the graph on
stdin (no shell, no temporary file) and is given a bounded time, so a huge or broken graph
ends in a one-line error instead of a hung wmctl.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import IO, Any

from webmesh import errors

PICTURES = ("svg", "png")
BINARY = frozenset({"png"})
TIMEOUT = 30.0
INSTALL_HINT = "apt-get install graphviz (or dnf install graphviz, or brew install graphviz)"


class GraphvizError(errors.FailedPrecondition):
    """Graphviz's ``dot`` is not installed, or did not render the graph."""


def dot_program(fmt: str) -> str:
    """The path of ``dot``; checked before asking the server, so a missing one fails first."""
    path = shutil.which("dot")
    if path is None:
        raise GraphvizError(
            f"-o {fmt} needs Graphviz's dot, which is not on the PATH: {INSTALL_HINT}; "
            "-o dot prints the graph for rendering elsewhere"
        )
    return path


def refuse_terminal(fmt: str, stream: IO[Any]) -> None:
    """Like curl, never pour binary bytes onto a terminal: they would garble it."""
    if fmt in BINARY and stream.isatty():
        raise errors.InvalidArgument(
            f"-o {fmt} writes binary data, not for a terminal: redirect it "
            f"(wmctl get graph -o {fmt} > mesh.{fmt}) or use --out mesh.{fmt}"
        )


def render(dot_text: str, fmt: str, *, program: str, timeout: float = TIMEOUT) -> bytes:
    """The picture ``dot -T<fmt>`` draws of ``dot_text``; its failure as one line."""
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            input=dot_text.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphvizError(f"dot -T{fmt} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise GraphvizError(f"cannot run {program}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        said = " ".join(done.stderr.decode(errors="replace").split()) or "no message"
        raise GraphvizError(f"dot -T{fmt} failed (exit {done.returncode}): {said}")
    return done.stdout
