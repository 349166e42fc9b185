"""How a job's run is put to Slurm: as which user, with what memory, CPUs, PATH and
environment, writing where (the controller's `Placement`).

The tool's user and home come from the host's own accounts (NSS: the directory, through
SSSD), never from anything the tool wrote. Memory is the job's `--mem` (or the policy's
default) in whole MiB; CPUs are whole cores, rounded up, because Slurm gives a job
cores (`CR_Core_Memory`): a job asking for half a CPU gets one, and the quota still
counts the half it asked for. The image adds its folders in front of PATH and its
variables to the environment.
"""

from __future__ import annotations

import math
import pwd

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


def tool_home(tool: str) -> str:
    return tool_account(tool).pw_dir


def placement(policy: RuntimePolicy, *, log_root: str) -> Placement:
    def place(tool: str, spec: JobSpec, mark: Mark) -> Submission:
        account = tool_account(tool)
        home = account.pw_dir
        out, err = output_paths(spec, tool=tool, home=home, log_root=log_root)
        if not spec.filelog:
            make_log_folder(log_root, tool, account.pw_uid, account.pw_gid)
        image = policy.image(spec.image)
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
            environment=image.variables(),
        )

    return place
