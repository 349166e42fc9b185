"""The tool jobs room: each tool's jobs as its maintainers defined them, and the state
the runtime's controller keeps of their runs (runtime/controller.py).

A definition is written by the tool (through `toolforge jobs`): `put_tool_job` adds a
job or changes its definition (a new generation), `restart_tool_job` asks for a new
generation with the same definition, `delete_tool_job` removes it (and keeps its last
generation: defined again, the job goes on from there, so no run's mark is reused).
The controller
reads every job and writes only its own columns, and only for the generation it read
(`update_tool_job`): a definition changed meanwhile is never overwritten by a
controller that had not seen it. `begin_tool_job_run` numbers a run before it is
submitted, in the same transaction as its tick, so a run is started at most once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from membership.records import ToolJobRecord
from membership.store.connection import StoreConnection
from policies.times import iso

# The columns the controller may write (never the definition, never the generation).
RUN_COLUMNS = frozenset(
    {
        "starting",
        "slurm_id",
        "state",
        "status",
        "hint",
        "attempts",
        "quick_exits",
        "not_before",
        "last_tick",
        "started_at",
        "ended_at",
        "exit",
        "node",
    }
)
# A new generation starts afresh (and a schedule counts its ticks from then: `last_tick`).
FRESH = {
    "starting": None,
    "slurm_id": None,
    "state": "waiting",
    "status": None,
    "hint": None,
    "attempts": 0,
    "quick_exits": 0,
    "not_before": None,
    "exit": None,
    "node": None,
}


class ToolJobsRoom(StoreConnection):
    def tool_job(self, tool: str, name: str) -> ToolJobRecord | None:
        row = self._first("tool_jobs", "tool = ? AND name = ?", [tool, name])
        return ToolJobRecord(**row) if row else None

    def tool_jobs(self, tool: str | None = None) -> list[ToolJobRecord]:
        """The jobs of `tool` (of every tool when None), by tool and name."""
        rows = self._matching("tool_jobs", order_by="tool, name", tool=tool)
        return [ToolJobRecord(**row) for row in rows]

    def put_tool_job(self, tool: str, name: str, spec: str) -> str:
        """Make `spec` (JSON) the definition of the tool's job `name`: "added",
        "changed" (a new generation) or "unchanged" (the same text was there)."""
        now = iso()
        with self.transaction():
            current = self.tool_job(tool, name)
            if current is None:
                last = self._first("tool_job_generations", "tool = ? AND name = ?", [tool, name])
                generation = (last["generation"] if last else 0) + 1
                self._insert(
                    "tool_jobs",
                    {"tool": tool, "name": name, "spec": spec, "generation": generation}
                    | {"run": 0}
                    | FRESH
                    | {"last_tick": now, "created_at": now, "updated_at": now},
                )
                return "added"
            if current.spec == spec:
                return "unchanged"
            changes = {"spec": spec, **FRESH, "last_tick": now, "updated_at": now}
            self._set(tool, name, changes, new_generation=True)
            return "changed"

    def restart_tool_job(self, tool: str, name: str) -> bool:
        """A new generation of the job (its runs end, it starts again); whether it exists."""
        now = iso()
        changes = {**FRESH, "last_tick": now, "updated_at": now}
        return self._set(tool, name, changes, new_generation=True) > 0

    def delete_tool_job(self, tool: str, name: str) -> bool:
        with self.transaction():
            current = self.tool_job(tool, name)
            if current is None:
                return False
            self._changed(
                "INSERT INTO tool_job_generations (tool, name, generation) VALUES (?, ?, ?) "
                "ON CONFLICT (tool, name) DO UPDATE SET generation = excluded.generation",
                [tool, name, current.generation],
            )
            self._changed("DELETE FROM tool_jobs WHERE tool = ? AND name = ?", [tool, name])
            return True

    def update_tool_job(
        self, tool: str, name: str, generation: int, changes: Mapping[str, Any]
    ) -> bool:
        """Write the controller's `changes` if the job is still at `generation`."""
        unknown = set(changes) - RUN_COLUMNS
        if unknown:
            raise ValueError(f"not the controller's columns: {sorted(unknown)}")
        sets = ", ".join(f"{column} = ?" for column in changes)
        return (
            self._changed(
                f"UPDATE tool_jobs SET {sets}, updated_at = ? "  # noqa: S608 - known names
                "WHERE tool = ? AND name = ? AND generation = ?",
                [*changes.values(), iso(), tool, name, generation],
            )
            > 0
        )

    def begin_tool_job_run(
        self, tool: str, name: str, generation: int, tick: str | None = None
    ) -> int | None:
        """Number the job's next run and mark it starting (with its tick, when
        scheduled); the run's number, or None when the job changed meanwhile."""
        with self.transaction():
            current = self.tool_job(tool, name)
            if current is None or current.generation != generation:
                return None
            run = current.run + 1
            changes: dict[str, Any] = {"run": run, "starting": run, "state": "starting"}
            if tick is not None:
                changes["last_tick"] = tick
            self._set(tool, name, {**changes, "updated_at": iso()})
            return run

    def _set(
        self, tool: str, name: str, changes: Mapping[str, Any], *, new_generation: bool = False
    ) -> int:
        sets = ", ".join(f"{column} = ?" for column in changes)
        if new_generation:
            sets += ", generation = generation + 1"
        return self._changed(
            f"UPDATE tool_jobs SET {sets} WHERE tool = ? AND name = ?",  # noqa: S608
            [*changes.values(), tool, name],
        )
