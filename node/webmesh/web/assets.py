"""The page's files: read once at start-up into a fixed allow-list, served from memory.

Why an allow-list and not a directory handler: a request names a key of a dict, never a path
on disk, so no spelling of ``..`` (encoded, doubled, through a symlink) can reach a file that
was not in ``static/`` when the node started. Only regular files with a known type are listed;
hidden files and symlinks are skipped.

Caching: the vendored library and its licence (``*.min.js``, ``*.min.css``,
``*.LICENSE.txt``) change only with a new release of the node, so browsers keep them a day;
the page's own files are revalidated on every load (``no-cache``, with an ETag: an unchanged
file costs a 304).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

STATIC = Path(__file__).parent / "static"
MAX_TOTAL = 8 << 20  # bytes: the whole page, library included, is held in memory

TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
VENDORED = (".min.js", ".min.css", ".LICENSE.txt")
LONG_CACHE = "private, max-age=86400"
REVALIDATE = "no-cache"


@dataclasses.dataclass(frozen=True, slots=True)
class Asset:
    body: bytes = dataclasses.field(repr=False)
    content_type: str
    cache_control: str
    etag: str


def load(root: Path = STATIC) -> Mapping[str, Asset]:
    """Every servable file under ``root``, keyed by its path relative to it ("app.js",
    "vendor/x.min.js"); empty when the directory is missing."""
    found: dict[str, Asset] = {}
    total = 0
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        relative = path.relative_to(root)
        content_type = TYPES.get(path.suffix.lower())
        hidden = any(part.startswith(".") for part in relative.parts)
        if content_type is None or hidden or path.is_symlink() or not path.is_file():
            continue
        body = path.read_bytes()
        total += len(body)
        if total > MAX_TOTAL:
            raise ValueError(f"{root} holds more than {MAX_TOTAL} bytes of page files")
        key = relative.as_posix()
        cache = LONG_CACHE if key.endswith(VENDORED) else REVALIDATE
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        found[key] = Asset(body, content_type, cache, etag)
    return MappingProxyType(found)
