"""Where a job's output goes, as Toolforge puts it.

By default a job appends its standard output to `~/NAME.out` and its standard error to
`~/NAME.err` in the tool's home; `--filelog-stdout`/`--filelog-stderr` choose the files
(a relative path is relative to the home; both may name the same file, and then there
is one file). With `--no-filelog` nothing is written in the home: the output goes to
`LOG_ROOT/TOOL/NAME.log`, a folder of the tool's own that only it can read, and `logs
NAME` shows it. Slurm opens these files as the tool, so a path names only what the
tool itself may write; `logs` is read by the client, as the tool, for the same reason.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from pathlib import Path

from runtime.jobspec import JobSpec, filelog_paths


def output_paths(spec: JobSpec, *, tool: str, home: str, log_root: str) -> tuple[str, str | None]:
    """The files the job's output and errors go to; errors None when they share one."""
    out, err = filelog_paths(spec, home)
    if out is None or err is None:
        return posixpath.join(log_root, tool, f"{spec.name}.log"), None
    return out, (None if err == out else err)


def make_log_folder(log_root: str, tool: str, uid: int, gid: int) -> None:
    """The tool's folder for output kept without files in its home (`--no-filelog`):
    `LOG_ROOT/TOOL`, the tool's own, 0700, under a root-owned LOG_ROOT it cannot change."""
    root = Path(log_root)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    folder = root / tool
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    # Only root writes in LOG_ROOT, so nothing can be put in the folder's place.
    status = os.lstat(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise OSError(f"{folder} is not a folder")
    if (status.st_uid, status.st_gid) != (uid, gid):
        os.chown(folder, uid, gid)
    if status.st_mode & 0o777 != 0o700:
        folder.chmod(0o700)
