"""`ats host render`: a login host's configuration, written from the configuration file
(`provisioning.loginhost`, `provisioning.slurmfiles` and `provisioning.databasefiles`
render, and `runtime.nodedoor` the node doors' Caddy configurations; this writes the
files and names them)."""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ats.config import Config
from ats.failures import UsageError

if TYPE_CHECKING:
    from provisioning.databasefiles import DatabaseFiles
    from provisioning.loginhost import HostFile, HostSettings
    from provisioning.slurmfiles import SlurmSettings


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
        "(syncprov) and a read-only consumer (syncrepl); and Slurm's slurm.conf and "
        "cgroup.conf (etc/slurm) for the controller and the nodes of [runtime], where "
        "tools' jobs run (MUNGE's key is a secret, never written); and MariaDB's drop-ins "
        "(etc/mysql/mariadb.conf.d) for the tool databases' server and for the hosts whose "
        "`mariadb` reaches it, from [databases]; and, with [web] domain and [runtime] "
        "nodes, the node door's Caddy configuration for each node but the front door's "
        "own host (etc/caddy/ats-node-door/NODE.json). Apply them with your "
        "own tools (deploy/ansible); nothing on this machine is changed. Files already "
        "in DIR are replaced.",
    )
    render.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help="folder to write into"
    )
    render.set_defaults(run=_render, needs_config=True)
    check = host_commands.add_parser(
        "check",
        help="say, line by line, whether this login host serves the directory",
        description="Run on a login host (as root; or inside `ats devhost`'s namespace): "
        "say, one line each, whether it lends no local account to a member (sshd's key "
        "command checks the uid; no local name or uid clashes with the directory), takes "
        "keys only from the directory, refuses suspended members, runs ats-session-guard, "
        "mounts homes and temporary folders nosuid,nodev, and reads a directory that tells "
        "anonymous readers nothing and its own bind DN no password; with --member, also "
        "whether it resolves that member (NSS through SSSD), gets their SSH keys, sees the "
        "sudo rules that let them become their tools, and makes homes. Exits 1 when a "
        "line fails.",
    )
    check.add_argument("--member", metavar="NAME", help="a member's shell name to look up too")
    check.set_defaults(run=_check, needs_config=False)
    account = host_commands.add_parser(
        "account",
        help="make the login hosts' bind account in the directory, or set its password",
        description="Make (or give a new password to) the DN the login hosts' SSSD binds as "
        "([provisioning] host_bind_dn; default cn=login-hosts,ou=services,BASE_DN), as the "
        "directory's admin (bind_dn, ATS_LDAP_PASSWORD). Its password comes from "
        "ATS_HOST_LDAP_PASSWORD; put the same in each host's /etc/sssd/conf.d/ats-bind.conf "
        "(the Ansible playbook's ats_ldap_bind_password). The directory's access rules "
        "(ats host render) let this DN read what SSSD and sudo need and never a password.",
    )
    account.set_defaults(run=_account, needs_config=True)


def _check(args: argparse.Namespace, config: None) -> int:
    from provisioning.hostcheck import check_host

    member = args.member.strip() if args.member is not None else None
    findings = check_host(member)
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
        replicator_dn=section.replication_dn,
        writer_dn=section.bind_dn,
        host_dn=section.host_dn,
        uid_min=section.uid_min,
        uid_max=section.uid_max,
        tool_home_root=section.tool_home_root,
        login_host=section.login_host,
        rules_url=f"{index}?title={quote(page.replace(' ', '_'), safe='/:')}",
        bridge_url=config.bridge.url,
        runtime_api=config.runtime.client_url,
    )


def controller_host(config: Config) -> str:
    """The short hostname slurmctld runs on: [runtime] controller_host, else this
    machine's."""
    return config.runtime.controller_host or socket.gethostname().split(".")[0] or "localhost"


def slurm_settings(config: Config) -> SlurmSettings:
    """The Slurm cluster of [runtime]; by default one node, this machine (its short
    hostname, its CPUs, its memory less `reserved_mem`)."""
    from provisioning.slurmfiles import SlurmNode, SlurmSettings, parse_node

    section = config.runtime
    controller = controller_host(config)
    nodes = tuple(parse_node(text) for text in section.nodes)
    if not nodes:
        memory = max(_memory_mb() - section.reserved_mem, section.default_mem)
        nodes = (SlurmNode(controller, os.cpu_count() or 1, memory),)
    return SlurmSettings(
        controller_host=controller,
        controller_address=section.controller_address,
        nodes=nodes,
        cluster_name=section.cluster_name,
        partition=section.partition,
        slurmctld_port=section.slurmctld_port,
        slurmd_port=section.slurmd_port,
        default_mem=section.default_mem,
        min_job_age=section.min_job_age,
        cgroup_plugin=section.cgroup_plugin,
        constrain_cores=section.constrain_cores,
        # Web services on several nodes: each node makes a tool's socket folder.
        web_socket_root=config.web.socket_root if config.web.domain and section.nodes else "",
    )


def database_files(config: Config) -> DatabaseFiles:
    """The tool databases' server and its clients, from [databases]."""
    from provisioning.databasefiles import DatabaseFiles

    section = config.databases
    return DatabaseFiles(
        host=section.client_host, port=section.client_port, per_account=section.max_connections
    )


def node_door_files(config: Config) -> list[HostFile]:
    """The node doors' configurations: one for each node of [runtime] nodes but the
    front door's own host (the controller host), at the node's address and [web]
    node_port; none without a domain or with one host."""
    from provisioning.loginhost import HostFile, RenderError
    from provisioning.slurmfiles import parse_node
    from runtime import nodedoor
    from runtime.frontdoor import FrontDoorError

    web = config.web
    if not web.domain or not config.runtime.nodes:
        return []
    here = controller_host(config)
    files = []
    for node in (parse_node(text) for text in config.runtime.nodes):
        if node.name == here:
            continue
        try:
            settings = nodedoor.NodeDoorSettings(
                domain=web.domain,
                address=node.address or node.name,
                port=web.node_port,
                socket_root=web.socket_root,
            )
        except FrontDoorError as error:
            raise RenderError(f"[web] for the node door of {node.name}: {error}") from None
        text = json.dumps(nodedoor.config(settings), indent=1) + "\n"
        files.append(HostFile(f"etc/caddy/ats-node-door/{node.name}.json", text, 0o644))
    return files


def _memory_mb() -> int:
    """This machine's memory in MB (MemTotal), 0 when it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _render(args: argparse.Namespace, config: Config) -> int:
    from provisioning import databasefiles, slurmfiles
    from provisioning.loginhost import RenderError, render

    settings = host_settings(config)
    try:
        files = (
            render(settings)
            + slurmfiles.render(slurm_settings(config))
            + databasefiles.render(database_files(config))
            + node_door_files(config)
        )
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


def _account(args: argparse.Namespace, config: Config) -> int:
    from ats.config import secret
    from provisioning.backend import ProvisioningError
    from provisioning.directory_access import set_host_account

    section = config.provisioning
    if section.backend != "ldap" or not section.ldap_url:
        raise UsageError('the login hosts read a directory: set [provisioning] backend = "ldap"')
    admin_password = secret("ATS_LDAP_PASSWORD")
    password = secret("ATS_HOST_LDAP_PASSWORD")
    try:
        made = set_host_account(
            section.ldap_url, section.bind_dn, admin_password, section.host_dn, password
        )
    except ProvisioningError as error:
        raise UsageError(str(error)) from None
    print(f"{'made' if made else 'new password for'} {section.host_dn}")
    return 0
