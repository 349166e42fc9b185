"""The tool jobs room (membership/store/tool_jobs.py): definitions, generations, and the
controller writing only what it saw."""

from __future__ import annotations

from pathlib import Path

import pytest

from membership.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ats.sqlite")


def test_a_definition_is_added_changed_or_left(store: Store) -> None:
    assert store.put_tool_job("bot", "feed", '{"a": 1}') == "added"
    assert store.put_tool_job("bot", "feed", '{"a": 1}') == "unchanged"
    first = store.tool_job("bot", "feed")
    assert first is not None and first.generation == 1 and first.state == "waiting"
    assert first.last_tick is not None  # a schedule counts its ticks from now
    assert store.put_tool_job("bot", "feed", '{"a": 2}') == "changed"
    changed = store.tool_job("bot", "feed")
    assert changed is not None and changed.generation == 2 and changed.spec == '{"a": 2}'


def test_jobs_are_kept_per_tool(store: Store) -> None:
    store.put_tool_job("bot", "feed", "{}")
    store.put_tool_job("other", "feed", "{}")
    assert [j.tool for j in store.tool_jobs()] == ["bot", "other"]
    assert [j.tool for j in store.tool_jobs("other")] == ["other"]
    assert store.delete_tool_job("bot", "feed") and not store.delete_tool_job("bot", "feed")
    assert store.tool_job("other", "feed") is not None


def test_a_new_generation_forgets_the_last_ones_runs(store: Store) -> None:
    store.put_tool_job("bot", "feed", "{}")
    run = store.begin_tool_job_run("bot", "feed", 1)
    assert run == 1
    running = {"starting": None, "slurm_id": 40, "state": "running", "node": "tools2"}
    store.update_tool_job("bot", "feed", 1, running)
    seen = store.tool_job("bot", "feed")
    assert seen is not None and seen.node == "tools2"  # the node its run is on
    assert store.restart_tool_job("bot", "feed") and not store.restart_tool_job("bot", "none")
    again = store.tool_job("bot", "feed")
    assert again is not None and again.generation == 2 and again.run == 1
    assert (again.slurm_id, again.starting, again.state) == (None, None, "waiting")
    assert again.node is None


def test_the_controller_never_writes_over_a_newer_definition(store: Store) -> None:
    store.put_tool_job("bot", "feed", "{}")
    store.put_tool_job("bot", "feed", '{"changed": true}')  # generation 2
    assert not store.update_tool_job("bot", "feed", 1, {"state": "failed"})
    assert store.begin_tool_job_run("bot", "feed", 1) is None
    current = store.tool_job("bot", "feed")
    assert current is not None and current.state == "waiting" and current.run == 0
    with pytest.raises(ValueError, match="not the controller's columns"):
        store.update_tool_job("bot", "feed", 2, {"spec": "{}"})


def test_runs_are_numbered_once_each_with_their_tick(store: Store) -> None:
    store.put_tool_job("bot", "feed", "{}")
    assert store.begin_tool_job_run("bot", "feed", 1, "2026-12-07T10:00:00+00:00") == 1
    assert store.begin_tool_job_run("bot", "feed", 1) == 2
    current = store.tool_job("bot", "feed")
    assert current is not None and (current.run, current.starting) == (2, 2)
    assert current.last_tick == "2026-12-07T10:00:00+00:00" and current.state == "starting"


def test_a_job_defined_again_goes_on_from_its_last_generation(store: Store) -> None:
    # Its runs' marks (tool:name:generation:run) must not repeat the deleted one's.
    store.put_tool_job("bot", "feed", "{}")
    store.restart_tool_job("bot", "feed")
    assert store.delete_tool_job("bot", "feed")
    store.put_tool_job("bot", "feed", "{}")
    again = store.tool_job("bot", "feed")
    assert again is not None and again.generation == 3 and again.run == 0
    store.put_tool_job("other", "feed", "{}")
    other = store.tool_job("other", "feed")
    assert other is not None and other.generation == 1
