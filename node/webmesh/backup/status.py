"""What the metrics show of the backups (the schedule, ``webmesh.service.backup``, updates it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BackupStatus:
    last_success: float = 0.0  # unix seconds; 0: none yet
    last_bytes: int = 0
    last_name: str = ""
    failures: int = 0
    written: int = 0
