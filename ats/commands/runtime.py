"""`ats runtime serve|reconcile` (tools' jobs on Slurm) and `ats tools disable|enable`.

`serve` is the service the hosting server runs (deploy/systemd/ats-runtime.service):
the API `toolforge jobs` talks to, and the controller that brings Slurm to the store,
while it holds the controller's lease; a second `serve` answers the API too and takes
the lease over when the first stops or dies. With a `[mail]` relay, the controller
queues the mails jobs ask for (`--emails`) and every `serve` sends the outbox's due
mails every few seconds (each mail is claimed by one sender: two never send one
twice). `reconcile` says what differs between the store and Slurm, and with `--fix`
makes one pass.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ats.commands.provision import StopSignal
from ats.config import Config, secret
from ats.failures import UsageError

log = logging.getLogger(__name__)

LEASE = "tools' jobs"
ROLE = "runtime controller"
LEASE_TTL = 15.0  # seconds: a controller that died elsewhere is replaced after this
MAIL_INTERVAL = 5.0  # seconds between two looks at the mail outbox


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runtime = commands.add_parser("runtime", help="tools' jobs on Slurm: the API and controller")
    runtime_commands = runtime.add_subparsers(
        dest="runtime_command", metavar="RUNTIME_COMMAND", required=True
    )
    serve = runtime_commands.add_parser(
        "serve",
        help="serve `toolforge jobs` and keep Slurm in step with the store",
        description="Answer `toolforge jobs` from the login hosts (each request proven by "
        "MUNGE to come from a tool's user) on [runtime] api_listen, and, while this process "
        "holds the controller's lease, start, restart, schedule and cancel tools' jobs in "
        "Slurm until it matches the store. A second copy serves the API and waits for the "
        "lease. Runs as root (it submits each run as the tool's user). Stops on SIGTERM.",
    )
    serve.add_argument("--listen", metavar="HOST:PORT", help="instead of [runtime] api_listen")
    serve.add_argument("--log-root", metavar="DIR", help="instead of [runtime] log_root")
    _web_options(serve)
    serve.set_defaults(run=_serve, needs_config=True)
    reconcile = runtime_commands.add_parser(
        "reconcile",
        help="say what differs between the store's jobs and Slurm (--fix: one pass)",
        description="List every job whose runs in Slurm are not what the store says (a "
        "continuous job not running, a run of a deleted or changed job still running), "
        "and every tool whose route at the front door is not what its web service needs "
        "([web]); exit 1 if any. With --fix, take the controller's lease and make one "
        "pass, and put the front door's routes right.",
    )
    reconcile.add_argument("--fix", action="store_true", help="make one controller pass")
    _web_options(reconcile)
    reconcile.set_defaults(run=_reconcile, needs_config=True)

    tools = commands.add_parser("tools", help="admins: stop or allow a tool's jobs")
    tools_commands = tools.add_subparsers(
        dest="tools_command", metavar="TOOLS_COMMAND", required=True
    )
    disable = tools_commands.add_parser(
        "disable",
        help="disable a tool: its jobs stop until it is enabled",
        description="Record the decision (audited; the reason stays with the admins): the "
        "controller cancels the tool's runs within seconds and starts none until the tool "
        "is enabled. Its job definitions are kept.",
    )
    disable.add_argument("tool", metavar="TOOL")
    disable.add_argument("--reason", required=True, metavar="TEXT", help="why (kept private)")
    disable.add_argument("--by", required=True, metavar="ADMIN", help="your wiki username")
    disable.set_defaults(run=_disable, needs_config=True)
    enable = tools_commands.add_parser(
        "enable",
        help="enable a disabled tool: its jobs start again",
        description="Record the decision (audited): the controller starts the tool's "
        "continuous jobs again and its schedules resume.",
    )
    enable.add_argument("tool", metavar="TOOL")
    enable.add_argument("--by", required=True, metavar="ADMIN", help="your wiki username")
    enable.set_defaults(run=_enable, needs_config=True)


def _serve(args: argparse.Namespace, config: Config) -> int:
    from runtime.api import Credentials, make_server
    from runtime.service import handler

    # One line an event, on stderr (the journal); warnings from every part of it.
    logging.basicConfig(level=logging.INFO, format="runtime: %(message)s")
    if args.log_root:
        config = replace(config, runtime=replace(config.runtime, log_root=args.log_root))
    config = _with_web(args, config)
    settings = config.runtime
    host, port = _address(args.listen or settings.api_listen)
    password = _mail_password(config)
    stop = StopSignal().install()
    controller = _ControllerThread(config, stop)
    mailer = _MailThread(config, password, stop) if config.mail.relay else None
    credentials = Credentials(
        socket=settings.munge_socket or None,
        uid_range=(config.provisioning.uid_min, config.provisioning.uid_max),
    )
    try:
        server = make_server(
            (host, port),
            credentials,
            handler(
                lambda: _store(config),
                home_of=_home_of,
                policy=_policy(config),
                log_root=settings.log_root,
                wake=controller.wake.set,
                mail_relay=bool(config.mail.relay),
                web_url=config.web.url if config.web.domain else lambda tool: "",
            ),
        )
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    api = threading.Thread(target=server.serve_forever, name="runtime-api", daemon=True)
    api.start()
    controller.start()
    if mailer is not None:
        mailer.start()
    print(f"runtime: serving toolforge jobs on http://{host}:{server.server_port}/", flush=True)
    try:
        while not stop.wait(0.5) and controller.is_alive():
            pass
    finally:
        server.shutdown()
        server.server_close()
        controller.join(timeout=30)
        if mailer is not None:
            mailer.join(timeout=config.mail.timeout * 3)
    if controller.failure:
        raise controller.failure
    print(f"runtime: stopped on {stop.by or 'request'}", file=sys.stderr)
    return 0


def _web_options(parser: argparse.ArgumentParser) -> None:
    """[web] given on the command line instead (a dev login host's front door)."""
    parser.add_argument("--web-admin", metavar="HOST:PORT", help="instead of [web] admin")
    parser.add_argument("--web-port", type=int, metavar="PORT", help="instead of [web] https_port")
    parser.add_argument("--socket-root", metavar="DIR", help="instead of [web] socket_root")
    parser.add_argument("--web-storage", metavar="DIR", help="instead of [web] storage")
    parser.add_argument("--web-listen", metavar="ADDRESS", help="instead of [web] listen")
    parser.add_argument(
        "--web-http-port", type=int, metavar="PORT", help="instead of [web] http_port"
    )


def _with_web(args: argparse.Namespace, config: Config) -> Config:
    given = {
        key: value
        for key, value in (
            ("admin", args.web_admin),
            ("https_port", args.web_port),
            ("socket_root", args.socket_root),
            ("storage", args.web_storage),
            ("listen", args.web_listen),
            ("http_port", args.web_http_port),
        )
        if value is not None and value != ""
    }
    return replace(config, web=replace(config.web, **given))


class _ControllerThread(threading.Thread):
    """Waits for the controller's lease, then converges until stopped or the lease is lost
    (then waits for it again)."""

    def __init__(self, config: Config, stop: StopSignal) -> None:
        super().__init__(name="runtime-controller", daemon=True)
        self.config = config
        self.stop = stop
        self.wake = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        from membership.lease import ClerkLease, LeaseLost
        from policies.errors import Refusal
        from runtime.controller import Controller

        try:
            store = _store(self.config)
            controller = Controller(
                store,
                _slurm(self.config),
                _placement(self.config),
                notice=_notice(store, self.config),
                after_pass=_front_door_step(store, self.config),
            )
            controller.wake = self.wake
            lease = ClerkLease(store, LEASE, ttl=LEASE_TTL, role=ROLE)
            while not self.stop.is_set():
                if lease.try_acquire() is not None:
                    self.stop.wait(LEASE_TTL / 4)
                    continue
                log.info("holding the controller's lease")
                try:
                    controller.serve(lease, _Event(self.stop))
                except LeaseLost as lost:
                    print(f"runtime: {lost}", file=sys.stderr, flush=True)
                except Refusal as refusal:  # a busy store, say: said, and tried again
                    log.warning("the controller stopped a pass: %s", refusal)
                    lease.release()
                    self.stop.wait(LEASE_TTL / 4)
            lease.release()
        except BaseException as error:  # told by the main thread
            self.failure = error


class _MailThread(threading.Thread):
    """Sends the outbox's due mails every few seconds, on a store of its own, until
    stopped (whether or not this process holds the controller's lease)."""

    def __init__(self, config: Config, password: str, stop: StopSignal) -> None:
        super().__init__(name="runtime-mail", daemon=True)
        self.config = config
        self.password = password
        self.stop = stop

    def run(self) -> None:
        from membership.store import StoreError
        from runtime.mail import MailSender

        log = logging.getLogger(__name__)
        sender = MailSender(self.config.mail, password=self.password)
        store = None
        try:
            while not self.stop.wait(MAIL_INTERVAL):
                try:
                    store = store or _store(self.config)
                    while sender.send_due(store) == sender.batch:
                        pass  # a full batch went: more may be due
                except StoreError as error:
                    log.warning("mail: %s", error)
                except Exception:  # a bug: said with its traceback, the jobs keep running
                    log.exception("mail: sending the outbox failed")
        finally:
            if store is not None:
                store.close()


class _Event:
    """`StopSignal` as the `threading.Event` the controller's loop looks at."""

    def __init__(self, stop: StopSignal) -> None:
        self._stop = stop

    def is_set(self) -> bool:
        return self._stop.is_set()


def _reconcile(args: argparse.Namespace, config: Config) -> int:
    from membership.lease import ClerkLease
    from runtime.controller import Controller

    config = _with_web(args, config)
    with contextlib.closing(_store(config)) as store:
        controller = Controller(
            store, _slurm(config), _placement(config), notice=_notice(store, config)
        )
        drift = controller.drift()
        for line in drift:
            print(line)
        door = _front_door_drift(store, config, fix=args.fix)
        for line in door:
            print(f"front door: {line}")
        if not drift and not door:
            print(
                "no drift: Slurm runs what the store says"
                + (", and the front door routes to it" if front_door_settings(config) else "")
            )
            return 0
        if not args.fix:
            return 1
        if not drift:
            return 0
        lease = ClerkLease(store, LEASE, ttl=LEASE_TTL, role=ROLE)
        lease.acquire(wait=LEASE_TTL)
        try:
            done = controller.converge()
        finally:
            lease.release()
        for error in done.errors:
            print(error, file=sys.stderr)
        print(f"started {len(done.started)} run(s), cancelled {len(done.cancelled)}")
        return 1 if done.errors else 0


def _front_door_drift(store: Any, config: Config, *, fix: bool) -> list[str]:
    """What differs between the front door's routes and the tools' web services (made
    right with `fix`); nothing without a front door."""
    settings = front_door_settings(config)
    if settings is None:
        return []
    from runtime.caddy import Caddy
    from runtime.controller import stopped_tools
    from runtime.doorkeeper import converge, web_routes

    doors = node_doors(config)
    routes = web_routes(store, config.web.socket_root, stopped_tools(store), doors)
    return converge(Caddy(settings.admin), routes, settings, fix=fix)


def _disable(args: argparse.Namespace, config: Config) -> int:
    return _set_disabled(config, args.tool, args.by, args.reason)


def _enable(args: argparse.Namespace, config: Config) -> int:
    return _set_disabled(config, args.tool, args.by, None)


def _set_disabled(config: Config, tool: str, by: str, reason: str | None) -> int:
    from membership.maintainers import tool_account

    with contextlib.closing(_store(config)) as store, store.transaction():
        account = tool_account(store, tool)
        if account.suspended == (reason is not None):
            print(f"{tool} is already {'disabled' if reason else 'enabled'}: nothing changed")
            return 0
        store.set_account_suspended(account.shell_name, reason)
        action = "tool-disabled" if reason is not None else "tool-enabled"
        store.audit(by, action, tool=tool, **({"reason": reason} if reason else {}))
    print(f"{tool} {'disabled: its jobs stop' if reason else 'enabled: its jobs start again'}")
    return 0


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _store(config: Config) -> Any:
    from membership.store import Store

    return Store(config.store_path)


def _policy(config: Config) -> Any:
    from runtime.policy import load_runtime_policy

    return load_runtime_policy(config.runtime.policy or None)


def _slurm(config: Config) -> Any:
    from runtime.slurm import Slurm

    return Slurm({"SLURM_CONF": config.runtime.slurm_conf} if config.runtime.slurm_conf else {})


def _placement(config: Config) -> Any:
    from runtime.placement import placement

    socket_root = config.web.socket_root if config.web.domain else ""
    return placement(_policy(config), log_root=config.runtime.log_root, socket_root=socket_root)


def front_door_settings(config: Config) -> Any:
    """The front door's settings from [web] (None without a domain)."""
    from runtime.frontdoor import FrontDoorSettings

    web = config.web
    if not web.domain:
        return None
    return FrontDoorSettings(
        domain=web.domain,
        https_port=web.https_port,
        http_port=web.http_port,
        admin=web.admin,
        storage=web.storage,
        tls_cert=web.tls_cert,
        tls_key=web.tls_key,
        log_file=web.access_log,
        listen_host=web.listen,
    )


def front_door_node(config: Config) -> str:
    """The Slurm node the front door runs on: the controller's host, where `ats runtime
    serve` (which configures the front door through its admin API) and the front door
    run, named as `ats host render` names it ([runtime] controller_host, else this
    machine's short hostname)."""
    from ats.commands.host import controller_host

    return controller_host(config)


def node_doors(config: Config) -> Any:
    """Where the front door finds the web services: each node of [runtime] nodes at its
    address (its name when none is given), the front door's own node, the node doors'
    port ([web] node_port)."""
    from provisioning.loginhost import RenderError
    from provisioning.slurmfiles import parse_node
    from runtime.nodedoor import NodeDoors

    try:
        nodes = [parse_node(text) for text in config.runtime.nodes]
    except RenderError as error:
        raise UsageError(str(error)) from None
    addresses = {node.name: node.address or node.name for node in nodes}
    return NodeDoors(addresses, front_door_node(config), config.web.node_port)


def _front_door_step(store: Any, config: Config) -> Any:
    """After each pass: the front door's routes brought to the tools' web services."""
    settings = front_door_settings(config)
    if settings is None:
        return None
    from runtime.caddy import Caddy
    from runtime.doorkeeper import converge, web_routes

    caddy = Caddy(settings.admin)
    doors = node_doors(config)

    def step(stopped: Mapping[str, str]) -> None:
        routes = web_routes(store, config.web.socket_root, stopped, doors)
        for line in converge(caddy, routes, settings):
            log.info("front door: %s", line)

    return step


def _notice(store: Any, config: Config) -> Any:
    """The controller's notice: queue the mails jobs ask for when there is a relay."""
    from runtime.controller import no_notice
    from runtime.mail import notices

    return notices(store, config.mail) if config.mail.relay else no_notice


def _mail_password(config: Config) -> str:
    """The relay's password, when [mail] logs in (missing: said before serving)."""
    return secret("ATS_MAIL_PASSWORD") if config.mail.relay and config.mail.username else ""


def _home_of(tool: str) -> str:
    from runtime.placement import tool_home

    return tool_home(tool)
