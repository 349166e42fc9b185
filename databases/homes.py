"""`replica.my.cnf` in an account's home, read and written by root without trusting
anything the account may have planted there.

A home belongs to its account, which may put a symbolic link, a pipe, a hard link or a
folder where the file should be. So the home is reached one component at a time from `/`
with `O_NOFOLLOW` (a link anywhere on the way is refused) and must be a folder owned by
the account's uid; the file's entry is looked at relative to it without opening it
(`O_PATH | O_NOFOLLOW`: a link is never followed, a pipe or a device never opened) and
read only when it is a regular file of the account's with one link. A file is written as
a new file of a random name in the home (`O_EXCL`: never an existing one), owned by the
account's uid and its home's group, mode 0400, synced, then renamed over
`replica.my.cnf` — which replaces whatever entry was there, a planted link included,
without following it. A half-written file left by a process killed before its rename is
removed at the next write. Runs as root on the host that holds the homes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

from databases.credentials import FILE_NAME, MAX_SIZE, MODE, parse
from databases.plan import FileSeen

TEMPORARY_PREFIX = "." + FILE_NAME + ".ats-"


class HomeRefused(OSError):
    """The home is not a folder of the account's reached without a link; says why."""


class Missing(OSError):
    """The home does not exist (yet)."""


def read(home: str, uid: int) -> FileSeen:
    """What the account's home holds as its credentials file."""
    try:
        folder = _open_home(home, uid)
    except Missing:
        return FileSeen("no-home")
    except HomeRefused as refused:
        return FileSeen("home-refused", detail=str(refused))
    try:
        return _read_file(folder, uid)
    finally:
        os.close(folder)


def _read_file(folder: int, uid: int) -> FileSeen:
    # A handle on the entry itself (O_PATH: nothing is opened, a link is not followed),
    # so nothing but the account's regular file is ever opened for reading.
    try:
        entry = os.open(FILE_NAME, os.O_PATH | os.O_NOFOLLOW, dir_fd=folder)
    except FileNotFoundError:
        return FileSeen("missing")
    except OSError as error:
        return FileSeen("unreadable", detail=error.strerror or str(error))
    try:
        status = os.fstat(entry)
        if stat.S_ISLNK(status.st_mode):
            return FileSeen("link")
        if (
            not stat.S_ISREG(status.st_mode)
            or status.st_uid != uid
            or status.st_nlink != 1
            or status.st_size > MAX_SIZE
        ):
            return FileSeen("not-a-file")
        try:
            fd = os.open(f"/proc/self/fd/{entry}", os.O_RDONLY | os.O_NOCTTY)
        except OSError as error:
            return FileSeen("unreadable", detail=error.strerror or str(error))
    finally:
        os.close(entry)
    with os.fdopen(fd, "rb") as handle:
        content = handle.read(MAX_SIZE + 1).decode("utf-8", errors="replace")
    return FileSeen("ok", parse(content), mode=stat.S_IMODE(status.st_mode))


def write(home: str, uid: int, content: str) -> None:
    """`content` becomes the account's credentials file, all at once (HomeRefused or
    Missing when the home is not one to write in)."""
    folder = _open_home(home, uid)
    try:
        gid = os.fstat(folder).st_gid
        _remove_leftovers(folder)
        name = TEMPORARY_PREFIX + secrets.token_hex(6)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(name, flags, MODE, dir_fd=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), MODE)  # while root's: no CAP_FOWNER needed
                os.fchown(handle.fileno(), uid, gid)
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(name, FILE_NAME, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=folder)
            raise
        os.fsync(folder)
    finally:
        os.close(folder)


def _remove_leftovers(folder: int) -> None:
    """Files a writer killed before its rename left (only ours: by their name, never
    followed: unlinking a link removes the link)."""
    for entry in os.listdir(folder):
        if entry.startswith(TEMPORARY_PREFIX):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=folder)


def _open_home(home: str, uid: int) -> int:
    """A descriptor of the home, reached without following a link, owned by `uid`."""
    parts = [part for part in home.split("/") if part]
    if not home.startswith("/") or not parts or any(part in (".", "..") for part in parts):
        raise HomeRefused(f"the home {home!r} is not a plain absolute path")
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for index, part in enumerate(parts):
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                raise Missing(errno.ENOENT, f"{home} does not exist") from None
            except OSError as error:
                where = "/" + "/".join(parts[: index + 1])
                if error.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise HomeRefused(f"{where} is a symbolic link or not a folder") from None
                raise HomeRefused(f"{where} cannot be opened: {error.strerror}") from None
            os.close(fd)
            fd = child
        owner = os.fstat(fd).st_uid
        if owner != uid:
            raise HomeRefused(f"the home {home} belongs to uid {owner}, not {uid}")
        return fd
    except BaseException:
        os.close(fd)
        raise
