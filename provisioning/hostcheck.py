"""`ats host check`: whether the machine it runs on serves the directory as a login host,
line by line: it resolves a member (NSS through SSSD), gets their SSH keys (what sshd's
AuthorizedKeysCommand gets), sees the sudo rules that are `become`, and makes homes
(pam_mkhomedir in the session stack).

An adapter: it asks the host's own NSS, `sss_ssh_authorizedkeys` and `sudo -l`, and reads
/etc; `check_host` returns the findings (`Finding`), the command prints them.
"""

from __future__ import annotations

import grp
import os
import pwd
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


@dataclass(frozen=True)
class Finding:
    what: str  # "resolves members", "gets their keys", ...
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}: {self.detail}"


def check_host(member: str, etc: Path = Path("/etc")) -> list[Finding]:
    """The four findings for `member` (a shell name), in order."""
    return [
        _resolves(member, etc),
        _keys(member),
        _sudo(member, etc),
        _homes(member, etc),
    ]


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


def _resolves(member: str, etc: Path) -> Finding:
    what = "resolves members"
    if "sss" not in _nss_sources(etc, "passwd") or "sss" not in _nss_sources(etc, "group"):
        return Finding(what, False, f"{etc}/nsswitch.conf lacks sss on its passwd and group lines")
    try:
        entry = pwd.getpwnam(member)
    except KeyError:
        return Finding(what, False, f"{member} is unknown (is SSSD running and the directory up?)")
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
    try:
        session = (etc / "pam.d" / "common-session").read_text()
    except OSError:
        return Finding(what, False, f"{etc}/pam.d/common-session cannot be read")
    active = [line for line in session.splitlines() if not line.lstrip().startswith("#")]
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
