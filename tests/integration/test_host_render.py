"""`ats host render` as an admin runs it: the files written with their modes, the
scripts valid bash, `become` refusing a non-maintainer with its message (inside a
private mount namespace whose /etc/passwd and /etc/group know a tool, so the
machine's own files are never touched), sshd accepting a configuration that
includes the drop-in (`sshd -t`, in a namespace too), slapd accepting the rendered
settings (`slaptest`), a real provider and consumer started from them replicating a
tool's entries — its sudoRole included — within seconds, mariadbd taking the tool
databases' server settings, and a node door's configuration for each node but the front
door's own host."""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import ldap3

from devtools.ports import free_port
from provisioning.directory_access import exposure, set_host_account
from provisioning.ldap import LdapBackend
from runtime.nodedoor import NodeDoorSettings
from runtime.nodedoor import config as node_door_config
from tests import forked_cli
from tests.integration.slapd import SCHEMAS, Slapd, _find

HOST_SECRET = "the-login-hosts-secret"  # noqa: S105 - a throwaway directory's
SCHEMA_FILES = [f"/etc/ldap/schema/{n}.schema" for n in ("core", "cosine", "nis", "inetorgperson")]


def _render(tmp_path: Path, slapd_url: str = "ldap://127.0.0.1:9", more: str = "") -> Path:
    """What `ats host render` writes for a chapter (and `more` of its configuration)."""
    config = tmp_path / "ats.toml"
    config.write_text(f"""[wiki]
api = "https://meta.example.org/w/api.php"
request_page = "Toolserver/Requests"
[bot]
username = "ClerkBot@clerk"
[store]
path = "ats.sqlite"
[bridge]
url = "https://bridge.toolserver.example"
[provisioning]
backend = "ldap"
ldap_url = "{slapd_url}"
base_dn = "dc=toolserver,dc=example"
bind_dn = "cn=admin,dc=toolserver,dc=example"
login_host = "login.toolserver.example"
rules_page = "Toolserver/Rules of use"
tool_home_root = "/srv/tools"
[databases]
client_host = "10.20.0.5"
client_port = 3307
{more}""")
    out = tmp_path / "out"
    done = _ats(config, "host", "render", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert f"0600 {out}/etc/sssd/sssd.conf" in done.stdout.splitlines()
    return out


# Three nodes, the first the front door's own host (the controller host).
NODES = """[runtime]
controller_host = "tools1"
nodes = ["tools1:4:8000", "tools2:8:16000:10.0.0.12", "tools3:8:16000"]
[web]
domain = "tools.example.org"
"""


def _ats(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return forked_cli.run(["--config", str(config), *args], timeout=120)


def test_render_writes_the_host_files_with_their_modes(tmp_path: Path) -> None:
    out = _render(tmp_path)
    modes = {
        "etc/sssd/sssd.conf": 0o600,
        "etc/sudoers.d/ats": 0o440,
        "usr/local/bin/become": 0o755,
        "usr/local/sbin/ats-tool-home": 0o755,
        "etc/ssh/sshd_config.d/ats.conf": 0o644,
        "ldap/sudo.ldif": 0o644,
        "etc/mysql/mariadb.conf.d/60-ats-server.cnf": 0o644,
        "etc/mysql/mariadb.conf.d/60-ats-client.cnf": 0o644,
    }
    for path, mode in modes.items():
        assert stat.S_IMODE((out / path).stat().st_mode) == mode, path
    motd = (out / "etc/motd").read_text()
    assert "https://meta.example.org/w/index.php?title=Toolserver/Rules_of_use" in motd
    for script in ("usr/local/bin/become", "usr/local/sbin/ats-tool-home"):
        checked = subprocess.run(["bash", "-n", str(out / script)], capture_output=True)
        assert checked.returncode == 0, checked.stderr
    # Rendering again replaces the files; a file where the folder should be is one line.
    assert _ats(tmp_path / "ats.toml", "host", "render", "--output", str(out)).returncode == 0
    (tmp_path / "plain").write_text("")
    refused = _ats(tmp_path / "ats.toml", "host", "render", "--output", str(tmp_path / "plain"))
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"ats: {tmp_path}/plain exists and is not a folder"


def test_render_writes_a_node_door_for_each_node_but_the_front_doors(tmp_path: Path) -> None:
    out = _render(tmp_path, more=NODES)
    doors = out / "etc/caddy/ats-node-door"
    assert sorted(path.name for path in doors.iterdir()) == ["tools2.json", "tools3.json"]
    for name, address in (("tools2", "10.0.0.12"), ("tools3", "tools3")):
        placed = doors / f"{name}.json"
        assert stat.S_IMODE(placed.stat().st_mode) == 0o644
        settings = NodeDoorSettings(
            domain="tools.example.org", address=address, port=81, socket_root="/run/ats-web"
        )
        assert json.loads(placed.read_text()) == node_door_config(settings)
    assert "tools1" in (out / "etc/slurm/slurm.conf").read_text()  # a node all the same
    # One host (no nodes), or no web: no node door.
    (tmp_path / "one").mkdir()
    plain = _render(tmp_path / "one", more='[web]\ndomain = "tools.example.org"\n')
    assert not (plain / "etc/caddy").exists()


def test_the_prolog_makes_a_tools_socket_folder_on_its_node(tmp_path: Path) -> None:
    sockets = tmp_path / "sockets"
    out = _render(tmp_path, more=NODES + f'socket_root = "{sockets}"\n')
    prolog = out / "usr/local/sbin/ats-job-prolog"
    assert "Prolog=/usr/local/sbin/ats-job-prolog" in (out / "etc/slurm/slurm.conf").read_text()
    assert subprocess.run(["bash", "-n", str(prolog)], check=False).returncode == 0

    def run(user: str, uid: str = "52001") -> subprocess.CompletedProcess[str]:
        environment = {"PATH": "/usr/bin:/bin", "SLURM_JOB_USER": user, "SLURM_JOB_UID": uid}
        return subprocess.run(
            [str(prolog)], env=environment, capture_output=True, text=True, check=False
        )

    for _ in range(2):  # a second job finds it made
        done = run("tools.mytool")
        assert (done.returncode, done.stderr) == (0, "")
        made = (sockets / "mytool").stat()
        assert (made.st_uid, made.st_gid) == (52001, grp.getgrnam("caddy").gr_gid)
        assert stat.S_IMODE(made.st_mode) == 0o2750
    assert stat.S_IMODE(sockets.stat().st_mode) == 0o755 and sockets.stat().st_uid == 0
    for user, uid in (("alice", "5001"), ("tools.My_Tool", "52002"), ("tools.x/../y", "52003")):
        assert run(user, uid).returncode == 0
    assert sorted(path.name for path in sockets.iterdir()) == ["mytool"]
    # What it cannot do is said, and the job starts all the same (a failed Prolog would
    # drain the node).
    shutil.rmtree(sockets)
    sockets.write_text("")
    done = run("tools.mytool")
    assert done.returncode == 0
    assert done.stderr.endswith(
        f"ats-job-prolog: could not make {sockets}/mytool for tools.mytool\n"
    )


def test_render_refuses_a_config_without_a_directory(tmp_path: Path) -> None:
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "B"\n[store]\npath = "ats.sqlite"\n'
    )
    done = _ats(config, "host", "render", "--output", str(tmp_path / "out"))
    assert done.returncode == 2 and "set [provisioning] ldap_url" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _in_namespace(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    """`script` (bash) in a private mount namespace where /etc/passwd and /etc/group
    are copies that also know the tool `mytool` (maintained by `alice`, not root)."""
    passwd = tmp_path / "passwd"
    group = tmp_path / "group"
    passwd.write_text(
        Path("/etc/passwd").read_text()
        + "tools.mytool:x:52001:52001:ATS tool:/srv/tools/mytool:/bin/bash\n"
        + "alice:x:52002:52002:ATS Alice:/home/alice:/bin/bash\n"
    )
    group.write_text(
        Path("/etc/group").read_text() + "tools.mytool:x:52001:alice\nalice:x:52002:\n"
    )
    os.chmod(passwd, 0o644)
    os.chmod(group, 0o644)
    setup = f"mount --bind {passwd} /etc/passwd && mount --bind {group} /etc/group && "
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", setup + script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_become_refuses_with_a_message(tmp_path: Path) -> None:
    out = _render(tmp_path)
    become = out / "usr/local/bin/become"
    before = Path("/etc/passwd").read_bytes(), Path("/etc/group").read_bytes()
    done = _in_namespace(tmp_path, f"{become} mytool id")
    assert done.returncode == 1
    assert done.stderr == (
        "become: you (root) are not a maintainer of the tool 'mytool'; its maintainers "
        "can add you on https://bridge.toolserver.example\n"
    )
    done = _in_namespace(tmp_path, f"{become} tools.nosuch")
    assert (done.returncode, done.stderr) == (1, "become: there is no tool 'nosuch' on this host\n")
    done = _in_namespace(tmp_path, f"{become} 'Bad Name'")
    assert done.returncode == 2 and "is not a tool name" in done.stderr
    done = _in_namespace(tmp_path, str(become))
    assert done.returncode == 2 and done.stderr.startswith("usage: become NAME [COMMAND...]")
    # The tool's home, made by the PAM hook as the tool is first become.
    hook = out / "usr/local/sbin/ats-tool-home"
    srv = tmp_path / "srv"  # bound over /srv in the namespace: the host's stays as it is
    srv.mkdir()
    assert Path("/srv").is_dir()
    done = _in_namespace(
        tmp_path,
        f"mount --bind {srv} /srv && "
        # As pam_exec runs it under sudo: root's uid, the tool's group.
        "PAM_TYPE=open_session PAM_USER=tools.mytool "
        f"setpriv --regid 52001 --keep-groups -- {hook} && "
        "stat -c '%a %u %g' /srv/tools/mytool /srv/tools && "
        f"PAM_TYPE=open_session PAM_USER=alice {hook} && ls /srv/tools",
    )
    assert done.returncode == 0, done.stderr
    # The tools' root is root's whoever becomes a tool first.
    assert done.stdout.split("\n")[:3] == ["2770 52001 52001", "755 0 0", "mytool"]
    assert (Path("/etc/passwd").read_bytes(), Path("/etc/group").read_bytes()) == before


def _slapd_conf(out: Path, body: str) -> str:
    includes = [*SCHEMA_FILES, str(out / "ldap/openssh-lpk.schema"), str(out / "ldap/sudo.schema")]
    return "".join(f"include {s}\n" for s in includes) + "modulepath /usr/lib/ldap\n" + body


def test_slaptest_accepts_the_provider_and_consumer_settings(tmp_path: Path) -> None:
    out = _render(tmp_path)
    (tmp_path / "pdb").mkdir()
    (tmp_path / "cdb").mkdir()
    provider = _slapd_conf(
        out,
        'moduleload back_mdb\ndatabase mdb\nsuffix "dc=toolserver,dc=example"\n'
        f"directory {tmp_path / 'pdb'}\n" + (out / "ldap/provider.conf").read_text(),
    )
    consumer = (out / "ldap/consumer.conf").read_text()
    consumer = consumer.replace("/var/lib/ldap/ats-replica", str(tmp_path / "cdb"))
    for name, text in (("provider.conf", provider), ("consumer.conf", _slapd_conf(out, consumer))):
        (tmp_path / name).write_text(text)
        done = subprocess.run(
            [_find("slaptest"), "-u", "-f", str(tmp_path / name)], capture_output=True, text=True
        )
        assert done.returncode == 0, (name, done.stderr)


def test_a_consumer_from_the_rendered_settings_replicates_a_tool(tmp_path: Path) -> None:
    out = _render(tmp_path)
    provider = Slapd.start(database_extra=(out / "ldap/provider.conf").read_text())
    folder = Path(provider.directory.parent / (provider.directory.name + "-consumer"))
    consumer_process = None
    try:
        folder.mkdir()
        (folder / "data").mkdir()
        for name in ("openssh-lpk.schema", "sudo.schema"):
            shutil.copyfile(SCHEMAS / name, folder / name)
        text = (out / "ldap/consumer.conf").read_text()
        text = text.replace("ldap://127.0.0.1:9", provider.url)
        text = text.replace("REPLICATOR-PASSWORD", provider.password)
        text = text.replace("/var/lib/ldap/ats-replica", str(folder / "data"))
        includes = [*SCHEMA_FILES, str(folder / "openssh-lpk.schema"), str(folder / "sudo.schema")]
        conf = "".join(f"include {s}\n" for s in includes)
        conf += f"pidfile {folder}/slapd.pid\nmodulepath /usr/lib/ldap\n" + text
        (folder / "slapd.conf").write_text(conf)
        user = []
        if os.geteuid() == 0:
            for path in [folder, *folder.rglob("*")]:
                shutil.chown(path, "openldap", "openldap")
            user = ["-u", "openldap", "-g", "openldap"]
        port = free_port()
        log = (folder / "slapd.log").open("wb")
        consumer_process = subprocess.Popen(
            [_find("slapd"), "-d", "0", "-h", f"ldap://127.0.0.1:{port}/", "-f"]
            + [str(folder / "slapd.conf"), *user],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        backend = LdapBackend(provider.url, provider.base_dn, provider.root_dn, provider.password)
        started = time.monotonic()
        host_dn = f"cn=login-hosts,ou=services,{provider.base_dn}"
        set_host_account(provider.url, provider.root_dn, provider.password, host_dn, HOST_SECRET)
        backend.create_person("Alice", "alice", [])
        backend.create_tool("mytool", ["alice"])
        role = f"cn=tools.mytool,ou=sudoers,{provider.base_dn}"
        found = None
        while time.monotonic() - started < 15 and found is None:
            if consumer_process.poll() is not None:
                raise AssertionError((folder / "slapd.log").read_text(errors="replace"))
            try:
                # The login hosts read the replica with their own DN (replicated too).
                conn = ldap3.Connection(
                    f"ldap://127.0.0.1:{port}", host_dn, HOST_SECRET, auto_bind=True
                )
            except ldap3.core.exceptions.LDAPException:
                time.sleep(0.1)
                continue
            conn.search(role, "(objectClass=sudoRole)", ldap3.BASE, attributes=["sudoUser"])
            found = [str(e["attributes"]["sudoUser"][0]) for e in conn.response or []] or None
            conn.unbind()
            if found is None:
                time.sleep(0.1)
        assert found == ["%tools.mytool"], (folder / "slapd.log").read_text(errors="replace")
        # Nobody writes to the consumer: a delete there is refused and changes nothing.
        conn = ldap3.Connection(f"ldap://127.0.0.1:{port}", host_dn, HOST_SECRET, auto_bind=True)
        assert not conn.delete(role) and conn.result["result"] != 0
        assert conn.search(role, "(objectClass=sudoRole)", ldap3.BASE)
        # The host reads what SSSD needs of a member, never who is behind the name.
        person = f"uid=alice,ou=people,{provider.base_dn}"
        conn.search(person, "(objectClass=*)", ldap3.BASE, attributes=["*"])
        shown = set(conn.response[0]["raw_attributes"])
        assert {"uid", "uidNumber", "homeDirectory", "loginShell"} <= shown, shown
        assert not shown & {"cn", "sn", "employeeNumber", "userPassword"}, shown
        conn.unbind()
        # Anonymous readers get nothing, the host's DN no password: on both servers.
        for url in (provider.url, f"ldap://127.0.0.1:{port}"):
            assert exposure(url, provider.base_dn, [(host_dn, HOST_SECRET)]) == []
            anonymous = ldap3.Connection(url, auto_bind=True)
            anonymous.search(provider.base_dn, "(cn=*)", attributes=["*"])
            assert anonymous.response == [] or all(
                r["type"] != "searchResEntry" for r in anonymous.response
            )
            anonymous.unbind()
    finally:
        if consumer_process is not None:
            consumer_process.terminate()
            consumer_process.wait(timeout=10)
        provider.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_config_rejects_a_relative_tool_home_root(tmp_path: Path) -> None:
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "B"\n[store]\npath = "ats.sqlite"\n'
        '[provisioning]\ntool_home_root = "data/project"\n'
    )
    done = _ats(config, "host", "render", "--output", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "[provisioning] tool_home_root must be an absolute path" in done.stderr


def _sshd() -> str:
    for candidate in ("/usr/sbin/sshd", str(Path(__file__).parents[2] / "var/sshd/usr/sbin/sshd")):
        if os.access(candidate, os.X_OK):
            return candidate
    raise AssertionError("sshd is missing: run scripts/setup (it unpacks one into var/sshd)")


def test_sshd_accepts_a_config_including_the_drop_in(tmp_path: Path) -> None:
    out = _render(tmp_path)
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = tmp_path / "sshd_config"
    drop_in = out / "etc/ssh/sshd_config.d"
    config.write_text(f"Include {drop_in}/*.conf\nHostKey {key}\nPidFile {tmp_path}/sshd.pid\n")
    check = f"mount -t tmpfs tmpfs /run && mkdir -m 0755 /run/sshd && {_sshd()} -t -f {config}"
    passwd = Path("/etc/passwd").read_text()
    if not any(line.startswith("sshd:") for line in passwd.splitlines()):
        # sshd needs its privilege separation user: only this namespace's copy has it.
        (tmp_path / "passwd").write_text(
            passwd + "sshd:x:64999:65534::/run/sshd:/usr/sbin/nologin\n"
        )
        check = f"mount --bind {tmp_path / 'passwd'} /etc/passwd && " + check
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", check],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # A wrong line in the drop-in is caught the same way (the check can fail).
    with (drop_in / "ats.conf").open("a") as handle:
        handle.write("AuthorizedKeysCommandUsr nobody\n")
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", check],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "Bad configuration option" in done.stderr


def test_mariadbd_takes_the_rendered_server_settings(tmp_path: Path) -> None:
    out = _render(tmp_path)
    dropin = out / "etc/mysql/mariadb.conf.d/60-ats-server.cnf"
    mariadbd = shutil.which("mariadbd", path="/usr/sbin:/usr/bin")
    assert mariadbd, "mariadbd is missing: scripts/setup installs mariadb-server"
    # The folder of files must exist (deploy/ansible/databases.yml makes it): one here.
    files = tmp_path / "mysql-files"
    files.mkdir()
    # --help --verbose reads every option as the server would, refuses an unknown one,
    # and says what each became.
    shown = subprocess.run(
        [
            mariadbd,
            f"--defaults-file={dropin}",
            f"--secure-file-priv={files}",
            "--help",
            "--verbose",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    values = dict(
        line.split(None, 1) for line in shown.stdout.splitlines() if len(line.split()) == 2
    )
    assert {
        key: values[key]
        for key in (
            "bind-address",
            "port",
            "skip-name-resolve",
            "local-infile",
            "character-set-server",
            "max-connections",
        )
    } == {
        "bind-address": "10.20.0.5",
        "port": "3307",
        "skip-name-resolve": "TRUE",
        "local-infile": "FALSE",
        "character-set-server": "utf8mb4",
        "max-connections": "500",
    }
    assert "secure-file-priv = /var/lib/mysql-files\n" in dropin.read_text()
