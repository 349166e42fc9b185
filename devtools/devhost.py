"""A throwaway login host for development, the tests and the demo (`ats devhost`).

It is made of the files `ats host render` writes (handed in as `(path, text, mode)`
items, already rendered for a replica on `replica_port`) and runs:

- a read-only slapd consumer of the directory (the rendered `ldap/consumer.conf`,
  with its password and folder filled in) on 127.0.0.1:`replica_port`;
- in a private mount namespace (`unshare --mount`), SSSD reading that consumer and
  sshd on a free loopback port: the host's files are bind-mounted over
  /etc/nsswitch.conf, /etc/sssd, /etc/pam.d (a copy of the machine's, with the
  rendered common-account and common-session), /etc/sudoers(.d), /etc/motd and
  /usr/local/{bin,sbin} and /etc/ssh/sshd_config; private folders over /var/lib/sss,
  /var/log/sssd, /home and the tools' root (which must exist on the machine unless it
  is under /home), and a tmpfs over /run; then, as a real host does at boot,
  `ats-host-mounts` (homes, tool homes and temporary folders nosuid,nodev) and
  `ats-session-guard` (ends what revoked members still run). SSSD binds to the replica
  as the login hosts' DN with the password handed in;
- once SSSD answers, a Slurm node (`devtools.devslurm`) in the same namespace, so
  slurmd resolves the tools' accounts through SSSD: its munged listens at munge's
  default socket on the namespace's /run and its configuration is bound over
  /etc/slurm there, so `sbatch` as a tool (over ssh, or `runuser -u tools.NAME` through
  `enter`) needs nothing more.
- when asked, a MariaDB server (`devtools.devmariadb`) started in the namespace and
  the tool databases' service (`ats databases serve`, handed in) beside it, inside, where
  the homes are: each member's and tool's `~/replica.my.cnf` names the server at
  127.0.0.1 and its port.

Nothing of the machine's own /etc changes: the mounts exist only inside the
namespace, which ends with its processes (`stop`, which first cancels the node's jobs
and removes its cgroups, the machine's). The state (pids, ports, the Slurm node) is
kept in `FOLDER/devhost.json`. Everything runs as root (mount namespaces, sshd, SSSD).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from devtools.daemons import alive, end, read_state, tail, which
from devtools.devcaddy import DevCaddy, DevCaddyError
from devtools.devmariadb import DevMariaDB, DevMariaDBError
from devtools.devslurm import DevSlurm, DevSlurmError, new_node_name
from devtools.ports import free_port


class HostFileLike(Protocol):
    """A rendered file (`provisioning.loginhost.HostFile`, which this may not import)."""

    @property
    def path(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def mode(self) -> int: ...


class DevHostError(RuntimeError):
    """The login host cannot start; the message says why, in one line."""


PROGRAMS = {
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "slapd": "slapd",
    "sssd": "sssd-ldap",
    "sshd": "openssh-server",
    "sss_ssh_authorizedkeys": "sssd-common",
    "sudo": "sudo",
    "slurmd": "slurmd",
}
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")

# Run by bash inside the new mount namespace; its pid is the namespace's.
NAMESPACE_SCRIPT = r"""set -eu
S="$1"
TOOLS="$2"
mount --bind "$S/etc/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$S/etc/sssd" /etc/sssd
mount --bind "$S/etc/pam.d" /etc/pam.d
mount --bind "$S/etc/sudoers" /etc/sudoers
mount --bind "$S/etc/sudoers.d" /etc/sudoers.d
mount --bind "$S/etc/motd" /etc/motd
mount --bind "$S/usr/local/bin" /usr/local/bin
mount --bind "$S/usr/local/sbin" /usr/local/sbin
mount --bind "$S/var/lib/sss" /var/lib/sss
mount --bind "$S/var/log/sssd" /var/log/sssd
mount --bind "$S/home" /home
if [ -n "$TOOLS" ]; then mount --bind "$S/tools" "$TOOLS"; fi
mount --bind "$S/sshd_config" /etc/ssh/sshd_config
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -m 0755 /run/sshd /run/sudo
# As at a real host's boot: homes, tool homes and temporary folders nosuid,nodev.
/usr/local/sbin/ats-host-mounts
/usr/sbin/sssd -i -d 0x0070 --logger=files &
for _ in $(seq 100); do
    if [ -S /var/lib/sss/pipes/nss ] && [ -S /var/lib/sss/pipes/ssh ]; then break; fi
    sleep 0.1
done
[ -S /var/lib/sss/pipes/ssh ] || { echo "devhost: sssd did not start" >&2; exit 1; }
/usr/sbin/sshd -t -f "$S/sshd_config"
/usr/sbin/sshd -D -e -f "$S/sshd_config" &
/usr/local/sbin/ats-session-guard &
echo ready > "$S/ready"
wait
"""


@dataclass
class State:
    namespace_pid: int
    replica_pid: int
    port: int
    replica_port: int
    slurm_node: str = ""
    slurm_conf: str = ""  # SLURM_CONF for client commands (inside: /etc/slurm/slurm.conf too)
    runtime_pid: int = 0  # the jobs service (`ats runtime serve`), inside
    runtime_port: int = 0
    web_port: int = 0  # the front door's HTTPS port on 127.0.0.1, when it runs
    web_domain: str = ""
    mariadb_port: int = 0  # the tool databases' server on 127.0.0.1, when it runs
    databases_pid: int = 0  # their service (`ats databases serve`), inside


class DevHost:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.state_file = self.folder / "devhost.json"

    # -- state -----------------------------------------------------------------

    def state(self) -> State | None:
        return read_state(self.state_file, State)

    def running(self) -> State | None:
        """The state when both the namespace and the replica still run."""
        state = self.state()
        if state and alive(state.namespace_pid) and alive(state.replica_pid):
            return state
        return None

    # -- start -----------------------------------------------------------------

    def start(
        self,
        files: Iterable[HostFileLike],
        *,
        replica_port: int,
        password: str,
        tool_home_root: str,
        host_password: str,
        runtime: tuple[list[str], int] | None = None,
        front_door: Mapping[str, Any] | None = None,
        databases: list[str] | None = None,
    ) -> State:
        """Lay the host out under the folder and start the replica, SSSD (binding with
        `host_password`), sshd and the session guard; with `databases` (the tool
        databases' service, without its server options), a MariaDB and that service."""
        if os.geteuid() != 0:
            raise DevHostError("ats devhost runs as root: it makes a mount namespace")
        check_tool_home_root(tool_home_root)
        for program, package in PROGRAMS.items():
            if not which(program):
                raise DevHostError(f"{program} is missing: install {package} (scripts/setup)")
        if not Path("/etc/slurm").is_dir():
            raise DevHostError("/etc/slurm is missing: install slurm-client (scripts/setup)")
        if self.running():
            raise DevHostError(f"a login host already runs from {self.folder} (ats devhost stop)")
        self.stop()
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        # slapd runs as openldap: it must reach its folder under this one.
        self.folder.chmod(0o711)
        rendered = {item.path: item for item in files}
        self._lay_out(rendered, host_password)
        replica_pid = self._start_replica(rendered, replica_port, password)
        try:
            port = free_port()
            self._write_sshd_config(rendered, port)
            namespace_pid = self._start_namespace(tool_home_root)
            state = State(namespace_pid, replica_pid, port, replica_port)
            self.state_file.write_text(json.dumps(asdict(state)))
            self._wait_ready(state)
            self._start_slurm(state)
            if front_door is not None:
                self._start_front_door(state, front_door)
            if runtime is not None:
                self._start_runtime(state, *runtime)
            if databases is not None:
                self._start_databases(state, databases)
        except BaseException:
            self.stop()
            raise
        return state

    def _lay_out(self, rendered: dict[str, HostFileLike], host_password: str) -> None:
        root = self.folder
        for path, item in rendered.items():
            if not path.startswith(("etc/", "usr/")):
                continue
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(item.text)
            target.chmod(item.mode)
        # The machine's own PAM, with the rendered files put over the ones they replace.
        pam = root / "etc/pam.d"
        shutil.copytree("/etc/pam.d", pam, symlinks=True, dirs_exist_ok=True)
        for name in ("common-account", "common-session", "common-session-noninteractive"):
            (pam / name).write_text(rendered[f"etc/pam.d/{name}"].text)
        sssd = root / "etc/sssd"
        (sssd / "conf.d").mkdir(exist_ok=True)
        sssd.chmod(0o700)
        (sssd / "conf.d").chmod(0o700)
        if any(c in host_password for c in "\n\r"):
            raise DevHostError("the login hosts' password holds a line break")
        bind = sssd / "conf.d" / "ats-bind.conf"
        bind.touch(mode=0o600)
        bind.write_text(
            "[domain/toolserver]\nldap_default_authtok_type = password\n"
            f"ldap_default_authtok = {host_password}\n"
        )
        sudoers = root / "etc/sudoers"
        sudoers.write_text(
            "Defaults\tenv_reset\n"
            'Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n'
            "root\tALL=(ALL:ALL) ALL\n"
            "@includedir /etc/sudoers.d\n"
        )
        sudoers.chmod(0o440)
        (root / "etc/sudoers.d").chmod(0o755)
        folders = ("usr/local/bin", "usr/local/sbin", "home", "tools", "var/lib", "var/log/sssd")
        for folder in folders:
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "var/log/sssd").chmod(0o750)
        # SSSD's own tree, empty, with the owners and modes the package gave it.
        subprocess.run(["cp", "-a", "/var/lib/sss", str(root / "var/lib/sss")], check=True)
        for leftover in (root / "var/lib/sss").rglob("*"):
            if leftover.is_file() or leftover.is_socket():
                leftover.unlink()
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "ssh_host_key")],
            check=True,
            capture_output=True,
        )

    def _start_replica(self, rendered: dict[str, HostFileLike], port: int, password: str) -> int:
        folder = self.folder / "replica"
        data = folder / "data"
        data.mkdir(parents=True)
        for name in ("openssh-lpk.schema", "sudo.schema"):
            (folder / name).write_text(rendered[f"ldap/{name}"].text)
        if '"' in password or "\n" in password:
            raise DevHostError("the directory's password holds a quote or a line break")
        consumer = rendered["ldap/consumer.conf"].text
        consumer = consumer.replace("directory /var/lib/ldap/ats-replica", f"directory {data}")
        consumer = consumer.replace("credentials=REPLICATOR-PASSWORD", f'credentials="{password}"')
        includes = [f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS]
        includes += [f"include {folder}/openssh-lpk.schema", f"include {folder}/sudo.schema"]
        conf = folder / "slapd.conf"
        conf.write_text(
            "\n".join(includes)
            + f"\npidfile {folder}/slapd.pid\nmodulepath /usr/lib/ldap\n"
            + consumer
        )
        conf.chmod(0o600)
        subprocess.run(["chown", "-R", "openldap:openldap", str(folder)], check=True)
        log = (self.folder / "replica.log").open("wb")
        process = subprocess.Popen(
            [which("slapd") or "slapd", "-d", "0", "-h", f"ldap://127.0.0.1:{port}/"]
            + ["-f", str(conf), "-u", "openldap", "-g", "openldap"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not _listens(port):
            if process.poll() is not None or time.monotonic() > deadline:
                said = tail(self.folder / "replica.log")
                raise DevHostError(f"the directory's replica did not start: {said}")
            time.sleep(0.05)
        return process.pid

    def _write_sshd_config(self, rendered: dict[str, HostFileLike], port: int) -> None:
        drop_in = rendered["etc/ssh/sshd_config.d/ats.conf"].text
        (self.folder / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\n"
            f"HostKey {self.folder}/ssh_host_key\nPidFile {self.folder}/sshd.pid\n"
            "PrintMotd no\nSubsystem sftp internal-sftp\n" + drop_in
        )

    def _start_namespace(self, tool_home_root: str) -> int:
        # Tool homes stay inside the namespace: under /home they are in its private
        # /home; elsewhere a private folder is mounted over the machine's (checked to
        # exist at start: nothing is made outside this host's folder).
        tools = "" if _private(tool_home_root) else tool_home_root
        script = self.folder / "namespace.sh"
        script.write_text(NAMESPACE_SCRIPT)
        log = (self.folder / "host.log").open("wb")
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--"]
            + ["bash", str(script), str(self.folder), tools],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return process.pid

    def _wait_ready(self, state: State) -> None:
        deadline = time.monotonic() + 30
        while not ((self.folder / "ready").exists() and _listens(state.port)):
            if not alive(state.namespace_pid) or time.monotonic() > deadline:
                said = tail(self.folder / "host.log")
                raise DevHostError(f"the login host did not start: {said}")
            time.sleep(0.1)

    def slurm(self, state: State | None = None) -> DevSlurm:
        """The login host's Slurm node (under FOLDER/slurm)."""
        return DevSlurm(self.folder / "slurm", state.slurm_node if state else "")

    def _start_slurm(self, state: State) -> None:
        enter = self.enter(state)
        state.slurm_node = new_node_name()
        self.state_file.write_text(json.dumps(asdict(state)))  # stop() finds the node
        try:
            slurm = self.slurm(state).start(enter)
        except DevSlurmError as error:
            raise DevHostError(str(error)) from None
        state.slurm_conf = slurm.conf
        # Where every client looks, inside only: the machine's /etc/slurm is untouched.
        subprocess.run(
            [*enter, "mount", "--bind", str(Path(slurm.conf).parent), "/etc/slurm"], check=True
        )
        self.state_file.write_text(json.dumps(asdict(state)))

    def front_door(self) -> DevCaddy:
        """The login host's front door (under FOLDER/caddy)."""
        return DevCaddy(self.folder / "caddy")

    def _start_front_door(self, state: State, config: Mapping[str, Any]) -> None:
        """Caddy, as its own user, inside (where the tools' sockets are), with `config`
        (its admin API and HTTPS on loopback ports, its internal CA)."""
        try:
            self.front_door().start(config, self.enter(state))
        except DevCaddyError as error:
            raise DevHostError(str(error)) from None
        server = config["apps"]["http"]["servers"]["front"]
        state.web_port = int(str(server["listen"][0]).rsplit(":", 1)[1])
        policies = config["apps"]["tls"]["automation"]["policies"]
        state.web_domain = str(policies[0]["subjects"][0]).removeprefix("*.")
        self.state_file.write_text(json.dumps(asdict(state)))

    def _start_runtime(self, state: State, command: list[str], port: int) -> None:
        """Start the jobs service (`command`, listening on `port`) inside, where the
        tools' users resolve and Slurm's and MUNGE's clients find their node."""
        log = (self.folder / "runtime.log").open("wb")
        process = subprocess.Popen(
            [*self.enter(state), *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        state.runtime_pid, state.runtime_port = process.pid, port
        self.state_file.write_text(json.dumps(asdict(state)))
        deadline = time.monotonic() + 30
        while not _listens(port):
            if process.poll() is not None or time.monotonic() > deadline:
                said = tail(self.folder / "runtime.log")
                raise DevHostError(f"the jobs service did not start: {said}")
            time.sleep(0.05)

    def mariadb(self) -> DevMariaDB:
        """The login host's database server (under FOLDER/mariadb)."""
        return DevMariaDB(self.folder / "mariadb")

    def _start_databases(self, state: State, command: list[str]) -> None:
        """MariaDB inside, then the tool databases' service inside (where the homes are),
        given the server's socket and port."""
        try:
            server = self.mariadb().start(self.enter(state))
        except DevMariaDBError as error:
            raise DevHostError(str(error)) from None
        state.mariadb_port = server.port
        self.state_file.write_text(json.dumps(asdict(state)))
        log_file = self.folder / "databases.log"
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                [*self.enter(state), *command, "--admin-socket", server.socket]
                + ["--client-host", "127.0.0.1", "--client-port", str(server.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state.databases_pid = process.pid
        self.state_file.write_text(json.dumps(asdict(state)))
        deadline = time.monotonic() + 30
        while b"a pass every" not in log_file.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise DevHostError(f"the tool databases' service did not start: {tail(log_file)}")
            time.sleep(0.05)

    # -- stop ------------------------------------------------------------------

    def stop(self) -> bool:
        """End the namespace (sshd, SSSD and every session) and the replica; whether
        anything was running."""
        state = self.state()
        # The jobs service first (it would start again what is cancelled next), then
        # the jobs (through the namespace), then the node's cgroups, which the
        # namespace's end would leave on the machine.
        if state is not None and state.runtime_pid and alive(state.runtime_pid):
            end(state.runtime_pid)
        if state is not None and state.databases_pid and alive(state.databases_pid):
            end(state.databases_pid)
        self.mariadb().stop()
        self.front_door().stop()
        slurm = self.slurm(state).stop()
        if state is None:
            return slurm
        # SSSD makes its own process group: every process in the namespace is found by
        # its mount namespace, which no process outside the login host shares.
        inside = _in_namespace(state.namespace_pid) if alive(state.namespace_pid) else []
        pids = [pid for pid in (*inside, state.replica_pid) if alive(pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return bool(pids)

    def enter(self, state: State) -> list[str]:
        """The command prefix that runs a program inside the login host's namespace."""
        return ["nsenter", "-t", str(state.namespace_pid), "-m", "--"]


def check_tool_home_root(tool_home_root: str) -> None:
    """DevHostError unless the login host can serve tool homes under `tool_home_root`
    without making anything outside its folder."""
    if not _private(tool_home_root) and not Path(tool_home_root).is_dir():
        raise DevHostError(
            f"the tools' root {tool_home_root} is not on this machine: a dev login host "
            "mounts its own over it and makes nothing outside its folder (create it, or "
            "set [provisioning] tool_home_root under /home)"
        )


def _private(tool_home_root: str) -> bool:
    """Whether the tools' root lies in the login host's private /home."""
    root = Path(tool_home_root)
    return root == Path("/home") or Path("/home") in root.parents


def _in_namespace(pid: int) -> list[int]:
    """The processes in the mount namespace of `pid` (itself first)."""
    try:
        namespace = os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return []
    if namespace == os.readlink("/proc/self/ns/mnt"):
        return [pid]  # not (or no longer) a namespace of its own: never the machine's
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != pid:
            try:
                if os.readlink(entry / "ns" / "mnt") == namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0
