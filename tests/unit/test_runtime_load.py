"""`toolforge jobs load`: a Toolforge jobs.yaml read as Toolforge reads it (unknown keys a
warning in its words, its types, its refusals naming the entry), then only what differs
from the tool's jobs added, changed or deleted — a second load of the same file changes
nothing — and every definition checked before the service is asked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.jobsfile import (
    MAX_BYTES,
    JobsFileError,
    LoadResult,
    parse_jobs_file,
    plan_load,
    read_jobs_file,
)
from runtime.jobspec import JobSpec
from runtime.policy import read_runtime_policy
from runtime.toolforge import Answer, answer
from tests.unit.jobs_fake import HOME, FakeJobs, policy_data

JOBS_YAML = """\
---
# a cronjob
- name: everyminute
  command: ./myothercommand.py -v
  image: python3.11
  no-filelog: true
  schedule: "* * * * *"
  emails: onfailure
# a continuous job
- image: bookworm
  name: endlessjob
  command: ./dumps-daemon.py --endless
  continuous: true
  mem: 1Gi
  cpu: 0.5
  mount: all
# a one-off job, waited for
- name: myjob
  image: bookworm
  command: ./mycommand.sh --argument1
  filelog-stdout: logs/myjob.log
  filelog-stderr: logs/myjob.log
  retry: 2
  wait: true
"""


@pytest.fixture
def jobs() -> FakeJobs:
    return FakeJobs()


def load(service: FakeJobs, text: str, *words: str) -> Answer:
    return answer(["jobs", "load", "jobs.yaml", *words], service, files={"jobs.yaml": text})


def test_a_toolforge_jobs_yaml_is_read_with_its_types() -> None:
    specs, warnings = read_jobs_file(JOBS_YAML)
    assert specs == [
        JobSpec(
            "everyminute",
            "./myothercommand.py -v",
            "python3.11",
            schedule="* * * * *",
            emails="onfailure",
            filelog=False,
        ),
        JobSpec(
            "endlessjob",
            "./dumps-daemon.py --endless",
            "bookworm",
            continuous=True,
            mem="1Gi",
            cpu="0.5",
        ),
        JobSpec(
            "myjob",
            "./mycommand.sh --argument1",
            "bookworm",
            retry=2,
            filelog_stdout="logs/myjob.log",
            filelog_stderr="logs/myjob.log",
        ),
    ]
    assert warnings == ["Unknown key 'mount' in job 'endlessjob' definition"]
    assert parse_jobs_file(JOBS_YAML).waits == ("myjob",)


def test_load_adds_the_jobs_and_says_so(jobs: FakeJobs) -> None:
    got = load(jobs, JOBS_YAML)
    assert got == Answer(
        0,
        stderr=(
            "WARNING: Unknown key 'mount' in job 'endlessjob' definition\n"
            "INFO: job 'endlessjob' added\n"
            "INFO: job 'everyminute' added\n"
            "INFO: job 'myjob' added\n"
            "INFO: 3 job(s) loaded successfully\n"
        ),
        wait_for="myjob",
    )
    assert jobs.views["myjob"].spec.filelog_stdout == f"{HOME}/logs/myjob.log"
    assert jobs.views["myjob"].out_path == f"{HOME}/logs/myjob.log"


def test_a_second_load_of_the_same_file_changes_nothing(jobs: FakeJobs) -> None:
    load(jobs, JOBS_YAML)
    before = dict(jobs.views)
    jobs.calls.clear()
    got = load(jobs, JOBS_YAML)
    assert got.code == 0 and got.wait_for is None
    assert got.stderr == (
        "WARNING: Unknown key 'mount' in job 'endlessjob' definition\n"
        "INFO: 3 job(s) loaded successfully\n"
    )
    assert jobs.calls == ["load"]
    assert jobs.views == before


def test_load_changes_what_differs_and_deletes_what_the_file_lacks(jobs: FakeJobs) -> None:
    load(jobs, JOBS_YAML)
    jobs.calls.clear()
    edited = JOBS_YAML.replace("mem: 1Gi", "mem: 2Gi").split("# a one-off job")[0]
    got = load(jobs, edited)
    assert got.stderr.splitlines()[1:] == [
        "INFO: job 'endlessjob' changed",
        "INFO: job 'myjob' deleted",
        "INFO: 2 job(s) loaded successfully",
    ]
    assert jobs.calls == ["load", "run endlessjob"]
    assert sorted(jobs.views) == ["endlessjob", "everyminute"]
    assert jobs.views["endlessjob"].spec.mem == "2Gi"


def test_load_job_touches_that_job_only(jobs: FakeJobs) -> None:
    load(jobs, JOBS_YAML)
    jobs.views["stray"] = replace(jobs.views["myjob"], spec=JobSpec("stray", "./s", "bookworm"))
    edited = JOBS_YAML.replace("retry: 2", "retry: 3").replace("mem: 1Gi", "mem: 2Gi")
    got = load(jobs, edited, "--job", "myjob")
    assert got.stderr.splitlines()[1:] == [
        "INFO: job 'myjob' changed",
        "INFO: 1 job(s) loaded successfully",
    ]
    assert got.wait_for == "myjob"
    assert jobs.views["endlessjob"].spec.mem == "1Gi"
    assert "stray" in jobs.views
    assert load(jobs, edited, "--job", "nope") == Answer(
        1, stderr="ERROR: Job 'nope' is not defined in 'jobs.yaml'\n"
    )


def test_an_empty_file_deletes_every_job(jobs: FakeJobs) -> None:
    load(jobs, JOBS_YAML)
    got = load(jobs, "# nothing runs\n")
    assert got.stderr.count("deleted") == 3 and jobs.views == {}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("- name: a\n  command: [", "ERROR: Unable to parse yaml file 'jobs.yaml': "),
        ("name: a\ncommand: ./a\n", "ERROR: Unable to load 'jobs.yaml': it must be a list"),
        ("- just a string\n", "ERROR: Unable to load job number 1: it must be a mapping"),
        (
            "- name: a\n  command: ./a\n- name: b\n",
            "ERROR: Unable to load job number 2: missing configuration parameter 'command'\n",
        ),
        ("- command: ./a\n", "ERROR: Unable to load job number 1: missing configuration"),
        (
            "- {name: a, command: ./a}\n- {name: b, command: ./b}\n- {name: a, command: ./c}\n",
            "ERROR: Unable to load job number 3: the name 'a' is also the name of job number 1\n",
        ),
        ("- {name: a, command: ./a, retry: yes}\n", "ERROR: Invalid job a: 'retry' must be a"),
        ("- {name: a, command: ./a, continuous: 1}\n", "ERROR: Invalid job a: 'continuous'"),
        ("- {name: a, command: ./a, retry: 6}\n", "ERROR: Invalid job a: retry must be a whole"),
        ("- {name: A, command: ./a}\n", "ERROR: Invalid job A: Invalid job name 'A'"),
        ("- {name: a, command: ./a, image: tf-php74}\n", "ERROR: Invalid job a: No such image"),
        (
            "- {name: a, command: ./a, schedule: '* * *', continuous: true}\n",
            "ERROR: Invalid job a: Only one of 'continuous' and 'schedule' can be set",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_entry_and_nothing_runs(
    jobs: FakeJobs, text: str, said: str
) -> None:
    got = load(jobs, text)
    assert got.code == 1
    assert got.stderr.startswith(said), got.stderr
    assert got.stderr.count("\n") == 1
    assert jobs.calls == [] and jobs.views == {}


def test_a_file_the_client_did_not_send_is_refused(jobs: FakeJobs) -> None:
    got = answer(["jobs", "load", "other.yaml"], jobs, files={"jobs.yaml": JOBS_YAML})
    assert got == Answer(1, stderr="ERROR: Unable to read file 'other.yaml'\n")


def test_load_refuses_a_file_past_the_quota_and_runs_none_of_it() -> None:
    data = policy_data()
    data["quota"]["continuous_jobs"] = 1
    jobs = FakeJobs(read_runtime_policy(data))
    text = (
        "- {name: a, command: ./a, continuous: true}\n- {name: b, command: ./b, continuous: true}\n"
    )
    assert load(jobs, text) == Answer(
        1, stderr="ERROR: quota: tool 'citation-bot' may have 1 continuous jobs; it has 1\n"
    )
    assert jobs.calls == []
    # A job replaced by one of the same name does not count twice.
    assert load(jobs, text.split("- {name: b")[0]).code == 0
    assert load(jobs, text.split("- {name: b")[0].replace("./a", "./a2")).code == 0


def test_wait_is_honoured_for_one_started_job_only(jobs: FakeJobs) -> None:
    text = "- {name: a, command: ./a, wait: true}\n- {name: b, command: ./b, wait: true}\n"
    got = load(jobs, text)
    assert got.wait_for == "a"
    assert "WARNING: waiting for job 'a' only, not for 'b'\n" in got.stderr
    cron = "- {name: c, command: ./c, wait: true, schedule: '@daily'}\n"
    assert parse_jobs_file(cron).waits == ()


def test_plan_load_compares_definitions() -> None:
    a, b, c = (JobSpec(name, f"./{name}", "bookworm") for name in "abc")
    assert plan_load([a, b], [replace(a, retry=1), c]) == LoadResult(
        added=("c",), changed=("a",), deleted=("b",)
    )
    assert plan_load([a, b], [a, c], only="a") == LoadResult(unchanged=("a",))
    assert plan_load([], []) == LoadResult()


def test_aliases_may_not_blow_the_file_up() -> None:
    laughs = "a0: &a0 [x, x]\n" + "".join(
        f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}]\n" for n in range(1, 40)
    )
    with pytest.raises(JobsFileError, match="aliases expand it past 100000 values"):
        read_jobs_file(laughs)
    merges = "- &l0 {k0: 1}\n" + "".join(
        f"- &l{n} {{<<: [*l{n - 1}, *l{n - 1}], k{n}: 1}}\n" for n in range(1, 60)
    )
    with pytest.raises(JobsFileError, match="aliases expand"):
        read_jobs_file(merges)
    with pytest.raises(JobsFileError, match="an alias refers to itself"):
        read_jobs_file("- &a [*a]\n")
    with pytest.raises(JobsFileError, match=f"larger than {MAX_BYTES} bytes"):
        read_jobs_file("#" * (MAX_BYTES + 1))


def test_a_few_shared_settings_by_alias_still_load() -> None:
    text = (
        "- &common {name: a, command: ./a, image: python3.11, mem: 1Gi}\n"
        "- {<<: *common, name: b, command: ./b}\n"
    )
    specs, warnings = read_jobs_file(text)
    assert [(spec.name, spec.mem, spec.image) for spec in specs] == [
        ("a", "1Gi", "python3.11"),
        ("b", "1Gi", "python3.11"),
    ]
    assert warnings == []
