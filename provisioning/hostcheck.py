"""`ats host check`: whether the machine it runs on serves the directory as a login host,
and holds against the members it admits, line by line.

For the host: no member can borrow a local account (sshd takes keys through
ats-authorized-keys, which checks the uid; no local account is also a directory
name, and no local uid is inside the directory's range); keys come only from the
directory (sshd reads no ~/.ssh); suspended members are refused (pam_sss in the
account stack, SSSD's access filter); ats-session-guard runs, ending what revoked
members still run; homes, tool homes and temporary folders are nosuid and nodev; and
the directory tells an anonymous reader nothing and the host's own bind DN no
password. With `--member`: it resolves the member (NSS through SSSD), gets their SSH
keys (what sshd's AuthorizedKeysCommand gets), sees the sudo rules that are `become`,
and makes homes (pam_mkhomedir in the session stack).

An adapter: it asks the host's own NSS, sshd (`sshd -T`), `sss_ssh_authorizedkeys`,
`sudo -l` and the directory, and reads /etc and /proc; `check_host` returns the
findings (`Finding`), the command prints them.
"""

from __future__ import annotations

import configparser
import grp
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PAM_MODULE_DIRS = (
    "/lib/x86_64-linux-gnu/security",
    "/usr/lib/x86_64-linux-gnu/security",
    "/lib/security",
    "/usr/lib/security",
)
KEYS_COMMAND = "/usr/local/sbin/ats-authorized-keys"
GUARD = "/usr/local/sbin/ats-session-guard"
MOUNTS = "/usr/local/sbin/ats-host-mounts"
NOLOGIN = "/usr/sbin/nologin"
SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108 - checked, not used


@dataclass(frozen=True)
class Finding:
    what: str  # "resolves members", "gets their keys", ...
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}: {self.detail}"


def check_host(member: str | None = None, etc: Path = Path("/etc")) -> list[Finding]:
    """The host's findings, then the four for `member` (a shell name) when given."""
    domain = _sssd_domain(etc)
    sshd = _sshd_settings()
    findings = [
        _borrowed_names(etc, domain, sshd),
        _keys_only_from_the_directory(sshd),
        _refuses_suspended(etc, domain),
        _guard_runs(),
        _nosuid(etc),
        _directory_tells(domain),
    ]
    if member is not None:
        findings += [
            _resolves(member, etc, domain),
            _keys(member),
            _sudo(member, etc),
            _homes(member, etc),
        ]
    return findings


def _sssd_domain(etc: Path) -> dict[str, str]:
    """The first domain's settings as SSSD reads them (sssd.conf, then conf.d/*.conf)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    folder = etc / "sssd"
    try:
        parser.read([folder / "sssd.conf", *sorted(folder.glob("conf.d/*.conf"))])
    except (OSError, configparser.Error):
        return {}
    domains = parser.get("sssd", "domains", fallback="").split(",")
    section = f"domain/{domains[0].strip()}"
    return dict(parser[section]) if parser.has_section(section) else {}


def _uid_range(domain: dict[str, str]) -> tuple[int, int] | None:
    try:
        return int(domain["min_id"]), int(domain["max_id"])
    except (KeyError, ValueError):
        return None


def _sshd_settings() -> dict[str, list[str]] | None:
    """`sshd -T`: sshd's effective settings (lower-case keys), or None."""
    program = shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/sbin")
    if program is None:
        return None
    done = subprocess.run([program, "-T"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        return None
    settings: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key, []).append(value)
    return settings


def _borrowed_names(
    etc: Path, domain: dict[str, str], sshd: dict[str, list[str]] | None
) -> Finding:
    what = "lends no local account"
    span = _uid_range(domain)
    if span is None:
        return Finding(what, False, f"{etc}/sssd/sssd.conf sets no min_id and max_id")
    if sshd is None:
        return Finding(what, False, "sshd -T cannot be read (run as root, with sshd installed)")
    command = " ".join(sshd.get("authorizedkeyscommand", ["none"]))
    if command.split()[:3] != [KEYS_COMMAND, "%u", "%U"]:
        return Finding(
            what, False, f"sshd's AuthorizedKeysCommand is {command!r}, not {KEYS_COMMAND} %u %U"
        )
    low, high = span
    local = _local_accounts(etc)
    inside = sorted(name for name, uid in local.items() if low <= uid <= high)
    if inside:
        return Finding(
            what,
            False,
            f"local account(s) {', '.join(inside)} have uids inside the directory's "
            f"{low}-{high}: renumber them or narrow [provisioning] uid_min/uid_max",
        )
    clashes = sorted(name for name in local if _directory_has(name))
    if clashes:
        return Finding(
            what,
            False,
            f"the directory also has {', '.join(clashes)}, local account(s) of this host: "
            "add them to [provisioning] reserved_names and give those members other names",
        )
    return Finding(
        what, True, f"keys only for uids {low}-{high} as the directory gives them; no clash"
    )


def _local_accounts(etc: Path) -> dict[str, int]:
    accounts: dict[str, int] = {}
    try:
        lines = (etc / "passwd").read_text().splitlines()
    except OSError:
        return accounts
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            accounts[fields[0]] = int(fields[2])
    return accounts


def _directory_has(name: str) -> bool:
    done = subprocess.run(
        ["getent", "-s", "sss", "passwd", "--", name], capture_output=True, timeout=30
    )
    return done.returncode == 0


def _keys_only_from_the_directory(sshd: dict[str, list[str]] | None) -> Finding:
    what = "takes keys only from the directory"
    if sshd is None:
        return Finding(what, False, "sshd -T cannot be read (run as root, with sshd installed)")
    files = " ".join(sshd.get("authorizedkeysfile", [])).split()
    personal = [f for f in files if not f.startswith("/etc/") and f != "none"]
    if personal:
        return Finding(
            what,
            False,
            f"sshd reads {' '.join(personal)}: a key a member drops there opens a login "
            "(AuthorizedKeysFile /etc/ssh/authorized_keys/%u)",
        )
    if sshd.get("passwordauthentication", ["yes"])[0] != "no":
        return Finding(what, False, "sshd takes passwords (PasswordAuthentication no)")
    return Finding(what, True, f"sshd reads no member's files ({' '.join(files) or 'none'})")


def _refuses_suspended(etc: Path, domain: dict[str, str]) -> Finding:
    what = "refuses suspended members"
    active = _pam_lines(etc, "common-account")
    if active is None:
        return Finding(what, False, f"{etc}/pam.d/common-account cannot be read")
    if not any(re.match(r"^account\s.*\bpam_sss\.so", line) for line in active):
        return Finding(what, False, f"pam_sss is not in {etc}/pam.d/common-account")
    if domain.get("access_provider") != "ldap":
        return Finding(what, False, "SSSD's access_provider is not ldap: nobody is refused")
    order = [part.strip() for part in domain.get("ldap_access_order", "filter").split(",")]
    if "filter" not in order or NOLOGIN not in domain.get("ldap_access_filter", ""):
        return Finding(
            what, False, f"SSSD's ldap_access_filter does not refuse loginShell={NOLOGIN}"
        )
    return Finding(what, True, "pam_sss and SSSD's access filter refuse them before a session")


def _guard_runs() -> Finding:
    what = "ends revoked sessions"
    if not Path(GUARD).is_file():
        return Finding(what, False, f"{GUARD} is missing (ats host render writes it)")
    # Only a guard that sees this host's files guards it: one in another mount namespace
    # (a container, another test host on the same machine) does not count.
    here = os.readlink("/proc/self/ns/mnt")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
                if os.readlink(entry / "ns" / "mnt") != here:
                    continue
            except OSError:
                continue
            if any(part.decode(errors="replace") == GUARD for part in command[:2]):
                return Finding(what, True, f"ats-session-guard runs (pid {entry.name})")
    return Finding(
        what, False, "ats-session-guard is not running (systemctl enable --now ats-session-guard)"
    )


def _nosuid(etc: Path) -> Finding:
    what = "grants nothing setuid"
    # Where members and tools write (the shared temporary folders too).
    places = ["/home", _tool_home_root(), *SHARED_TEMPORARY]
    loose = []
    for place in places:
        if not place or not os.path.isdir(place):
            continue
        flags = os.statvfs(place).f_flag
        if not (flags & os.ST_NOSUID and flags & os.ST_NODEV):
            loose.append(place)
    if loose:
        return Finding(what, False, f"{', '.join(loose)} not mounted nosuid,nodev (run {MOUNTS})")
    return Finding(what, True, f"{', '.join(p for p in places if p)} are nosuid,nodev")


def _tool_home_root() -> str:
    try:
        text = Path(MOUNTS).read_text()
    except OSError:
        return ""
    found = re.search(r"^TOOL_HOME_ROOT=(\S+)$", text, re.MULTILINE)
    return found.group(1) if found else ""


def _directory_tells(domain: dict[str, str]) -> Finding:
    from provisioning.backend import ProvisioningError
    from provisioning.directory_access import exposure

    what = "tells nobody more than they need"
    uri = domain.get("ldap_uri", "").split(",")[0].strip()
    base = domain.get("ldap_search_base", "").split("?")[0]
    if not uri or not base:
        return Finding(what, False, "SSSD's domain names no ldap_uri or ldap_search_base")
    dn, password = domain.get("ldap_default_bind_dn", ""), domain.get("ldap_default_authtok", "")
    if not dn or not password:
        return Finding(
            what,
            False,
            "SSSD binds anonymously: give it the login hosts' DN and password "
            "(ldap_default_bind_dn, and ldap_default_authtok in conf.d/ats-bind.conf)",
        )
    try:
        told = exposure(uri, base, [(dn, password)])
    except ProvisioningError as error:
        return Finding(what, False, str(error))
    if told:
        return Finding(what, False, "; ".join(told))
    return Finding(what, True, f"{uri} answers nobody anonymously and shows {dn} no password")


def _pam_lines(etc: Path, name: str) -> list[str] | None:
    """The lines of /etc/pam.d/NAME that are not comments, or None when unreadable."""
    try:
        text = (etc / "pam.d" / name).read_text()
    except OSError:
        return None
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


def _nss_sources(etc: Path, database: str) -> list[str]:
    try:
        text = (etc / "nsswitch.conf").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        name, _, sources = line.partition(":")
        if name.strip() == database:
            return sources.split("#")[0].split()
    return []


def _resolves(member: str, etc: Path, domain: dict[str, str]) -> Finding:
    what = "resolves members"
    if "sss" not in _nss_sources(etc, "passwd") or "sss" not in _nss_sources(etc, "group"):
        return Finding(what, False, f"{etc}/nsswitch.conf lacks sss on its passwd and group lines")
    try:
        entry = pwd.getpwnam(member)
    except KeyError:
        return Finding(what, False, f"{member} is unknown (is SSSD running and the directory up?)")
    if member in _local_accounts(etc):
        return Finding(
            what, False, f"{member} is a local account of this host (uid {entry.pw_uid})"
        )
    span = _uid_range(domain)
    if span is not None and not span[0] <= entry.pw_uid <= span[1]:
        return Finding(
            what,
            False,
            f"{member} is uid {entry.pw_uid}, outside the directory's {span[0]}-{span[1]}",
        )
    groups = sorted(grp.getgrgid(g).gr_name for g in os.getgrouplist(member, entry.pw_gid))
    return Finding(what, True, f"{member} is uid {entry.pw_uid}, groups {' '.join(groups)}")


def _keys(member: str) -> Finding:
    what = "gets their keys"
    program = shutil.which("sss_ssh_authorizedkeys")
    if program is None:
        return Finding(what, False, "sss_ssh_authorizedkeys is missing (install sssd-common)")
    result = subprocess.run(
        [program, member], capture_output=True, text=True, timeout=30, check=False
    )
    keys = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not keys:
        reason = result.stderr.strip().splitlines()[-1:] or ["none in the directory"]
        return Finding(what, False, f"no SSH key for {member} ({reason[0]})")
    return Finding(what, True, f"{len(keys)} SSH key(s) for {member} from SSSD")


def _sudo(member: str, etc: Path) -> Finding:
    what = "sees the sudo rules"
    if "sss" not in _nss_sources(etc, "sudoers"):
        return Finding(what, False, f"{etc}/nsswitch.conf lacks sss on its sudoers line")
    program = shutil.which("sudo")
    if program is None:
        return Finding(what, False, "sudo is missing (install sudo)")
    if os.geteuid() != 0:
        return Finding(what, False, "run as root to list another member's sudo rules")
    result = subprocess.run(
        [program, "-n", "-l", "-U", member], capture_output=True, text=True, timeout=30
    )
    tools = sorted(
        {
            line.strip().split(")")[0].lstrip("(").split(":")[0]
            for line in result.stdout.splitlines()
            if line.strip().startswith("(tools.")
        }
    )
    if not tools:
        return Finding(
            what, False, f"no rule lets {member} become a tool (a maintainer of none yet?)"
        )
    return Finding(what, True, f"{member} may become {' '.join(tools)}")


def _homes(member: str, etc: Path) -> Finding:
    what = "makes homes"
    active = _pam_lines(etc, "common-session")
    if active is None:
        return Finding(what, False, f"{etc}/pam.d/common-session cannot be read")
    if not any("pam_mkhomedir.so" in line for line in active):
        return Finding(what, False, f"pam_mkhomedir is not in {etc}/pam.d/common-session")
    if not any(Path(d, "pam_mkhomedir.so").exists() for d in PAM_MODULE_DIRS):
        return Finding(what, False, "pam_mkhomedir.so is missing (install libpam-modules)")
    try:
        home = pwd.getpwnam(member).pw_dir
    except KeyError:
        return Finding(what, True, "pam_mkhomedir makes a member's home at their first login")
    state = "exists" if Path(home).is_dir() else "is made at their first login"
    return Finding(what, True, f"pam_mkhomedir is on; {member}'s home {home} {state}")
