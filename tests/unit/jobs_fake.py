"""A tool's jobs in memory, for the unit tests of `toolforge jobs` (runtime.toolforge):
what a server does over its store and controller, without them. `answer` takes it as a
`JobsService`, so mypy checks that it matches the protocol."""

from __future__ import annotations

from collections.abc import Sequence

from membership.records import DatabaseUsage
from policies.errors import Conflict
from runtime.jobsfile import LoadResult, plan_load
from runtime.jobspec import JobSpec, JobView, filelog_paths
from runtime.policy import RuntimePolicy, load_runtime_policy

HOME = "/data/project/citation-bot"


class FakeJobs:
    """A tool's jobs in memory: what a server does over its store, minus the store."""

    def __init__(self, policy: RuntimePolicy | None = None) -> None:
        self.views: dict[str, JobView] = {}
        self.calls: list[str] = []
        self.usage: DatabaseUsage | None = None
        self._policy = policy or load_runtime_policy()

    def tool(self) -> str:
        return "citation-bot"

    def home(self) -> str:
        return HOME

    def policy(self) -> RuntimePolicy:
        return self._policy

    def jobs(self) -> list[JobView]:
        return list(self.views.values())

    def job(self, name: str) -> JobView | None:
        return self.views.get(name)

    def run(self, spec: JobSpec) -> JobView:
        if spec.name in self.views:
            raise Conflict("A job with the same name exists already")
        self.calls.append(f"run {spec.name}")
        out, err = filelog_paths(spec, HOME)
        status = "Waiting for scheduled time" if spec.schedule else "Running"
        view = JobView(spec, status, out_path=out, err_path=None if err == out else err)
        self.views[spec.name] = view
        return view

    def delete(self, name: str) -> bool:
        self.calls.append(f"delete {name}")
        return self.views.pop(name, None) is not None

    def flush(self) -> int:
        self.calls.append("flush")
        count = len(self.views)
        self.views.clear()
        return count

    def restart(self, name: str) -> bool:
        self.calls.append(f"restart {name}")
        return name in self.views

    def databases(self) -> DatabaseUsage | None:
        return self.usage

    def load(self, specs: Sequence[JobSpec], only: str | None) -> LoadResult:
        self.calls.append("load")
        plan = plan_load([view.spec for view in self.jobs()], specs, only)
        for name in (*plan.deleted, *plan.changed):
            del self.views[name]
        for spec in specs:
            if spec.name in (*plan.added, *plan.changed):
                self.run(spec)
        return plan


def policy_data() -> dict[str, dict[str, object]]:
    return {
        "defaults": {"image": "bookworm", "mem": "512Mi", "cpu": "0.5"},
        "quota": {
            "job_mem": "4Gi",
            "job_cpu": "1",
            "continuous_jobs": 3,
            "scheduled_jobs": 50,
            "one_off_jobs": 15,
            "total_mem": "8Gi",
            "total_cpu": "4",
        },
        "images": {"bookworm": {"description": "the host"}},
    }
