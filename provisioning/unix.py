"""The Unix backend: local accounts made with useradd/groupadd, under a root prefix.

`root` is where the account files live: "/" on a real login host, a throwaway
directory in tests (shadow's `--prefix`, so the machine's /etc is never touched).
The shadow tools lock the account files themselves, which is what makes two workers
at once safe. A person is `useradd -m -U` (a personal group); a tool is the user
and group `tools.NAME`, with the maintainers as the group's members. The GECOS field
records the owner — `ATS <wiki username, percent-encoded>` for a person, `ATS tool`
for a tool — and is what collisions are checked against.

Keys go to `HOME/.ssh/authorized_keys` (mode 600, `.ssh` 700, owned by the account
when running as root). Homes belong to their users, who could plant symbolic links,
so every path below `root` is opened one component at a time with `O_NOFOLLOW`
relative to its parent and the file is replaced by a rename: nothing is ever written
through a link. Commands are argument lists, never a shell string, and every name is
validated before it reaches one. Suspension: shell /usr/sbin/nologin, expiry date
1970-01-02 (`usermod -e 1`) and the keys moved to `authorized_keys.ats-suspended`;
`restore` undoes the three (the shell becomes the configured one again).
`converge(name, desired)` brings an account to what the store says now, whatever it
was (the keys, the shell and expiry, the keys kept aside; a tool group's members);
`suspend`, `restore` and `set_keys` are converges from what the account holds. Homes
are made with `home_mode` (0750 by default: the owner and the account's own group).
A tool's home (under `tool_home`, /data/project/NAME by default) is 2770 — the tool
and its group, the maintainers, may write there, and setgid keeps what they make in
the tool's group — and its `become` rule is the sudoers drop-in
`/etc/sudoers.d/ats-tools-NAME` (`provisioning.become`), both made and repaired by
every converge of the tool.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, unquote

from provisioning.backend import (
    NOLOGIN,
    TOOL_PREFIX,
    Account,
    Desired,
    NameTakenError,
    NoSuchAccountError,
    Observed,
    ProvisioningError,
    check_owner,
    checked_keys,
    checked_members,
    checked_name,
)
from provisioning.become import sudoers_drift, sudoers_file_name, sudoers_text

OWNER_MARK = "ATS "
TOOL_MARK = "ATS tool"
KEYS = "authorized_keys"
SUSPENDED_KEYS = "authorized_keys.ats-suspended"
USER_EXISTS = 9
TOOL_HOME_MODE = 0o2770


class UnixBackend:
    def __init__(
        self,
        root: str | Path = "/",
        *,
        id_range: tuple[int, int] = (10000, 59999),
        shell: str = "/bin/bash",
        person_home: str = "/home/{name}",
        tool_home: str = "/data/project/{name}",
        home_mode: int = 0o750,
    ) -> None:
        self.root = Path(root).resolve()
        if not (self.root / "etc").is_dir():
            raise ProvisioningError(f"{self.root}/etc does not exist: is the root right?")
        self.id_range = id_range
        self.shell = shell
        self.person_home = person_home
        self.tool_home = tool_home
        self.home_mode = home_mode

    # -- the interface -----------------------------------------------------

    def create_person(self, wiki_user: str, shell_name: str, keys: Sequence[str]) -> Account:
        name, wanted = checked_name(shell_name), checked_keys(keys)
        account = self.describe(name)
        if account is None or account.kind != "person":
            self._refuse_second_account(wiki_user, name)
            gecos = OWNER_MARK + quote(wiki_user, safe=" ")
            home = self.person_home.format(name=name)
            code = self._useradd(name, gecos, home)
            if code not in (0, USER_EXISTS):
                raise ProvisioningError(f"useradd {name} failed with exit status {code}")
            account = self.describe(name)
            assert account is not None
        check_owner(account, wiki_user)
        if set(account.keys) != set(wanted):
            self.set_keys(name, wanted)
        result = self.describe(name)
        assert result is not None
        return result

    def create_tool(self, tool: str, maintainers: Sequence[str]) -> Account:
        name, members = checked_name(tool), checked_members(maintainers)
        login = TOOL_PREFIX + name
        entry = self._passwd().get(login)
        if entry is None:
            code = self._useradd(login, TOOL_MARK, self.tool_home.format(name=name))
            if code not in (0, USER_EXISTS):
                raise ProvisioningError(f"useradd {login} failed with exit status {code}")
            entry = self._passwd()[login]
        if entry[3] != TOOL_MARK:
            raise NameTakenError(f"the user {login!r} exists and was not made by this system")
        current = self._group_members(login)
        if current != members:
            self._run(["groupmod", *self._prefix(), "-U", ",".join(members), "--", login])
        account = self.describe(name)
        assert account is not None
        self._tool_home(account)
        self._write_sudoers(login)
        result = self.describe(name)
        assert result is not None
        return result

    def set_keys(self, shell_name: str, keys: Sequence[str]) -> None:
        account = self._require(checked_name(shell_name))
        self.converge(account.name, Desired(checked_keys(keys), account.suspended, account.members))

    def suspend(self, shell_name: str) -> None:
        account = self._require(checked_name(shell_name))
        self.converge(account.name, Desired(account.keys, True, account.members))

    def restore(self, shell_name: str) -> None:
        account = self._require(checked_name(shell_name))
        self.converge(account.name, Desired(account.keys, False, account.members))

    def converge(self, shell_name: str, desired: Desired) -> None:
        """Bring the account to `desired` (see the module docstring)."""
        account = self._require(checked_name(shell_name))
        keys = checked_keys(desired.keys) if account.kind == "person" else ()
        if account.kind == "tool":
            members = checked_members(desired.members)
            if self._group_members(account.login) != members:
                self._run(
                    ["groupmod", *self._prefix(), "-U", ",".join(members), "--", account.login]
                )
            self._tool_home(account)
            self._write_sudoers(account.login)
        live = self._read_keys(account, KEYS) if account.kind == "person" else ()
        shell, expired = NOLOGIN if desired.suspended else self.shell, desired.suspended
        if desired.suspended:
            # Access goes first: the keys, then the shell.
            self._sync_keys(account, SUSPENDED_KEYS, keys)
            self._sync_keys(account, KEYS, (), live)
        if account.shell != shell or self._expired(account.login) != expired:
            expiry = "1" if expired else ""
            self._run(["usermod", *self._prefix(), "-e", expiry, "-s", shell, "--", account.login])
        if not desired.suspended:
            self._sync_keys(account, KEYS, keys, live)
            self._sync_keys(account, SUSPENDED_KEYS, ())

    def observe(self) -> list[Observed]:
        """Every account this backend made, with the keys that open a login now."""
        out = []
        for login, fields in sorted(self._passwd().items()):
            if not fields[3].startswith(OWNER_MARK.strip()):
                continue
            account = self.describe(login.removeprefix(TOOL_PREFIX))
            if account is None:
                continue
            if account.kind == "tool":
                drift = sudoers_drift(account.login, self._read_sudoers(account.login))
                out.append(Observed(account, (), tuple(drift)))
                continue
            out.append(Observed(account, self._read_keys(account, KEYS)))
        return out

    def _sync_keys(
        self,
        account: Account,
        filename: str,
        keys: Sequence[str],
        current: Sequence[str] | None = None,
    ) -> None:
        if current is None:
            current = self._read_keys(account, filename)
        if tuple(current) != tuple(keys):
            self._write_keys(account, filename, keys)

    def _expired(self, login: str) -> bool:
        for line in (self.root / "etc" / "shadow").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == login and len(fields) > 7:
                return fields[7] not in ("", "-1")
        return False

    def describe(self, shell_name: str) -> Account | None:
        name = checked_name(shell_name)
        users = self._passwd()
        if name in users:
            fields = users[name]
            gecos = fields[3]
            mine = gecos.startswith(OWNER_MARK) and gecos != TOOL_MARK
            owner = unquote(gecos[len(OWNER_MARK) :]) if mine else ""
            suspended = fields[5] == NOLOGIN
            account = Account(
                kind="person",
                name=name,
                owner=owner,
                uid=int(fields[1]),
                gid=int(fields[2]),
                home=fields[4],
                shell=fields[5],
                suspended=suspended,
            )
            keys = self._read_keys(account, SUSPENDED_KEYS if suspended else KEYS)
            return replace(account, keys=keys)
        if TOOL_PREFIX + name in users:
            fields = users[TOOL_PREFIX + name]
            return Account(
                kind="tool",
                name=name,
                owner=name if fields[3] == TOOL_MARK else "",
                uid=int(fields[1]),
                gid=int(fields[2]),
                home=fields[4],
                shell=fields[5],
                members=self._group_members(TOOL_PREFIX + name),
                suspended=fields[5] == NOLOGIN,
            )
        return None

    # -- the account files -------------------------------------------------

    def _prefix(self) -> list[str]:
        return [] if self.root == Path("/") else ["--prefix", str(self.root)]

    def _useradd(self, login: str, gecos: str, home: str) -> int:
        low, high = self.id_range
        limits = [f"UID_MIN={low}", f"UID_MAX={high}", f"GID_MIN={low}", f"GID_MAX={high}"]
        args = ["useradd", *self._prefix(), "-m", "-U", "-c", gecos, "-d", home, "-s"]
        args.append(self.shell)
        for limit in limits:
            args += ["-K", limit]
        # HOME_MODE: useradd's default (0755, from UMASK) lets every member read
        # every home; the mode is set as the home is made, never loosened later.
        args += ["-K", f"HOME_MODE={self.home_mode:04o}"]
        return self._run([*args, "--", login], check=False)

    def _run(self, args: list[str], *, check: bool = True) -> int:
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if check and done.returncode:
            raise ProvisioningError(
                f"{args[0]} failed with exit status {done.returncode}: {done.stderr.strip()}"
            )
        return done.returncode

    def _passwd(self) -> dict[str, list[str]]:
        users = {}
        for line in (self.root / "etc" / "passwd").read_text().splitlines():
            fields = line.split(":")
            if len(fields) == 7:
                users[fields[0]] = [fields[0], *fields[2:7]]  # name uid gid gecos home shell
        return users

    def _group_members(self, group: str) -> tuple[str, ...]:
        for line in (self.root / "etc" / "group").read_text().splitlines():
            fields = line.split(":")
            if len(fields) == 4 and fields[0] == group:
                return tuple(sorted(m for m in fields[3].split(",") if m))
        return ()

    def _refuse_second_account(self, wiki_user: str, name: str) -> None:
        gecos = OWNER_MARK + quote(wiki_user, safe=" ")
        for login, fields in self._passwd().items():
            if fields[3] == gecos and login != name:
                raise NameTakenError(
                    f"the wiki user {wiki_user!r} already has the shell account {login!r}; "
                    "one member has one account"
                )

    def _require(self, name: str) -> Account:
        account = self.describe(name)
        if account is None:
            raise NoSuchAccountError(f"there is no account {name!r} under {self.root}")
        return account

    # -- a tool's home and `become` rule ------------------------------------

    def _tool_home(self, account: Account) -> None:
        """The tool's home, made when missing: owned by the tool, writable by its group,
        setgid so that what a maintainer makes there belongs to the tool's group."""
        fd = self._walk(account.home, create=True, account=account)
        try:
            if os.geteuid() == 0:
                os.fchown(fd, account.uid, account.gid)
            os.fchmod(fd, TOOL_HOME_MODE)
        finally:
            os.close(fd)

    def _write_sudoers(self, login: str) -> None:
        """The sudoers drop-in that lets the tool's group become it (mode 0440)."""
        folder = self._walk("/etc/sudoers.d", create=True, account=None)
        name = sudoers_file_name(login)
        try:
            if self._read_sudoers(login) == sudoers_text(login):
                return
            temporary = name + ".ats-new"  # a dot: sudo skips it while it is written
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=folder)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(temporary, flags, 0o440, dir_fd=folder)
            with os.fdopen(fd, "w") as handle:
                handle.write(sudoers_text(login))
                os.fchmod(fd, 0o440)
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        finally:
            os.close(folder)

    def _read_sudoers(self, login: str) -> str | None:
        path = self.root / "etc" / "sudoers.d" / sudoers_file_name(login)
        if path.is_symlink() or not path.is_file():
            return None
        return path.read_text()

    def _walk(self, path: str, *, create: bool, account: Account | None) -> int:
        """A descriptor of ROOT/path, reached without following any link; missing
        folders are made (0755) when `create`."""
        parts = [p for p in path.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ProvisioningError(f"{path!r} is not a plain absolute path")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for index, part in enumerate(parts):
                if create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as error:
                    where = "/".join(parts[: index + 1])
                    if account is None:
                        raise ProvisioningError(f"{where} cannot be opened: {error}") from None
                    raise _link_error(account, where, error) from None
                os.close(fd)
                fd = nxt
            return fd
        except BaseException:
            os.close(fd)
            raise

    # -- keys, written without following links -------------------------------

    def _read_keys(self, account: Account, filename: str) -> tuple[str, ...]:
        try:
            ssh = self._open_dir(account.home, ".ssh", create=False, account=account)
        except FileNotFoundError:
            return ()
        try:
            fd = os.open(filename, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=ssh)
        except OSError as error:
            if isinstance(error, FileNotFoundError) or error.errno == errno.ELOOP:
                return ()  # a link planted in place of the file holds none of our keys
            raise _link_error(account, filename, error) from None
        finally:
            os.close(ssh)
        with os.fdopen(fd) as handle:
            return tuple(line.strip() for line in handle if line.strip())

    def _write_keys(self, account: Account, filename: str, keys: Sequence[str]) -> None:
        ssh = self._open_dir(account.home, ".ssh", create=True, account=account)
        try:
            if not keys:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(filename, dir_fd=ssh)
                return
            temporary = filename + ".ats-new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=ssh)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(temporary, flags, 0o600, dir_fd=ssh)
            with os.fdopen(fd, "w") as handle:
                handle.write("".join(k + "\n" for k in keys))
                handle.flush()
                os.fchmod(fd, 0o600)
                if os.geteuid() == 0:
                    os.fchown(fd, account.uid, account.gid)
                os.fsync(fd)
            os.replace(temporary, filename, src_dir_fd=ssh, dst_dir_fd=ssh)
        finally:
            os.close(ssh)

    def _open_dir(self, home: str, child: str, *, create: bool, account: Account) -> int:
        """A descriptor of ROOT/home/child, reached without following any link."""
        parts = [p for p in home.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ProvisioningError(f"the home directory {home!r} is not a plain absolute path")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for index, part in enumerate([*parts, child]):
                is_ssh = index == len(parts)
                if is_ssh and create:
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o700, dir_fd=fd)
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as error:
                    if isinstance(error, FileNotFoundError):
                        raise
                    path = "/".join([*parts, child][: index + 1])
                    raise _link_error(account, path, error) from None
                os.close(fd)
                fd = nxt
            if create:
                os.fchmod(fd, 0o700)
                if os.geteuid() == 0:
                    os.fchown(fd, account.uid, account.gid)
            return fd
        except BaseException:
            os.close(fd)
            raise


def _link_error(account: Account, path: str, error: OSError) -> ProvisioningError:
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        error_text = "is a symbolic link or not a directory"
    else:
        error_text = f"cannot be opened ({error.strerror})"
    failure = ProvisioningError(
        f"{path} of the account {account.login!r} {error_text}; refusing to follow it — "
        "an admin should look at that home directory"
    )
    failure.permanent = True
    return failure
