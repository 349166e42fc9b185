"""A tool's jobs over the store: what `toolforge jobs` asks of the server
(`runtime.toolforge.JobsService`), and the API's answer to each request.

`ToolJobs` serves one tool, the one MUNGE proved the caller is (runtime/api.py). Each
change is one transaction of the store — the quota is checked again inside it, so two
requests at once cannot pass it together — and then wakes the controller, which does
the rest. A job is seen (`JobView`) as the controller last wrote it down: its status
and hint, how its last run ended, and where its output goes; the tool's databases as the
databases service last recorded their sizes (the server is never asked). `handle`
answers the API: `cli` runs `runtime.toolforge.answer` (or, for `webservice …`,
`runtime.webservice.web_answer`) on the caller's words, `status` tells the client
waiting for a one-off job (`run --wait`) whether it finished.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from membership.records import DatabaseUsage, ToolJobRecord
from policies.errors import Conflict, NotAllowed
from runtime.api import Caller
from runtime.jobsfile import LoadResult, plan_load
from runtime.jobspec import JobSpec, JobView
from runtime.logs import output_paths
from runtime.policy import RuntimePolicy, check_quota
from runtime.tables import job_table
from runtime.toolforge import answer
from runtime.webservice import web_answer

UNSEEN = "Pending"  # the status of a job the controller has not looked at yet


class ToolJobs:
    def __init__(
        self,
        store: Any,
        tool: str,
        *,
        home: str,
        policy: RuntimePolicy,
        log_root: str,
        wake: Callable[[], None] = lambda: None,
        mail_relay: bool = False,
        web_url: str = "",
    ) -> None:
        self.store = store
        self.web_url = web_url
        self._tool = tool
        self._home = home
        self._policy = policy
        self.log_root = log_root
        self.wake = wake
        self.mail_relay = mail_relay

    # -- JobsService ---------------------------------------------------------------

    def tool(self) -> str:
        return self._tool

    def home(self) -> str:
        return self._home

    def policy(self) -> RuntimePolicy:
        return self._policy

    def jobs(self) -> list[JobView]:
        return [self._view(record) for record in self.store.tool_jobs(self._tool)]

    def job(self, name: str) -> JobView | None:
        record = self.store.tool_job(self._tool, name)
        return self._view(record) if record else None

    def run(self, spec: JobSpec) -> JobView:
        with self.store.transaction():
            if self.store.tool_job(self._tool, spec.name) is not None:
                raise Conflict("A job with the same name exists already")
            check_quota(self._policy, self._tool, self._counted(), spec)
            self.store.put_tool_job(self._tool, spec.name, spec.to_text())
        self.wake()
        view = self.job(spec.name)
        assert view is not None
        return view

    def delete(self, name: str) -> bool:
        deleted = bool(self.store.delete_tool_job(self._tool, name))
        self.wake()
        return deleted

    def flush(self) -> int:
        with self.store.transaction():
            records = self.store.tool_jobs(self._tool)
            for record in records:
                self.store.delete_tool_job(self._tool, record.name)
        self.wake()
        return len(records)

    def restart(self, name: str) -> bool:
        restarted = bool(self.store.restart_tool_job(self._tool, name))
        self.wake()
        return restarted

    def load(self, specs: Sequence[JobSpec], only: str | None) -> LoadResult:
        with self.store.transaction():
            current = [_spec(record) for record in self.store.tool_jobs(self._tool)]
            plan = plan_load(current, specs, only)
            wanted = {spec.name: spec for spec in specs}
            for name in plan.deleted:
                self.store.delete_tool_job(self._tool, name)
            kept = [spec for spec in self._counted() if spec.name not in plan.deleted]
            for name in (*plan.added, *plan.changed):
                check_quota(self._policy, self._tool, kept, wanted[name])
                kept = [spec for spec in kept if spec.name != name] + [wanted[name]]
                self.store.put_tool_job(self._tool, name, wanted[name].to_text())
        self.wake()
        return plan

    def databases(self) -> DatabaseUsage | None:
        usage: DatabaseUsage | None = self.store.database_usage_of("tool", self._tool)
        return usage

    # -- what a job looks like --------------------------------------------------------

    def _view(self, record: ToolJobRecord) -> JobView:
        spec = _spec(record)
        out, err = output_paths(spec, tool=self._tool, home=self._home, log_root=self.log_root)
        hints = [record.hint] if record.hint else []
        if record.exit and record.ended_at:
            hints.append(f"Last run ended {record.ended_at}: {record.exit}.")
        if spec.emails != "none" and not self.mail_relay:
            hints.append("No mail is sent: the chapter has configured no mail relay.")
        return JobView(
            spec=spec,
            status=record.status or UNSEEN,
            hints=tuple(hints),
            out_path=out if spec.filelog else None,
            err_path=err if spec.filelog else None,
            finished=spec.kind == "normal" and record.state in ("done", "failed"),
            failed=record.state == "failed",
            log_paths=() if spec.filelog else (out,),
            since=record.started_at if record.state == "running" else None,
        )

    def _counted(self) -> list[JobSpec]:
        """The definitions the quota counts: all but one-off jobs that have ended."""
        specs = [(record, _spec(record)) for record in self.store.tool_jobs(self._tool)]
        return [
            spec
            for record, spec in specs
            if not (spec.kind == "normal" and record.state in ("done", "failed"))
        ]

    # -- the API ------------------------------------------------------------------------

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one API request (`op`: `cli` or `status`)."""
        op = request.get("op")
        if op == "status":
            view = self.job(str(request.get("name", "")))
            if view is None:
                return {"code": 0, "finished": True, "gone": True}
            shown = job_table(view) if view.failed else ""
            return {
                "code": 0,
                "finished": view.finished,
                "failed": view.failed,
                "status": view.status,
                "show": shown,
            }
        if op != "cli":
            return {"code": 2, "stderr": f"ERROR: unknown request {op!r}\n"}
        argv = request.get("argv")
        files = request.get("files") or {}
        if not isinstance(argv, list) or not isinstance(files, dict):
            return {"code": 2, "stderr": "ERROR: the request is malformed\n"}
        if not all(isinstance(word, str) for word in [*argv, *files, *files.values()]):
            return {"code": 2, "stderr": "ERROR: the request is malformed\n"}
        prog = str(request.get("prog"))
        if argv[:1] == ["webservice"]:
            if not self.web_url:
                return {"code": 1, "stderr": "ERROR: the chapter runs no front door ([web])\n"}
            web = "webservice" if prog == "webservice" else "toolforge"
            said = web_answer(argv, self, url=self.web_url, prog=web)
        else:
            prog = "toolforge-jobs" if prog == "toolforge-jobs" else "toolforge"
            said = answer(argv, self, files=files, prog=prog)
        return asdict(said) | {"read_logs": list(said.read_logs)}


def handler(
    open_store: Callable[[], Any],
    *,
    home_of: Callable[[str], str],
    policy: RuntimePolicy,
    log_root: str,
    wake: Callable[[], None],
    mail_relay: bool = False,
    web_url: Callable[[str], str] = lambda tool: "",
) -> Callable[[Caller, Mapping[str, Any]], dict[str, Any]]:
    """The API's handler: each request on a store of its own (one per thread)."""

    def handle(caller: Caller, request: Mapping[str, Any]) -> dict[str, Any]:
        store = open_store()
        try:
            if store.account_of(caller.tool, "tool") is None:
                raise NotAllowed(f"{caller.user} is not a tool of this chapter")
            jobs = ToolJobs(
                store,
                caller.tool,
                home=home_of(caller.tool),
                policy=policy,
                log_root=log_root,
                wake=wake,
                mail_relay=mail_relay,
                web_url=web_url(caller.tool),
            )
            return jobs.handle(request)
        finally:
            store.close()

    return handle


def _spec(record: ToolJobRecord) -> JobSpec:
    return JobSpec.from_text(record.spec)
