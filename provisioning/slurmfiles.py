"""The batch scheduler's configuration, rendered: Slurm's slurm.conf and cgroup.conf
for the chapter's controller and nodes (tools' jobs run there as `tools.NAME`).

Pure: `render(SlurmSettings)` returns the two files as `HostFile`s, made from the
templates `slurm.conf.tmpl` and `cgroup.conf.tmpl` in `provisioning/hostfiles/`.
`ats host render` writes them for production (paths as Debian's packages lay them out,
Slurm's own ports); the dev login host renders them with the same code for its own
node (paths in its folder, free ports, a node name of its own). `parse_node` reads a
node as `[runtime] nodes` spells it. With `web_socket_root` (tools' web services on
several nodes) there is a third file, the Prolog `ats-job-prolog`, which makes each
tool's job its web service's socket folder on whichever node it starts (the jobs
service makes it only on its own host). MUNGE's key is a secret made once by the chapter:
it is never rendered (deploy/ansible/slurm.yml copies it to every node).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from provisioning.loginhost import HostFile, RenderError, fill, template

MUNGE_SOCKET = "/run/munge/munge.socket.2"  # munged's default, and every client's
NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
PATH = re.compile(r"^/[-/A-Za-z0-9_.]*$")
HOST = re.compile(r"^[-A-Za-z0-9_.:]+$")  # a name or an IPv4/IPv6 address


@dataclass(frozen=True)
class SlurmNode:
    name: str  # NodeName; slurmd finds itself by it (its short hostname, or `slurmd -N`)
    cpus: int
    memory_mb: int  # RealMemory: what jobs may be given, at most the machine's
    address: str = ""  # NodeAddr, when the name does not resolve to the node
    hostname: str = ""  # NodeHostname, when the node's hostname is not its name


@dataclass(frozen=True)
class SlurmSettings:
    controller_host: str  # the short hostname slurmctld runs on
    nodes: tuple[SlurmNode, ...]
    controller_address: str = ""  # where nodes and clients reach it, when not its name
    cluster_name: str = "toolserver"
    partition: str = "tools"
    slurmctld_port: int = 6817
    slurmd_port: int = 6818
    default_mem: int = 512  # DefMemPerCPU, MB
    min_job_age: int = 300  # seconds a finished job stays visible
    cgroup_plugin: str = "autodetect"
    constrain_cores: bool = True
    # Where Debian's packages put Slurm's state, spool, logs and pid files.
    state_dir: str = "/var/lib/slurm/slurmctld"
    spool_dir: str = "/var/lib/slurm/slurmd"
    log_dir: str = "/var/log/slurm"
    run_dir: str = "/run"
    munge_socket: str = MUNGE_SOCKET
    # Where tools' web services listen on every node ([web] socket_root); "" for no Prolog
    # (one host: the jobs service makes the folders), and the group that enters them.
    web_socket_root: str = ""
    web_group: str = "caddy"


def parse_node(text: str) -> SlurmNode:
    """A node written `NAME:CPUS:MEMORY_MB` or `NAME:CPUS:MEMORY_MB:ADDRESS`."""
    parts = text.strip().split(":", 3)
    wanted = f"the node {text!r} must be NAME:CPUS:MEMORY_MB[:ADDRESS], e.g. tools1:8:30000"
    if len(parts) < 3 or not all(part.isdigit() for part in parts[1:3]):
        raise RenderError(f"[runtime] nodes: {wanted}")
    address = parts[3] if len(parts) == 4 else ""
    return SlurmNode(parts[0], int(parts[1]), int(parts[2]), address)


LAYOUT: tuple[tuple[str, str, int], ...] = (
    ("slurm.conf.tmpl", "etc/slurm/slurm.conf", 0o644),
    ("cgroup.conf.tmpl", "etc/slurm/cgroup.conf", 0o644),
)
PROLOG = ("ats-job-prolog.tmpl", "usr/local/sbin/ats-job-prolog", 0o755)


def render(settings: SlurmSettings) -> list[HostFile]:
    """slurm.conf and cgroup.conf, in `LAYOUT` order, and the Prolog when there is one."""
    values = _values(settings)
    out = []
    for name, path, mode in LAYOUT + ((PROLOG,) if settings.web_socket_root else ()):
        text = template(name)
        for optional in ("AUTH_INFO", "PROLOG"):
            if not values[optional]:
                text = text.replace(f"@{optional}@\n", "")
        out.append(HostFile(path, fill(text, values, name), mode))
    return out


def _values(settings: SlurmSettings) -> dict[str, str]:
    _check(settings)
    controller = settings.controller_host
    if settings.controller_address:
        controller += f"({settings.controller_address})"
    lines = []
    for node in settings.nodes:
        line = f"NodeName={node.name}"
        if node.hostname:
            line += f" NodeHostname={node.hostname}"
        if node.address:
            line += f" NodeAddr={node.address}"
        lines.append(f"{line} CPUs={node.cpus} RealMemory={node.memory_mb} State=UNKNOWN")
    # AuthInfo only when munged listens elsewhere than where every client looks.
    socket = settings.munge_socket
    auth_info = "" if socket == MUNGE_SOCKET else f"AuthInfo=socket={socket}"
    cores = (
        "held to them (cpuset cgroups): a busy job slows no other job's cores."
        if settings.constrain_cores
        else "not held to them: cores are counted, not fenced."
    )
    prolog = ""
    if settings.web_socket_root:
        prolog = (
            "# Before a job starts on a node, root makes a tool's job the folder its web\n"
            "# service listens in there (the jobs service makes it only on its own host).\n"
            f"Prolog=/{PROLOG[1]}"
        )
    return {
        "PROLOG": prolog,
        "SOCKET_ROOT": settings.web_socket_root.rstrip("/"),
        "WEB_GROUP": settings.web_group,
        "CLUSTER_NAME": settings.cluster_name,
        "CONTROLLER": controller,
        "SLURMCTLD_PORT": str(settings.slurmctld_port),
        "SLURMD_PORT": str(settings.slurmd_port),
        "AUTH_INFO": auth_info,
        "STATE_DIR": settings.state_dir,
        "SPOOL_DIR": settings.spool_dir,
        "LOG_DIR": settings.log_dir,
        "RUN_DIR": settings.run_dir.rstrip("/"),
        "DEFAULT_MEM": str(settings.default_mem),
        "MIN_JOB_AGE": str(settings.min_job_age),
        "NODES": "\n".join(lines),
        "PARTITION": settings.partition,
        "NODE_NAMES": ",".join(node.name for node in settings.nodes),
        "CGROUP_PLUGIN": settings.cgroup_plugin,
        "CONSTRAIN_CORES": "yes" if settings.constrain_cores else "no",
        "CORES_NOTE": cores,
    }


def _check(settings: SlurmSettings) -> None:
    for key, name in (
        ("controller_host", settings.controller_host),
        ("partition", settings.partition),
        ("cluster_name", settings.cluster_name),
    ):
        if not NAME.match(name):
            raise RenderError(
                f"[runtime] {key} {name!r} must be a plain name (letters, digits, -_.)"
            )
    for key, address in (("controller_address", settings.controller_address),) + tuple(
        ("nodes", node.address) for node in settings.nodes
    ):
        if address and not HOST.match(address):
            raise RenderError(f"[runtime] {key}: {address!r} is not a host name or address")
    if not settings.nodes:
        raise RenderError("[runtime] nodes: jobs need at least one node")
    names = [node.name for node in settings.nodes]
    if len(set(names)) != len(names):
        raise RenderError(f"[runtime] nodes: a node is named twice ({', '.join(names)})")
    for node in settings.nodes:
        if not NAME.match(node.name) or (node.hostname and not NAME.match(node.hostname)):
            raise RenderError(f"[runtime] nodes: {node.name!r} must be a plain host name")
        if node.cpus < 1 or node.memory_mb < settings.default_mem:
            raise RenderError(
                f"[runtime] nodes: {node.name} needs at least 1 CPU and default_mem "
                f"({settings.default_mem} MB) of memory"
            )
    ports = (settings.slurmctld_port, settings.slurmd_port)
    if not all(0 < port < 65536 for port in ports) or ports[0] == ports[1]:
        raise RenderError(
            f"[runtime] slurmctld_port and slurmd_port must be two ports (got {ports})"
        )
    if settings.min_job_age < 2:
        raise RenderError("[runtime] min_job_age must be at least 2 seconds (Slurm's minimum)")
    paths = (settings.state_dir, settings.spool_dir, settings.log_dir, settings.run_dir)
    for path in (*paths, settings.munge_socket):
        if not PATH.match(path):
            raise RenderError(f"Slurm's folder {path!r} must be a plain absolute path")
    root = settings.web_socket_root
    if root and (not PATH.match(root) or root.rstrip("/") == ""):
        raise RenderError(f"[web] socket_root {root!r} must be a plain absolute path")
    if not NAME.match(settings.web_group):
        raise RenderError(f"the web group {settings.web_group!r} must be a plain name")
