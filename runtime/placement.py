"""How a job's run is put to Slurm: as which user, with what memory, CPUs, PATH and
environment, writing where (the controller's `Placement`).

The tool's user and home come from the host's own accounts (NSS: the directory, through
SSSD), never from anything the tool wrote. Memory is the job's `--mem` (or the policy's
default) in whole MiB; CPUs are whole cores, rounded up, because Slurm gives a job
cores (`CR_Core_Memory`): a job asking for half a CPU gets one, and the quota still
counts the half it asked for. The image adds its folders in front of PATH and its
variables to the environment. The job `webservice` also gets `ATS_WEB_SOCKET`, the
socket in a folder of the tool's that only the front door's group may enter.
"""

from __future__ import annotations

import contextlib
import grp
import math
import os
import pwd
from pathlib import Path

from membership.records import WEB_SERVICE_JOB
from policies.errors import Refusal
from runtime.controller import Placement
from runtime.jobspec import JobSpec
from runtime.logs import make_log_folder, output_paths
from runtime.policy import RuntimePolicy
from runtime.slurm import Mark, Submission

MIB = 1024 * 1024
PATH = "/usr/local/bin:/usr/bin:/bin"
TOOL_PREFIX = "tools."


def tool_account(tool: str) -> pwd.struct_passwd:
    """The tool's user on this host; a Refusal when it has none."""
    try:
        return pwd.getpwnam(TOOL_PREFIX + tool)
    except KeyError:
        raise Refusal(f"the tool's user {TOOL_PREFIX}{tool} is unknown on this host") from None


def socket_path(socket_root: str, tool: str) -> str:
    """Where the tool's web service listens (the front door's upstream)."""
    return f"{socket_root.rstrip('/')}/{tool}/web.sock"


def make_socket_folder(socket_root: str, tool: str, uid: int, group: str) -> str:
    """`SOCKET_ROOT/TOOL`, the tool's, of the front door's group, 2750: the tool makes
    its socket there (of that group, from the setgid bit), the front door enters it,
    and nobody else can, nor put anything in its place (only root writes the root)."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise Refusal(f"the front door's group {group} is unknown on this host") from None
    root = Path(socket_root)
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    folder = root / tool
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o750)
    if folder.is_symlink() or not folder.is_dir():
        raise Refusal(f"{folder} is not a folder")
    status = folder.stat()
    if (status.st_uid, status.st_gid) != (uid, gid):
        os.chown(folder, uid, gid)
    if status.st_mode & 0o7777 != 0o2750:
        folder.chmod(0o2750)
    return str(folder)


def tool_home(tool: str) -> str:
    return tool_account(tool).pw_dir


def placement(
    policy: RuntimePolicy, *, log_root: str, socket_root: str = "", web_group: str = "caddy"
) -> Placement:
    """`socket_root`: where each tool's web service gets its socket folder (empty: no
    web services); `web_group`: the front door's group, which may enter it."""

    def place(tool: str, spec: JobSpec, mark: Mark) -> Submission:
        account = tool_account(tool)
        home = account.pw_dir
        out, err = output_paths(spec, tool=tool, home=home, log_root=log_root)
        # The tool's folder under the log root: its output without files, and its runs'
        # claims (runtime/slurm.py).
        make_log_folder(log_root, tool, account.pw_uid, account.pw_gid)
        image = policy.image(spec.image)
        environment = image.variables()
        if spec.name == WEB_SERVICE_JOB and socket_root:
            make_socket_folder(socket_root, tool, account.pw_uid, web_group)
            environment["ATS_WEB_SOCKET"] = socket_path(socket_root, tool)
        return Submission(
            user=account.pw_name,
            name=spec.name,
            mark=mark,
            command=spec.command,
            home=home,
            stdout=out,
            stderr=err,
            mem_mb=max(1, math.ceil(policy.mem_of(spec) / MIB)),
            cpus=max(1, math.ceil(policy.cpu_of(spec))),
            path=":".join([*image.path, PATH]),
            environment=environment,
            claims=f"{log_root.rstrip('/')}/{tool}/.runs",
        )

    return place
