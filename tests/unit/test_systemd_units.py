"""The systemd units shipped in deploy/systemd: `systemd-analyze verify` accepts them
without a warning, each runs a real `ats` command (the node door runs Debian's caddy),
and each has the hardening a chapter should not have to add."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ats.cli import build_parser

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
INSTALLED = "/opt/ats/.venv/bin/ats"  # where the units expect the project's virtualenv
LONG_RUNNING = (
    "ats-bot.service",
    "ats-bridge.service",
    "ats-provision.service",
    "ats-runtime.service",
    "ats-databases.service",
    "ats-node-door.service",
)
# The node door is Debian's caddy as user caddy, with one capability: its privileged port.
NODE_DOOR = "ats-node-door.service"
NODE_DOOR_COMMAND = "/usr/bin/caddy run --config /etc/caddy/ats-node-door.json"
# The jobs service submits each run as the tool's user, the tool databases' service
# writes each account's credentials file in its home, and their backup logs in to
# MariaDB as root through its socket: root, bounded to what that takes.
AS_ROOT = {
    "ats-runtime.service": "CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE",
    "ats-databases.service": "CAP_CHOWN CAP_DAC_OVERRIDE",
    "ats-databases-backup.service": "CAP_CHOWN CAP_DAC_OVERRIDE",
}
TIMED = ("ats-renewal", "ats-purge", "ats-databases-backup")


def settings(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: scripts/setup installs the systemd package")
    # verify checks that ExecStart exists: point the units at this checkout's ats.
    here = str(Path(sys.executable).with_name("ats"))
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, here))
    result = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # A bad value is only a warning (exit 0): any output at all is a failure.
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stderr


def test_every_unit_is_there_and_hardened() -> None:
    names = {unit.name for unit in UNITS.iterdir()}
    wanted = {*LONG_RUNNING, *(f"{t}.service" for t in TIMED), *(f"{t}.timer" for t in TIMED)}
    assert names == wanted
    for name in sorted(n for n in names if n.endswith(".service")):
        found = settings(UNITS / name)
        assert found["NoNewPrivileges"] == ["yes"], name
        assert found["ProtectSystem"] == ["strict"], name
        if name == NODE_DOOR:
            assert found["User"] == found["Group"] == ["caddy"]
            assert found["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
            assert found["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
            assert found["StateDirectory"] == ["ats-node-door"] and "ReadWritePaths" not in found
        elif name in AS_ROOT:
            assert found["User"] == ["root"], name
            assert found["CapabilityBoundingSet"] == [AS_ROOT[name]], name
            assert found["ReadWritePaths"][0].split()[0] == "/var/lib/ats", name
        else:
            assert found["User"] == ["ats"], name
            assert found["ReadWritePaths"] == ["/var/lib/ats"], name
            assert found["CapabilityBoundingSet"] == [""], name
        assert found.get("Restart") == (["on-failure"] if name in LONG_RUNNING else None), name
    for timer in TIMED:
        found = settings(UNITS / f"{timer}.timer")
        assert found["OnCalendar"] == ["daily"] and found["Persistent"] == ["true"]
        assert settings(UNITS / f"{timer}.service")["Type"] == ["oneshot"]


def test_every_unit_runs_a_real_ats_command() -> None:
    parser = build_parser()
    assert settings(UNITS / NODE_DOOR)["ExecStart"] == [NODE_DOOR_COMMAND]
    for unit in sorted(UNITS.glob("*.service")):
        if unit.name == NODE_DOOR:
            continue
        [command] = settings(unit)["ExecStart"]
        program, *args = shlex.split(command)
        assert program == INSTALLED, unit.name
        parsed = parser.parse_args(args)  # exits (fails the test) on an unknown command
        assert parsed.needs_config, unit.name
