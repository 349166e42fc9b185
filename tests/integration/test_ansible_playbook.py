"""deploy/ansible/loginhost.yml as an admin runs it, aimed at a folder instead of `/`:
the files `ats host render` wrote land under it with their modes and bytes, the sss
lines of nsswitch.conf and the PAM lines are added to copies of this machine's files,
a second run changes nothing, a broken sshd drop-in is refused before it is installed,
and the machine's own /etc is untouched. deploy/ansible/slurm.yml the same way: Slurm's
rendered files and the chapter's MUNGE key (0400 munge:munge), refused without the
key, and a node's door (its Caddy configuration, checked by caddy first, and its unit)
on a node other than the front door's host. deploy/ansible/databases.yml too: the
server's MariaDB drop-in (a broken one refused before it is installed), its folder of
files and the units. ansible-playbook runs with `local` connection inside a private
mount namespace whose /run is its own (sshd's check needs /run/sshd), skipping the
`packages` and `services` tags; only ansible.builtin modules are used, so nothing is
fetched from Ansible Galaxy."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.test_host_render import NODES, _render

PLAYBOOK = Path(__file__).resolve().parents[2] / "deploy" / "ansible" / "loginhost.yml"
SLURM_PLAYBOOK = PLAYBOOK.with_name("slurm.yml")
DATABASE_PLAYBOOK = PLAYBOOK.with_name("databases.yml")
SERVER_DROPIN = "etc/mysql/mariadb.conf.d/60-ats-server.cnf"
NODE_DOOR = "etc/caddy/ats-node-door.json"
DATABASE_UNITS = (
    "ats-databases.service",
    "ats-databases-backup.service",
    "ats-databases-backup.timer",
)
ANSIBLE_PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
# The modules run with the Python a host has, as they do on the chapter's hosts (they need
# nothing but its standard library); started from the project's virtualenv, each of the
# forty-odd module runs of a play cost a third more CPU.
HOST_PYTHON = "/usr/bin/python3"
PAM_FILES = ("common-account", "common-session", "common-session-noninteractive")
# What the playbook copies, and the mode each must have.
COPIED = {
    "etc/sssd/sssd.conf": 0o600,
    "etc/ssh/sshd_config.d/ats.conf": 0o644,
    "etc/sudoers.d/ats": 0o440,
    "usr/local/bin/become": 0o755,
    "usr/local/bin/toolforge": 0o755,
    "usr/local/bin/toolforge-jobs": 0o755,
    "usr/local/bin/webservice": 0o755,
    "usr/local/bin/ats-webservice": 0o755,
    "usr/local/bin/ats-web-relay": 0o755,
    "usr/local/sbin/ats-tool-home": 0o755,
    "usr/local/sbin/ats-authorized-keys": 0o755,
    "usr/local/sbin/ats-session-guard": 0o755,
    "usr/local/sbin/ats-host-mounts": 0o755,
    "etc/systemd/system/ats-session-guard.service": 0o644,
    "etc/systemd/system/ats-host-mounts.service": 0o644,
    "usr/share/pam-configs/ats-login-host": 0o644,
    "etc/motd": 0o644,
    "etc/mysql/mariadb.conf.d/60-ats-client.cnf": 0o644,
}
BIND_PASSWORD = "s3cret-from-the-vault"


def _machine_etc() -> dict[str, bytes | None]:
    """The machine's NSS and PAM files and every place the playbooks would write."""
    paths = [Path("/etc/nsswitch.conf"), *sorted(Path("/etc/pam.d").iterdir())]
    paths += [Path("/", p) for p in COPIED] + [Path("/etc/sssd/conf.d/ats-bind.conf")]
    paths += [Path("/etc/slurm/slurm.conf"), Path("/etc/slurm/cgroup.conf")]
    paths += [Path("/etc/munge/munge.key"), Path("/", SERVER_DROPIN)]
    paths += [Path("/etc/systemd/system", unit) for unit in DATABASE_UNITS]
    paths += [Path("/", NODE_DOOR), Path("/etc/systemd/system/ats-node-door.service")]
    paths += [Path("/usr/local/sbin/ats-job-prolog")]
    return {str(p): p.read_bytes() if p.is_file() else None for p in paths}


def _target(tmp_path: Path) -> Path:
    """A folder standing for a fresh host's root: copies of this machine's nsswitch.conf
    and PAM files (Debian's, before any login-host edit)."""
    root = tmp_path / "root"
    (root / "etc" / "pam.d").mkdir(parents=True)
    shutil.copy2("/etc/nsswitch.conf", root / "etc" / "nsswitch.conf")
    for name in PAM_FILES:
        shutil.copy2(Path("/etc/pam.d", name), root / "etc" / "pam.d" / name)
    return root


def _playbook(
    tmp_path: Path, *args: str, playbook: Path = PLAYBOOK
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)]
    command += ["-e", "ats_hosts=localhost", "-e", f"ansible_python_interpreter={HOST_PYTHON}"]
    private_run = 'mount -t tmpfs tmpfs /run && mkdir /run/sshd && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--"]
        + ["sh", "-c", private_run, "sh", *command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )


def _apply(
    tmp_path: Path, root: Path, files: Path, *extra: str, playbook: Path = PLAYBOOK
) -> subprocess.CompletedProcess[str]:
    return _playbook(
        tmp_path,
        *("-e", f"ats_root={root}", "-e", f"ats_files={files}"),
        *("--skip-tags", "packages,services", *extra),
        playbook=playbook,
    )


def _changed(done: subprocess.CompletedProcess[str]) -> int:
    recap = re.search(
        r"localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", done.stdout
    )
    assert recap, done.stdout + done.stderr
    return int(recap.group(1))


@pytest.mark.parametrize(
    ("playbook", "role"),
    [
        (PLAYBOOK, "ats_login_host"),
        (SLURM_PLAYBOOK, "ats_slurm_node"),
        (DATABASE_PLAYBOOK, "ats_database_server"),
    ],
)
def test_the_playbooks_use_only_builtin_modules_and_pass_the_syntax_check(
    tmp_path: Path, playbook: Path, role: str
) -> None:
    (play,) = yaml.safe_load(playbook.read_text())
    assert play["roles"] == [role]
    folder = playbook.parent / "roles" / role
    tasks = yaml.safe_load((folder / "tasks" / "main.yml").read_text())
    tasks += yaml.safe_load((folder / "handlers" / "main.yml").read_text())
    keywords = {"name", "when", "loop", "loop_control", "notify", "tags", "register"}
    keywords |= {"no_log", "delegate_to", "run_once"}
    for task in tasks:
        (module,) = set(task) - keywords
        assert module.startswith("ansible.builtin."), task["name"]
    checked = _playbook(tmp_path, "--syntax-check", playbook=playbook)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_playbook_applies_the_rendered_files_to_a_folder(tmp_path: Path) -> None:
    files = _render(tmp_path)
    root = _target(tmp_path)
    before = _machine_etc()
    key = tmp_path / "munge.key"
    subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True)
    bind = ("-e", f"ats_ldap_bind_password={BIND_PASSWORD}", "-e", f"ats_munge_key={key}")

    first = _apply(tmp_path, root, files, *bind)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _changed(first) > 0
    assert BIND_PASSWORD not in first.stdout + first.stderr

    for path, mode in COPIED.items():
        placed = root / path
        assert placed.read_bytes() == (files / path).read_bytes(), path
        assert stat.S_IMODE(placed.stat().st_mode) == mode, path
        assert placed.stat().st_uid == 0 and placed.stat().st_gid == 0, path
    assert stat.S_IMODE((root / "etc/sssd").stat().st_mode) == 0o700
    # `toolforge jobs` signs with the key every Slurm host shares.
    placed_key = root / "etc/munge/munge.key"
    assert placed_key.read_bytes() == key.read_bytes()
    assert stat.S_IMODE(placed_key.stat().st_mode) == 0o400
    snippet = root / "etc/sssd/conf.d/ats-bind.conf"
    assert stat.S_IMODE(snippet.stat().st_mode) == 0o600
    assert snippet.read_text().splitlines() == [
        "[domain/toolserver]",
        "ldap_default_authtok_type = password",
        f"ldap_default_authtok = {BIND_PASSWORD}",
    ]

    # NSS: sss after the sources the host already had; sudoers, absent, as rendered.
    machine_nss = Path("/etc/nsswitch.conf").read_text().splitlines()
    nss = (root / "etc/nsswitch.conf").read_text().splitlines()
    for database in ("passwd", "group", "shadow"):
        (was,) = [line for line in machine_nss if line.startswith(database + ":")]
        (now,) = [line for line in nss if line.startswith(database + ":")]
        assert now.split() == [*was.split(), "sss"] or ("sss" in was.split() and now == was)
    assert [line.split() for line in nss if line.startswith("sudoers:")] == [
        ["sudoers:", "files", "sss"]
    ]
    assert len(nss) - len(machine_nss) == 1

    # PAM: every line the render shows is in the host's file, in the render's order,
    # and every line the host had is still there.
    for name in PAM_FILES:
        ours = (root / "etc/pam.d" / name).read_text().splitlines()
        machine = Path("/etc/pam.d", name).read_text().splitlines()
        assert [line for line in machine if line not in ours] == [], name
        rendered = [
            line
            for line in (files / "etc/pam.d" / name).read_text().splitlines()
            if line and not line.startswith("#") and "pam_systemd" not in line
        ]
        assert all(line.strip() in map(str.strip, ours) for line in rendered), name
        stripped = [line.strip() for line in ours]
        positions = [stripped.index(line.strip()) for line in rendered]
        assert positions == sorted(positions), name
    session = (root / "etc/pam.d/common-session").read_text()
    assert "pam_mkhomedir.so skel=/etc/skel umask=0077" in session
    assert "pam_exec.so quiet seteuid /usr/local/sbin/ats-tool-home" in session
    account = (root / "etc/pam.d/common-account").read_text()
    assert "[default=bad success=ok user_unknown=ignore]\tpam_sss.so" in account

    again = _apply(tmp_path, root, files, *bind)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _changed(again) == 0, again.stdout
    assert _machine_etc() == before


def test_without_the_hosts_password_nothing_is_applied(tmp_path: Path) -> None:
    files = _render(tmp_path)
    root = _target(tmp_path)
    done = _apply(tmp_path, root, files)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "set ats_ldap_bind_password" in done.stdout
    assert not (root / "etc/sssd/sssd.conf").exists()


def test_a_broken_sshd_drop_in_is_refused_before_it_is_installed(tmp_path: Path) -> None:
    files = _render(tmp_path)
    root = _target(tmp_path)
    before = _machine_etc()
    dropin = files / "etc/ssh/sshd_config.d/ats.conf"
    dropin.write_text(dropin.read_text() + "AuthorizedKeysComand /usr/bin/true\n")

    done = _apply(tmp_path, root, files, "-e", f"ats_ldap_bind_password={BIND_PASSWORD}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Bad configuration option: AuthorizedKeysComand" in done.stdout
    assert not (root / "etc/ssh/sshd_config.d/ats.conf").exists()
    assert _machine_etc() == before


def test_the_slurm_playbook_applies_the_files_and_the_key_to_a_folder(tmp_path: Path) -> None:
    files = _render(tmp_path, more=NODES)
    assert not list(files.rglob("*munge*"))  # the key is never rendered
    root = tmp_path / "root"
    root.mkdir()
    key = tmp_path / "munge.key"
    subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True)
    before = _machine_etc()
    tools2 = ("-e", f"ats_munge_key={key}", "-e", "ats_node_name=tools2")
    door = files / "etc/caddy/ats-node-door/tools2.json"
    rendered = door.read_text()

    # A node door caddy cannot load is refused before it is installed.
    door.write_text(rendered.replace('"reverse_proxy"', '"reverse_prox"'))
    refused = _apply(tmp_path, root, files, *tools2, playbook=SLURM_PLAYBOOK)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "unknown module: http.handlers.reverse_prox" in refused.stdout
    assert not (root / NODE_DOOR).exists()
    door.write_text(rendered)

    first = _apply(tmp_path, root, files, *tools2, playbook=SLURM_PLAYBOOK)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _changed(first) > 0
    munge = (root / "etc/munge").stat()
    for path in ("etc/slurm/slurm.conf", "etc/slurm/cgroup.conf"):
        placed = root / path
        assert placed.read_bytes() == (files / path).read_bytes(), path
        assert stat.S_IMODE(placed.stat().st_mode) == 0o644 and placed.stat().st_uid == 0
    placed_key = root / "etc/munge/munge.key"
    assert placed_key.read_bytes() == key.read_bytes()
    assert stat.S_IMODE(placed_key.stat().st_mode) == 0o400
    assert stat.S_IMODE(munge.st_mode) == 0o700
    owner = subprocess.run(["id", "-u", "munge"], capture_output=True, text=True, check=True)
    assert placed_key.stat().st_uid == munge.st_uid == int(owner.stdout)
    # The node door: tools2 is not the front door's host.
    placed = root / NODE_DOOR
    assert placed.read_text() == rendered
    assert stat.S_IMODE(placed.stat().st_mode) == 0o644 and placed.stat().st_uid == 0
    unit = root / "etc/systemd/system/ats-node-door.service"
    assert unit.read_bytes() == (PLAYBOOK.parents[1] / "systemd/ats-node-door.service").read_bytes()
    # Every node makes a tool's socket folder before its job starts (slurm.conf's Prolog).
    prolog = root / "usr/local/sbin/ats-job-prolog"
    assert prolog.read_bytes() == (files / "usr/local/sbin/ats-job-prolog").read_bytes()
    assert stat.S_IMODE(prolog.stat().st_mode) == 0o755 and prolog.stat().st_uid == 0
    assert "Prolog=/usr/local/sbin/ats-job-prolog" in (root / "etc/slurm/slurm.conf").read_text()

    again = _apply(tmp_path, root, files, *tools2, playbook=SLURM_PLAYBOOK)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _changed(again) == 0, again.stdout
    # The front door's own host (tools1) gets no node door.
    front = tmp_path / "front"
    front.mkdir()
    done = _apply(
        tmp_path,
        front,
        files,
        "-e",
        f"ats_munge_key={key}",
        "-e",
        "ats_node_name=tools1",
        playbook=SLURM_PLAYBOOK,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (front / "etc/slurm/slurm.conf").exists() and not (front / "etc/caddy").exists()
    assert (front / "usr/local/sbin/ats-job-prolog").exists()  # its jobs' folders too
    assert _machine_etc() == before


def test_without_the_munge_key_the_slurm_playbook_applies_nothing(tmp_path: Path) -> None:
    files = _render(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    done = _apply(tmp_path, root, files, playbook=SLURM_PLAYBOOK)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "set ats_munge_key" in done.stdout
    assert list(root.iterdir()) == []


def test_the_database_playbook_applies_the_server_settings_and_units_to_a_folder(
    tmp_path: Path,
) -> None:
    files = _render(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    before = _machine_etc()
    dropin = files / SERVER_DROPIN
    rendered = dropin.read_text()
    dropin.write_text(rendered + "bind-adress = 10.0.0.1\n")

    refused = _apply(tmp_path, root, files, playbook=DATABASE_PLAYBOOK)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "unknown variable 'bind-adress=10.0.0.1'" in refused.stdout
    assert not (root / SERVER_DROPIN).exists()

    dropin.write_text(rendered)
    first = _apply(tmp_path, root, files, playbook=DATABASE_PLAYBOOK)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _changed(first) > 0
    placed = root / SERVER_DROPIN
    assert placed.read_bytes() == dropin.read_bytes()
    assert stat.S_IMODE(placed.stat().st_mode) == 0o644 and placed.stat().st_uid == 0
    mysql = subprocess.run(["id", "-u", "mysql"], capture_output=True, text=True, check=True)
    folder = (root / "var/lib/mysql-files").stat()
    assert (stat.S_IMODE(folder.st_mode), folder.st_uid) == (0o750, int(mysql.stdout))
    assert "secure-file-priv = /var/lib/mysql-files\n" in rendered
    backups = (root / "var/backups/ats-databases").stat()
    assert (stat.S_IMODE(backups.st_mode), backups.st_uid) == (0o700, 0)
    for unit in DATABASE_UNITS:
        shipped = PLAYBOOK.parents[1] / "systemd" / unit
        assert (root / "etc/systemd/system" / unit).read_bytes() == shipped.read_bytes(), unit

    again = _apply(tmp_path, root, files, playbook=DATABASE_PLAYBOOK)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _changed(again) == 0, again.stdout
    assert _machine_etc() == before
