"""`ats devhost start|stop|status`: a throwaway login host serving the directory of the
configuration (`devtools.devhost` runs it; this renders its files with
`provisioning.loginhost`, as `ats host render` does, and names it)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from ats.commands.host import host_settings
from ats.config import Config
from ats.failures import UsageError

DEFAULT_DIR = Path("var/devhost")
DEV_SUDO_REFRESH = 5  # seconds: how often its SSSD looks for new sudo rules (for real: 30)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser(
        "devhost", help="a throwaway login host (sshd, SSSD, sudo) for development"
    )
    dev_commands = dev.add_subparsers(
        dest="devhost_command", metavar="DEVHOST_COMMAND", required=True
    )
    for name, helptext, config in (
        (
            "start",
            "start a login host in a private mount namespace: a read-only replica of the "
            "directory of [provisioning], SSSD reading it, sshd on a free port of "
            "127.0.0.1 and a Slurm node (munged, slurmctld, slurmd) running tools' jobs, "
            "with the files `ats host render` writes; the machine's own /etc "
            "is not changed. Runs as root; needs ATS_LDAP_PASSWORD (the replica binds "
            "with it, and it gives the login hosts' bind account a new password) and the "
            "directory's provider to have syncprov.",
            True,
        ),
        ("stop", "stop the login host (every session and every job in it ends)", False),
        ("status", "say whether the login host runs, and how to reach it", False),
    ):
        sub = dev_commands.add_parser(name, help=helptext.split(":")[0], description=helptext)
        sub.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DIR,
            help=f"the login host's folder, replaced at start (default: {DEFAULT_DIR})",
        )
        if name == "start":
            sub.add_argument("--user", default="USER", help="the member named in the ssh line")
        sub.set_defaults(run=_devhost, needs_config=config)


def _front_door(config: Config, folder: Path) -> dict[str, Any] | None:
    """The login host's front door (Caddy, on free loopback ports, its internal CA) when
    the configuration names a domain: its settings and the configuration it starts with."""
    if not config.web.domain:
        return None
    from devtools.devcaddy import DevCaddy
    from devtools.ports import free_port
    from runtime.frontdoor import FrontDoorSettings, base_config

    settings = FrontDoorSettings(
        domain=config.web.domain,
        https_port=free_port(),
        http_port=0,
        admin=f"127.0.0.1:{free_port()}",
        storage=str(DevCaddy(folder / "caddy").storage),
        listen_host="127.0.0.1",
    )
    return {"settings": settings, "config": base_config(settings)}


def _devhost(args: argparse.Namespace, config: Config | None) -> int:
    from devtools.devhost import DevHost, DevHostError, check_tool_home_root

    host = DevHost(args.dir)
    command = args.devhost_command
    if command == "stop":
        print(f"stopped the login host in {host.folder}" if host.stop() else "not running")
        return 0
    if command == "status":
        state = host.running()
        if state is None:
            print(f"no login host runs from {host.folder}")
            return 1
        print(f"running: ssh -p {state.port} USER@127.0.0.1 (replica on {state.replica_port})")
        enter = " ".join(host.enter(state))
        print(f"inside it: {enter} ats host check --member USER")
        if state.slurm_conf:
            # Inside, /etc/slurm/slurm.conf is this file too: SLURM_CONF is for the outside's
            # view of it (munge's socket is inside only, so clients run inside).
            print(f"slurm: node {state.slurm_node}, SLURM_CONF={state.slurm_conf}")
            print(f"as a tool: {enter} runuser -u tools.NAME -- sbatch --wrap COMMAND")
        if state.web_port:
            print(
                f"front door: https://TOOL.{state.web_domain}:{state.web_port}/ on 127.0.0.1 "
                f"(its CA: {host.folder / 'caddy'}; curl --resolve TOOL.{state.web_domain}:"
                f"{state.web_port}:127.0.0.1)"
            )
        if state.mariadb_port:
            print(
                f"tool databases: MariaDB on 127.0.0.1:{state.mariadb_port}; each account's "
                "~/replica.my.cnf (mariadb --defaults-file=~/replica.my.cnf)"
            )
        if state.runtime_port:
            print(
                f"jobs service: http://127.0.0.1:{state.runtime_port}/ (become TOOL, then "
                "toolforge jobs …)"
            )
        return 0
    assert config is not None
    from devtools.ports import free_port
    from provisioning.loginhost import RenderError, render

    section = config.provisioning
    if section.backend != "ldap":
        raise UsageError('the login host serves a directory: set [provisioning] backend = "ldap"')
    try:
        check_tool_home_root(section.tool_home_root)
    except DevHostError as error:
        raise UsageError(str(error)) from None
    password = os.environ.get("ATS_LDAP_PASSWORD", "")
    if not password:
        raise UsageError("the replica binds to the directory: set ATS_LDAP_PASSWORD")
    from provisioning.backend import ProvisioningError
    from provisioning.ldap import LdapBackend

    # The replica would retry a refused bind for ever, replicating nothing: ask first.
    try:
        LdapBackend(section.ldap_url, section.base_dn, section.bind_dn, password).describe("probe")
    except ProvisioningError as error:
        raise UsageError(f"the replica cannot follow the directory: {error}") from None
    # The login host binds as the hosts' DN (the directory answers nobody anonymously):
    # this host's own password, new at each start, set on that account.
    import secrets

    from provisioning.directory_access import set_host_account

    if host.running():  # before the account's password changes under the running host
        raise UsageError(f"a login host already runs from {host.folder} (ats devhost stop)")
    host_password = secrets.token_urlsafe(24)
    try:
        set_host_account(
            section.ldap_url, section.bind_dn, password, section.host_dn, host_password
        )
    except ProvisioningError as error:
        raise UsageError(f"the login host cannot get its directory account: {error}") from None
    replica_port, runtime_port = free_port(), free_port()
    settings = host_settings(config, ldap_uri=f"ldap://127.0.0.1:{replica_port}")
    # A throwaway host looks for new sudo rules (a new tool's `become`) every few seconds.
    settings = replace(
        settings, runtime_api=f"http://127.0.0.1:{runtime_port}/", sudo_refresh=DEV_SUDO_REFRESH
    )
    # The jobs service, as the hosting server runs it, on the store of the configuration.
    if config.path is None:
        raise UsageError("the login host's jobs service reads the configuration: give --config")
    runtime = [sys.executable, "-m", "ats.cli", "--config", str(config.path.resolve())]
    runtime += ["runtime", "serve", "--listen", f"127.0.0.1:{runtime_port}"]
    runtime += ["--log-root", str(host.folder / "joblogs")]
    front_door = _front_door(config, host.folder)
    if front_door is not None:
        door = front_door["settings"]
        runtime += ["--web-admin", door.admin, "--web-port", str(door.https_port)]
        runtime += ["--web-storage", door.storage, "--web-listen", door.listen_host]
        runtime += ["--web-http-port", "0"]
    # The tool databases' service, inside, over a MariaDB of the login host's own.
    databases = [sys.executable, "-m", "ats.cli", "--config", str(config.path.resolve())]
    databases += ["databases", "serve", "--interval", "2"]
    try:
        files = render(settings)
    except RenderError as error:
        raise UsageError(str(error)) from None
    try:
        state = host.start(
            files,
            replica_port=replica_port,
            password=password,
            tool_home_root=settings.tool_home_root,
            host_password=host_password,
            runtime=(runtime, runtime_port),
            front_door=front_door["config"] if front_door else None,
            databases=databases,
        )
    except DevHostError as error:
        raise UsageError(str(error)) from None
    print(f"login host running from {host.folder} (stop: ats devhost stop --dir {args.dir})")
    print(f"ssh -p {state.port} {args.user}@127.0.0.1")
    return 0
