"""A job's definition checked as Toolforge's jobs framework checks it (its name rules,
memory and CPU as it takes them, file logs), and the chapter's runtime policy file read
as the other policy files are: an unknown, missing or mistyped key refused in one line
naming it, the quotas and the images as the file says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.errors import Refusal
from runtime.jobspec import (
    JobSpec,
    JobSpecError,
    check_spec,
    cpu_value,
    filelog_paths,
    mem_bytes,
    with_home,
)
from runtime.policy import (
    ImageNotOffered,
    QuotaExceeded,
    RuntimePolicyError,
    check_quota,
    load_runtime_policy,
    read_runtime_policy,
)
from runtime.schedules import ScheduleError
from tests.unit.jobs_fake import policy_data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("1.5Gi", 3 * 2**29),
        ("2G", 2 * 10**9),
        ("100k", 100_000),
        ("1048576", 2**20),
        (".5Ki", 512),
        ("0.3", 1),  # a part of a byte is a byte
    ],
)
def test_memory_is_read_as_toolforge_reads_it(text: str, expected: int) -> None:
    assert mem_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "1 GB", "1gi", "-1Gi", "0", "0Mi", "1e3", "5m"])
def test_memory_that_is_no_amount_is_refused(text: str) -> None:
    with pytest.raises(JobSpecError, match="mem"):
        mem_bytes(text)


@pytest.mark.parametrize(("text", "expected"), [("0.5", 0.5), ("1", 1.0), ("250m", 0.25)])
def test_cpu_is_read_as_cores(text: str, expected: float) -> None:
    assert cpu_value(text) == expected


@pytest.mark.parametrize("text", ["", "half", "0", "-1", "1Gi", "500M", "0m"])
def test_cpu_that_is_no_number_is_refused(text: str) -> None:
    with pytest.raises(JobSpecError, match="cpu"):
        cpu_value(text)


GOOD = JobSpec("citation-bot.daily", "./run.sh", "bookworm")


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"name": ""}, "Job name is required"),
        ({"name": "Daily"}, "Invalid job name 'Daily'"),
        ({"name": "-daily"}, "Invalid job name"),
        ({"name": "daily_report"}, "Invalid job name"),
        ({"name": "a" * 53}, "it can't be longer than 52 characters"),
        ({"command": "  "}, "the command is empty"),
        ({"command": "./a\0b"}, "NUL"),
        ({"image": ""}, "no image given"),
        ({"continuous": True, "schedule": "@daily"}, "Only one of 'continuous' and 'schedule'"),
        ({"retry": 6}, "retry must be a whole number from 0 to 5"),
        ({"retry": -1}, "retry must be"),
        ({"retry": True}, "retry must be"),
        ({"emails": "always"}, "emails must be one of none, all, onfinish, onfailure"),
        ({"mem": "1TB"}, "mem '1TB'"),
        ({"cpu": "two"}, "cpu 'two'"),
        ({"filelog": False, "filelog_stderr": "/x.err"}, "requires --filelog"),
        ({"filelog_stdout": ""}, "a file log path is empty"),
        ({"filelog_stdout": "/a\nb"}, "NUL or a line break"),
    ],
)
def test_check_spec_refuses_what_toolforge_refuses(changes: dict[str, object], said: str) -> None:
    spec = JobSpec(**{**GOOD.to_json(), **changes})
    with pytest.raises(JobSpecError, match=said) as refused:
        check_spec(spec)
    assert isinstance(refused.value, Refusal) and "\n" not in str(refused.value)


def test_check_spec_takes_a_good_definition_and_reads_its_schedule() -> None:
    assert check_spec(GOOD) is GOOD
    assert check_spec(JobSpec("a.b-c", "./x", "php8.2", schedule="*/5 * * * mon-fri")).schedule
    with pytest.raises(ScheduleError, match="expected five fields"):
        check_spec(JobSpec("a", "./x", "bookworm", schedule="* * *"))


def test_file_logs_go_to_the_home_unless_told() -> None:
    home = "/data/project/tool"
    assert filelog_paths(GOOD, home) == (
        f"{home}/citation-bot.daily.out",
        f"{home}/citation-bot.daily.err",
    )
    told = with_home(JobSpec("a", "./a", "bookworm", filelog_stdout="logs/../a.log"), home)
    assert told.filelog_stdout == f"{home}/a.log"
    assert filelog_paths(told, home) == (f"{home}/a.log", f"{home}/a.err")
    assert filelog_paths(JobSpec("a", "./a", "bookworm", filelog=False), home) == (None, None)
    assert (
        with_home(JobSpec("a", "./a", "x", filelog_stderr="/tmp/e"), home).filelog_stderr
        == "/tmp/e"
    )


# -- the policy file ------------------------------------------------------------------


def test_the_bundled_policy_loads() -> None:
    policy = load_runtime_policy()
    assert policy.defaults.image == "bookworm"
    assert (policy.defaults.mem, policy.defaults.cpu) == ("512Mi", "0.5")
    assert {"bookworm", "python3.11", "php8.2"} <= set(policy.images)
    assert policy.image("python3.11").variables() == {"PYTHONUNBUFFERED": "1"}
    assert policy.quota_for("anyone") == policy.quota
    with pytest.raises(ImageNotOffered, match="No such image 'tf-python39'; offered: bookworm"):
        policy.image("tf-python39")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runtime.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_policy_file_is_read_from_a_path(tmp_path: Path) -> None:
    bundled = (Path(__file__).parents[2] / "policies" / "runtime.toml").read_text()
    path = write(tmp_path, bundled.replace("continuous_jobs = 3", "continuous_jobs = 5"))
    assert load_runtime_policy(path).quota.continuous_jobs == 5


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[quota\n", "cannot read the runtime policy: "),
        ("[qouta]\n", "unknown runtime policy section 'qouta'; did you mean 'quota'?"),
        ("defaults = 3\n", "[defaults] must be a table"),
    ],
)
def test_an_unreadable_policy_file_is_refused(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(RuntimePolicyError, match=re.escape(said)):
        load_runtime_policy(write(tmp_path, text))


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimePolicyError, match="nope.toml: cannot read the runtime policy"):
        load_runtime_policy(tmp_path / "nope.toml")


def _refused(change: str, value: object, *where: str) -> str:
    data = policy_data()
    table: dict[str, object] = data[change]
    for key in where[:-1]:
        table = table.setdefault(key, {})  # type: ignore[assignment]
    table[where[-1]] = value
    with pytest.raises(RuntimePolicyError) as refused:
        read_runtime_policy(data)
    return str(refused.value)


def test_unknown_missing_and_mistyped_keys_are_refused_naming_them() -> None:
    assert _refused("quota", 3, "continous_jobs") == (
        "unknown [quota] key 'continous_jobs'; did you mean 'continuous_jobs'?"
    )
    assert _refused("quota", "3", "one_off_jobs") == (
        "[quota] key 'one_off_jobs' must be a whole number of jobs, not '3'"
    )
    assert _refused("quota", -1, "one_off_jobs").startswith("[quota] key 'one_off_jobs' must be")
    assert _refused("quota", "lots", "total_mem").startswith("[quota] mem 'lots'")
    assert _refused("defaults", "fast", "cpu").startswith("[defaults] cpu 'fast'")
    assert _refused("defaults", "tf-node16", "image") == (
        "[defaults] image 'tf-node16' is not offered; offered: bookworm"
    )
    assert _refused("images", "python", "bookworm", "names").startswith(
        "unknown [images.bookworm] key 'names'"
    )
    assert _refused("images", ["bin"], "bookworm", "path") == (
        "[images.bookworm] path 'bin' must be absolute"
    )
    assert _refused("images", ["NO VALUE"], "bookworm", "environment") == (
        "[images.bookworm] environment 'NO VALUE' must be NAME=value"
    )
    data = policy_data()
    del data["quota"]["total_cpu"]
    with pytest.raises(RuntimePolicyError, match=r"\[quota\] key 'total_cpu' is missing"):
        read_runtime_policy(data)


def test_an_override_is_checked_and_replaces_some_figures() -> None:
    data = policy_data()
    data["overrides"] = {"big-tool": {"continuous_jobs": 10, "job_mem": "8Gi"}}
    policy = read_runtime_policy(data)
    assert policy.quota_for("big-tool").continuous_jobs == 10
    assert policy.quota_for("big-tool").one_off_jobs == 15
    assert policy.quota_for("small-tool").continuous_jobs == 3
    data["overrides"] = {"big-tool": {"continuous": 10}}
    with pytest.raises(RuntimePolicyError, match=r"unknown \[overrides.big-tool\] key"):
        read_runtime_policy(data)


def test_check_quota_ignores_the_job_being_replaced() -> None:
    data = policy_data()
    data["quota"]["scheduled_jobs"] = 1
    policy = read_runtime_policy(data)
    daily = JobSpec("daily", "./d", "bookworm", schedule="@daily")
    check_quota(policy, "tool", [daily], JobSpec("daily", "./d2", "bookworm", schedule="@hourly"))
    with pytest.raises(QuotaExceeded, match="may have 1 scheduled jobs; it has 1"):
        check_quota(
            policy, "tool", [daily], JobSpec("weekly", "./w", "bookworm", schedule="@weekly")
        )
