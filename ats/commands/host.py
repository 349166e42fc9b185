"""`ats host render`: a login host's configuration, written from the configuration file
(`provisioning.loginhost` renders; this writes the files and names them)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ats.config import Config
from ats.failures import UsageError

if TYPE_CHECKING:
    from provisioning.loginhost import HostSettings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    host = commands.add_parser("host", help="a login host's configuration")
    host_commands = host.add_subparsers(dest="host_command", metavar="HOST_COMMAND", required=True)
    render = host_commands.add_parser(
        "render",
        help="write the files a Debian login host and the directory need",
        description="Write, under DIR and laid out as on the host (etc/sssd/sssd.conf, "
        "etc/ssh/sshd_config.d/ats.conf, usr/local/bin/become, ...), everything a login "
        "host needs to serve the directory of [provisioning]: SSSD, NSS, sshd, PAM, sudo, "
        "the become command and the login message; and under DIR/ldap the directory's "
        "side: the openssh-lpk and sudo schemas and the slapd settings of a provider "
        "(syncprov) and a read-only consumer (syncrepl). Apply them with your own tools; "
        "nothing on this machine is changed. Files already in DIR are replaced.",
    )
    render.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help="folder to write into"
    )
    render.set_defaults(run=_render, needs_config=True)
    check = host_commands.add_parser(
        "check",
        help="say, line by line, whether this login host serves the directory",
        description="Run on a login host (as root; or inside `ats devhost`'s namespace): "
        "say, one line each, whether it resolves the member (NSS through SSSD), gets "
        "their SSH keys (sss_ssh_authorizedkeys), sees the sudo rules that let them "
        "become their tools, and makes homes (pam_mkhomedir). Exits 1 when a line fails.",
    )
    check.add_argument(
        "--member", required=True, metavar="NAME", help="a member's shell name to look up"
    )
    check.set_defaults(run=_check, needs_config=False)


def _check(args: argparse.Namespace, config: None) -> int:
    from provisioning.hostcheck import check_host

    findings = check_host(args.member.strip())
    for finding in findings:
        print(finding.line())
    return 0 if all(finding.ok for finding in findings) else 1


def host_settings(config: Config, ldap_uri: str = "") -> HostSettings:
    """The login host's settings from the configuration; `ldap_uri`: the directory the
    host reads when not the configured replica (the dev login host's own)."""
    from provisioning.loginhost import HostSettings

    section = config.provisioning
    if not section.ldap_url:
        raise UsageError(
            "a login host reads the directory: set [provisioning] ldap_url, base_dn and "
            "bind_dn (and replica_url, the consumer the hosts read) first"
        )
    wiki = config.wiki
    page = section.rules_page or wiki.request_page
    index = wiki.api.rsplit("/", 1)[0] + "/index.php"
    return HostSettings(
        ldap_uri=ldap_uri or section.replica_url or section.ldap_url,
        provider_url=section.ldap_url,
        base_dn=section.base_dn,
        replicator_dn=section.bind_dn,
        tool_home_root=section.tool_home_root,
        login_host=section.login_host,
        rules_url=f"{index}?title={quote(page.replace(' ', '_'), safe='/:')}",
        bridge_url=config.bridge.url,
    )


def _render(args: argparse.Namespace, config: Config) -> int:
    from provisioning.loginhost import RenderError, render

    settings = host_settings(config)
    try:
        files = render(settings)
    except RenderError as error:
        raise UsageError(str(error)) from None
    output: Path = args.output
    if output.exists() and not output.is_dir():
        raise UsageError(f"{output} exists and is not a folder")
    for item in files:
        target = output / item.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(target.name + ".ats-new")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, item.mode)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(item.text)
                os.fchmod(handle.fileno(), item.mode)
            os.replace(temporary, target)
        except OSError as error:
            raise UsageError(f"cannot write {target}: {error.strerror}") from None
        print(f"{item.mode:04o} {target}")
    return 0
