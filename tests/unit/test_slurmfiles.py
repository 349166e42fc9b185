"""Slurm's slurm.conf and cgroup.conf as `provisioning.slurmfiles` renders them (and
`ats host render` from [runtime]): MUNGE, cgroups, cores and memory with a default,
timed starts, finished jobs kept in sight, one partition over the nodes, no secret,
and settings that cannot work refused with a message."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from ats.commands.host import slurm_settings
from ats.config import config_from_mapping
from provisioning.loginhost import RenderError
from provisioning.slurmfiles import SlurmNode, SlurmSettings, parse_node, render

SETTINGS = SlurmSettings(controller_host="tools1", nodes=(SlurmNode("tools1", 8, 30000),))
REQUIRED = {
    "wiki": {"api": "https://meta.example.org/w/api.php", "request_page": "R"},
    "bot": {"username": "ClerkBot@clerk"},
}


def keys(text: str) -> dict[str, str]:
    """`Key=value` lines (not the node and partition lines), as Slurm reads them."""
    pairs = [line.split("=", 1) for line in text.splitlines() if line and line[0] != "#"]
    return {key: value for key, value in pairs if " " not in value}


def lines_of(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def rendered(settings: SlurmSettings = SETTINGS) -> tuple[str, str]:
    files = {item.path: item for item in render(settings)}
    assert list(files) == ["etc/slurm/slurm.conf", "etc/slurm/cgroup.conf"]
    assert {item.mode for item in files.values()} == {0o644}
    return files["etc/slurm/slurm.conf"].text, files["etc/slurm/cgroup.conf"].text


def test_slurm_conf_holds_what_the_runtime_relies_on() -> None:
    conf = keys(rendered()[0])
    assert conf["SlurmctldHost"] == "tools1"
    assert (conf["SlurmctldPort"], conf["SlurmdPort"]) == ("6817", "6818")
    assert conf["AuthType"] == "auth/munge" and conf["CredType"] == "cred/munge"
    assert "AuthInfo" not in conf  # munged's default socket, where every client looks
    assert conf["SlurmUser"] == "slurm"
    assert conf["ProctrackType"] == "proctrack/cgroup" and conf["TaskPlugin"] == "task/cgroup"
    assert conf["SelectType"] == "select/cons_tres"
    assert conf["SelectTypeParameters"] == "CR_Core_Memory"
    # Without a default a job that asks no --mem takes the whole node.
    assert conf["DefMemPerCPU"] == "512"
    assert conf["ReturnToService"] == "2"
    assert conf["SchedulerParameters"] == "sched_interval=2,bf_interval=2"
    assert int(conf["MinJobAge"]) >= 120  # finished jobs stay visible for minutes
    assert conf["PrivateData"] == "jobs"
    assert conf["StateSaveLocation"] == "/var/lib/slurm/slurmctld"
    assert conf["SlurmdSpoolDir"] == "/var/lib/slurm/slurmd"
    assert conf["SlurmctldPidFile"] == "/run/slurmctld.pid"  # as Debian's unit expects


def test_one_partition_without_a_time_limit_over_every_node() -> None:
    settings = replace(
        SETTINGS,
        controller_address="10.0.0.1",
        nodes=(parse_node("tools1:8:30000"), parse_node("tools2:4:16000:10.0.0.2")),
        partition="jobs",
    )
    text = rendered(settings)[0]
    assert keys(text)["SlurmctldHost"] == "tools1(10.0.0.1)"
    assert lines_of(text, "NodeName=") == [
        "NodeName=tools1 CPUs=8 RealMemory=30000 State=UNKNOWN",
        "NodeName=tools2 NodeAddr=10.0.0.2 CPUs=4 RealMemory=16000 State=UNKNOWN",
    ]
    assert lines_of(text, "PartitionName=") == [
        "PartitionName=jobs Nodes=tools1,tools2 Default=YES MaxTime=INFINITE State=UP"
    ]


def test_cgroup_conf_limits_memory_and_holds_cores() -> None:
    cgroup = keys(rendered()[1])
    assert cgroup == {
        "CgroupPlugin": "autodetect",
        "ConstrainRAMSpace": "yes",
        "ConstrainSwapSpace": "no",
        "ConstrainCores": "yes",
        "ConstrainDevices": "no",
    }
    loose = replace(SETTINGS, constrain_cores=False, cgroup_plugin="cgroup/v1")
    cgroup = keys(rendered(loose)[1])
    assert cgroup["ConstrainCores"] == "no" and cgroup["CgroupPlugin"] == "cgroup/v1"


def test_a_dev_node_names_its_own_socket_paths_and_host() -> None:
    settings = replace(
        SETTINGS,
        nodes=(SlurmNode("atsdev123", 2, 2048, address="127.0.0.1", hostname="vm"),),
        munge_socket="/tmp/x/munge.socket.2",
        state_dir="/tmp/x/state",
        run_dir="/tmp/x/run/",
        log_dir="/tmp/x/log",
    )
    text = rendered(settings)[0]
    conf = keys(text)
    assert conf["AuthInfo"] == "socket=/tmp/x/munge.socket.2"
    assert conf["SlurmdPidFile"] == "/tmp/x/run/slurmd.pid"
    assert conf["SlurmdLogFile"] == "/tmp/x/log/slurmd.log"
    assert lines_of(text, "NodeName=") == [
        "NodeName=atsdev123 NodeHostname=vm NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 State=UNKNOWN"
    ]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"nodes": ()}, "at least one node"),
        ({"nodes": (SlurmNode("a", 1, 100), SlurmNode("a", 1, 100))}, "named twice"),
        ({"nodes": (SlurmNode("a", 0, 1000),)}, "at least 1 CPU"),
        ({"nodes": (SlurmNode("a", 1, 100),)}, "default_mem (512 MB)"),
        ({"nodes": (SlurmNode("a b", 1, 1000),)}, "plain host name"),
        ({"controller_host": "tools1\nAuthType=auth/none"}, "controller_host"),
        ({"partition": "tools,all"}, "partition"),
        ({"slurmd_port": 6817}, "two ports"),
        ({"controller_address": "10.0.0.1 x"}, "not a host name"),
        ({"state_dir": "var/lib/slurm"}, "plain absolute path"),
        ({"min_job_age": 1}, "at least 2 seconds"),
    ],
)
def test_settings_that_cannot_work_are_refused(change: dict[str, object], said: str) -> None:
    with pytest.raises(RenderError) as caught:
        render(replace(SETTINGS, **change))  # type: ignore[arg-type]
    assert said in str(caught.value)


@pytest.mark.parametrize("text", ["tools1", "tools1:8", "tools1:x:100", "tools1:8:-1"])
def test_a_node_spelt_wrong_is_refused_with_the_form(text: str) -> None:
    with pytest.raises(RenderError) as caught:
        parse_node(text)
    assert "NAME:CPUS:MEMORY_MB[:ADDRESS]" in str(caught.value)


def test_by_default_the_cluster_is_the_rendering_machine_alone() -> None:
    settings = slurm_settings(config_from_mapping(REQUIRED))
    (node,) = settings.nodes
    assert settings.controller_host == node.name == socket.gethostname().split(".")[0]
    assert node.cpus >= 1 and node.memory_mb >= 512
    configured = config_from_mapping(
        {**REQUIRED, "runtime": {"controller_host": "ctl", "nodes": ["n1:2:4000"]}}
    )
    settings = slurm_settings(configured)
    assert settings.controller_host == "ctl" and settings.nodes == (SlurmNode("n1", 2, 4000),)


def test_with_web_services_on_several_nodes_a_prolog_makes_their_socket_folders() -> None:
    assert "Prolog" not in keys(rendered()[0])  # one host: the jobs service makes them
    files = {item.path: item for item in render(replace(SETTINGS, web_socket_root="/run/w/"))}
    assert keys(files["etc/slurm/slurm.conf"].text)["Prolog"] == "/usr/local/sbin/ats-job-prolog"
    prolog = files["usr/local/sbin/ats-job-prolog"]
    assert prolog.mode == 0o755 and "root=/run/w\n" in prolog.text
    assert 'chown -- "$uid:caddy" "$folder"' in prolog.text
    configured = config_from_mapping(
        {**REQUIRED, "runtime": {"nodes": ["n1:2:4000"]}, "web": {"domain": "tools.test"}}
    )
    assert slurm_settings(configured).web_socket_root == "/run/ats-web"
    alone = config_from_mapping({**REQUIRED, "web": {"domain": "tools.test"}})
    assert slurm_settings(alone).web_socket_root == ""
    with pytest.raises(RenderError, match="socket_root"):
        render(replace(SETTINGS, web_socket_root="/run/$(id)"))


def test_the_munge_key_is_never_rendered() -> None:
    for item in render(SETTINGS):
        assert "munge.key" not in item.path and "key" not in keys(item.text)
