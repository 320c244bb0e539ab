"""Writing a file whole or not at all: every file the node or wmctl keeps goes through here.

A temporary beside the target, created with its final mode (then set again: the umask may have
narrowed it), written and fsynced, renamed over the target; with ``sync_directory`` the
directory is fsynced too, so the rename itself survives a power loss. A failure removes the
temporary and leaves the target as it was.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, mode: int, sync_directory: bool = False) -> None:
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if sync_directory:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
