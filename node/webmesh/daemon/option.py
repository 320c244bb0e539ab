"""One setting of webmesh-node: the row type of the settings tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from webmesh.daemon import values


@dataclasses.dataclass(frozen=True, slots=True)
class Option:
    """One setting: its dotted name, how to parse one value, its default (as text) and its help.

    Defaults are text and go through ``parse`` like any other value, so a default can never be
    of a different shape than a parsed value.
    """

    name: str
    parse: Callable[[str], object]
    default: str
    help: str
    kind: str
    metavar: str
    is_list: bool = False
    default_help: str | None = None

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--mesh.join-address``."""
        return f"--{self.name}"

    @property
    def env(self) -> str:
        """The environment variable, e.g. ``MESH_JOIN_ADDRESS``."""
        return self.name.upper().replace(".", "_").replace("-", "_")

    @property
    def section(self) -> str:
        """The dotted section, e.g. ``services.api`` for ``services.api.listen-address``."""
        return self.name.rpartition(".")[0]

    @property
    def is_bool(self) -> bool:
        """Whether the bare flag (no ``=value``) means true."""
        return self.parse is values.parse_bool


def bool_option(name: str, help_: str) -> Option:
    """A boolean setting that defaults to false: the common case, kept short in the table."""
    return Option(name, values.parse_bool, "false", help_, kind="bool", metavar="BOOL")
