"""Reading the ``--config`` YAML file of webmesh-node into flat, dotted setting names.

Kept apart from the settings table so the file format (nesting, dotted keys, ``_`` for ``-``)
is one small, testable thing. It knows the valid names only through its arguments, so it does
not import the settings module; it raises ``ValueError`` with a complete one-line message, which
the settings module re-raises as its own error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


def read(path: str, *, names: Collection[str], sections: Collection[str]) -> dict[str, object]:
    """Return ``{dotted name: YAML value}`` for every setting the file gives a value.

    ``names`` are the settings' dotted names, ``sections`` every dotted prefix of them. Keys may
    nest (``global: {insecure: true}``), be dotted (``global.insecure: true``) or mix both; a
    ``null`` value counts as not given.
    """
    found: dict[str, object] = {}
    _flatten(_load(path), "", _Known(path, names, sections), found)
    return found


class _Known:
    """The file's path and the valid names, carried down the recursion together."""

    def __init__(self, path: str, names: Collection[str], sections: Collection[str]) -> None:
        self.path = path
        self.names = names
        self.sections = sections


def _load(path: str) -> Mapping[object, object]:
    """Read the file as one YAML mapping (an empty file is an empty mapping)."""
    import yaml  # noqa: PLC0415 (a node started with flags alone never loads the YAML parser)

    try:
        with open(path, encoding="utf-8") as stream:
            document = yaml.safe_load(stream)
    except OSError as exc:
        raise ValueError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"config file {path} is not valid YAML: {exc.problem}{where}") from None
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())
        raise ValueError(f"config file {path} is not valid YAML: {message}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise ValueError(f"config file {path} must hold a mapping of settings, not a {kind}")
    return document


def _flatten(
    node: Mapping[object, object], prefix: str, known: _Known, out: dict[str, object]
) -> None:
    """Collect leaf values under their dotted names; ``_`` in keys is read as ``-``."""
    for key, value in node.items():
        if not isinstance(key, str):
            raise ValueError(f"invalid key {key!r} in config file {known.path}: keys must be text")
        name = prefix + key.replace("_", "-")
        if isinstance(value, dict) and name in known.sections:
            _flatten(value, f"{name}.", known, out)
        elif name in known.names:
            if name in out:
                raise ValueError(f"key {name!r} is given twice in config file {known.path}")
            if value is not None:
                out[name] = value
        elif not (value is None and name in known.sections):
            candidates = known.sections if isinstance(value, dict) else known.names
            hint = suggest(name, sorted(candidates))
            raise ValueError(f"unknown key {name!r} in config file {known.path}{hint}")


def suggest(name: str, known: Sequence[str]) -> str:
    """A "did you mean" hint for a misspelt name, or nothing."""
    import difflib  # noqa: PLC0415  (only for a misspelt key: not in every node's memory)

    matches = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
