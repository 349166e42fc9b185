"""Backing up and restoring the tool databases with MariaDB's own client programs.

`back_up` runs `mariadb-dump` once per database, as the server's administrator (the
reconciler's: root through the socket, or `admin_user` over TCP with its password in the
child's environment, never on a command line), with `--single-transaction`: InnoDB
tables as of one moment, no lock held while tools write. The dump has no `CREATE
DATABASE` or `USE`, so it restores into any name. It is compressed on the way into a
file of its own in the folder (`databases.dumpfiles` names it), created 0600 under a
hidden staging name, synced and renamed once whole: killed at any moment, a backup
leaves no part of a dump under a backup's name, and the next run clears what it left.
One run at a time holds the folder's lock; the old files are pruned after every dump
was written.

`restore` reads a file through first (whole, not damaged, a dump's last line at its
end) and then feeds it to the `mariadb` client into one database, in binary mode (no
client command in the file is obeyed). What is restored and where is the caller's
decision (`ats databases restore` checks the account and the name). Users, passwords
and grants are not in the dumps: the reconciler makes them from the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from databases.dumpfiles import (
    DumpFile,
    dump_file,
    is_staging,
    parse,
    staging_name,
    to_prune,
)
from databases.server import AdminSettings
from policies.errors import Refusal

CHUNK = 1 << 20
LOCK = ".ats-backup.lock"
DUMP_END = b"-- Dump completed"  # mariadb-dump's last line
ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL": "C.UTF-8"}
DUMP_OPTIONS = (
    "--single-transaction",
    "--routines",
    "--events",
    "--triggers",
    # Binary columns as hex: the file is text whatever they hold.
    "--hex-blob",
    "--default-character-set=utf8mb4",
)


class BackupError(Refusal):
    """A backup or a restore failed or was refused; the message says what to do."""


@dataclass(frozen=True)
class Client:
    """How MariaDB's programs reach the server as its administrator."""

    admin: AdminSettings

    def command(self, program: str, *args: str) -> list[str]:
        found = shutil.which(program)
        if found is None:
            raise BackupError(f"{program} is missing: apt-get install mariadb-client")
        # --no-defaults first: /etc/mysql's [client] (a login host's drop-in) is not ours.
        command = [found, "--no-defaults", f"--user={self.admin.user}"]
        if self.admin.host:
            command += ["--protocol=tcp", f"--host={self.admin.host}", f"--port={self.admin.port}"]
        else:
            command += ["--protocol=socket", f"--socket={self.admin.socket}"]
        return [*command, *args]

    def environment(self) -> dict[str, str]:
        if self.admin.host and self.admin.password:
            return {**ENVIRONMENT, "MYSQL_PWD": self.admin.password}
        return dict(ENVIRONMENT)


@dataclass
class Written:
    database: str
    path: Path
    size: int


@dataclass
class BackupRun:
    written: list[Written] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one line each: database and why
    pruned: list[Path] = field(default_factory=list)
    cleared: list[Path] = field(default_factory=list)  # staging files a killed run left


def back_up(
    folder: Path,
    databases: Sequence[tuple[str, str]],
    client: Client,
    *,
    keep: int,
    max_age: timedelta | None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackupRun:
    """A dump of each `(account, database)` in `folder`, then the old files pruned."""
    _make_folder(folder)
    run = BackupRun()
    with _locked(folder):
        for entry in sorted(os.listdir(folder)):
            if is_staging(entry):
                (folder / entry).unlink(missing_ok=True)
                run.cleared.append(folder / entry)
        existing = set()
        for account, database in databases:
            target = dump_file(account, database, clock())
            existing.add(target.key)
            try:
                size = _dump(database, folder, target, client)
            except BackupError as error:
                run.failed.append(f"{database}: {error}")
                continue
            run.written.append(Written(database, folder / target.name, size))
        found = [item for entry in os.listdir(folder) if (item := parse(entry))]
        for item in to_prune(found, keep=keep, max_age=max_age, now=clock(), existing=existing):
            (folder / item.name).unlink(missing_ok=True)
            run.pruned.append(folder / item.name)
    return run


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{folder} exists and is not a folder")
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"cannot make the folder {folder}: {error.strerror}") from None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise BackupError(f"cannot write in {folder}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"another backup is writing into {folder}: wait for it to end"
            ) from None
        yield
    finally:
        os.close(fd)


def _dump(database: str, folder: Path, target: DumpFile, client: Client) -> int:
    """`database` dumped into `folder/target.name`; its size in bytes."""
    final = folder / target.name
    staged = folder / staging_name(target.name)
    command = client.command("mariadb-dump", *DUMP_OPTIONS, "--", database)
    try:
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise BackupError(f"cannot write {staged}: {error.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=errors, env=client.environment()
            ) as process,
        ):
            assert process.stdout is not None
            try:
                with (
                    open(fd, "wb", closefd=False) as raw,
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
                ):
                    shutil.copyfileobj(process.stdout, packed, CHUNK)
            except BaseException:
                process.kill()
                raise
            if process.wait() != 0:
                raise BackupError(_last_line(errors) or f"mariadb-dump ended {process.returncode}")
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(staged, final)
        _sync_folder(folder)
    except OSError as error:
        raise BackupError(f"cannot write {final}: {error.strerror or error}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        staged.unlink(missing_ok=True)
    return final.stat().st_size


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- restoring -------------------------------------------------------------------------


def check_dump(source: Path) -> None:
    """`source` read through: a whole gzip file holding a whole dump, else BackupError."""
    if not source.is_file():
        raise BackupError(f"there is no backup file {source}")
    tail = b""
    try:
        with gzip.open(source, "rb") as stream:
            while chunk := stream.read(CHUNK):
                tail = (tail + chunk)[-4096:]
    except (OSError, EOFError, zlib.error) as error:
        raise BackupError(f"{source} is not a whole backup ({_said(error)}); use another") from None
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if not last.startswith(DUMP_END):
        raise BackupError(f"{source} is not a whole dump (no `-- Dump completed` at its end)")


def load(source: Path, database: str, client: Client) -> None:
    """The dump `source` run into `database` (made already); BackupError if it failed."""
    command = client.command(
        "mariadb",
        "--batch",
        "--binary-mode",
        "--default-character-set=utf8mb4",
        f"--database={database}",
    )
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=client.environment(),
        ) as process,
    ):
        assert process.stdin is not None
        try:
            with gzip.open(source, "rb") as stream:
                shutil.copyfileobj(stream, process.stdin, CHUNK)
            process.stdin.close()
        except BrokenPipeError:
            pass  # the client stopped at an error: it says which below
        except BaseException:
            process.kill()
            raise
        if process.wait() != 0:
            said = _last_line(errors) or f"mariadb ended {process.returncode}"
            raise BackupError(f"restoring {source} into {database} failed: {said}")


def _last_line(stream: IO[bytes]) -> str:
    stream.seek(0)
    lines = [line.strip() for line in stream.read().decode(errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")


def _said(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
