"""What ``/proc`` says about a process: alive or not, its command line, its process group."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is as good as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def cmdline(pid: int) -> list[str]:
    """The arguments ``pid`` was started with ([] if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def environ_has(pid: int, entry: str) -> bool:
    """Whether ``pid``'s environment holds ``entry`` (``NAME=value``); True if unreadable."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return True
    return entry.encode() in environ.split(b"\0")


def pgid_members(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        # fields: state ppid pgrp ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            members.append(int(entry.name))
    return members


def pgid_of(pid: int) -> int | None:
    """``pid``'s process group, or None if it is gone."""
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def all_pids() -> list[int]:
    """Every process id in ``/proc``."""
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
