"""A throwaway front door for development and the tests: Debian's caddy run as user
caddy with a configuration it is given, everything under one folder.

The caller makes the configuration (the product's `runtime.frontdoor.base_config`, with
`storage` and `log_folder` from here and free ports from `devtools.ports`): this module
only lays out the folders caddy must own, writes the JSON beside them, starts `caddy
run --config FILE` (never /etc/caddy/Caddyfile; HOME and the XDG folders point into the
folder, so Caddy's data, autosave and internal CA stay there, and a configuration whose
`pki` says `install_trust: false` leaves the machine's trust store alone), and returns
once the admin API answers (or, for a configuration without one, a node door's, once
the caller's `ready` says so). `enter` is a command prefix (`nsenter -t PID -m --`) that
starts it inside a dev login host's mount namespace. Stopping it and starting it again
keeps its storage, so the internal CA's root (`root_cert()`) stays the same. The state
(pid, admin address) is kept in `FOLDER/devcaddy.json`. Runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devtools.daemons import alive, end, read_state, started, tail, untraversable

START_SECONDS = 10
USER = "caddy"


class DevCaddyError(RuntimeError):
    """Caddy cannot start; the message says why, in one line."""


@dataclass
class CaddyState:
    pid: int
    admin: str  # the admin API's address, 127.0.0.1:PORT
    storage: str  # Caddy's data folder, as the configuration names it
    enter: list[str]


class DevCaddy:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.state_file = self.folder / "devcaddy.json"
        self.config_file = self.folder / "caddy.json"

    @property
    def storage(self) -> Path:
        """Where the configuration should keep Caddy's data (owned by caddy)."""
        return self.folder / "data" / "caddy"

    @property
    def log_folder(self) -> Path:
        """A folder caddy writes in, for an access log."""
        return self.folder / "log"

    # -- state -----------------------------------------------------------------

    def state(self) -> CaddyState | None:
        return read_state(self.state_file, CaddyState)

    def running(self) -> CaddyState | None:
        state = self.state()
        return state if state and alive(state.pid) else None

    def admin_url(self) -> str:
        state = self.state()
        if state is None:
            raise DevCaddyError(f"no Caddy was started from {self.folder}")
        return f"http://{state.admin}"

    def root_cert(self) -> Path:
        """The internal CA's root certificate (for `curl --cacert`, `requests verify=`)."""
        state = self.state()
        storage = Path(state.storage) if state else self.storage
        return storage / "pki" / "authorities" / "local" / "root.crt"

    # -- start and stop --------------------------------------------------------

    def start(
        self,
        config: Mapping[str, Any],
        enter: list[str] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> CaddyState:
        """Write `config` to the folder and run caddy with it as user caddy (behind the
        `enter` prefix); return once its admin API answers, or, when the configuration
        disables it, once `ready` is true."""
        enter = list(enter or [])
        if os.geteuid() != 0:
            raise DevCaddyError("a dev Caddy runs as root (it becomes the caddy user)")
        caddy = shutil.which("caddy")
        if not caddy:
            raise DevCaddyError("caddy is missing: install Debian's caddy (scripts/setup)")
        if self.running():
            raise DevCaddyError(f"a Caddy already runs from {self.folder}")
        settings = config.get("admin") or {}
        admin = "" if settings.get("disabled") else str(settings.get("listen", ""))
        if not admin.startswith("127.0.0.1:") and not (settings.get("disabled") and ready):
            raise DevCaddyError(
                "the configuration's admin listen must be 127.0.0.1:PORT (or, disabled, "
                "say when caddy is ready)"
            )
        answers = ready or (lambda: _answers(admin))
        storage = str((config.get("storage") or {}).get("root", self.storage))
        self._lay_out()
        self.config_file.write_text(json.dumps(config, indent=1))
        self.config_file.chmod(0o644)
        home = self.folder / "home"
        command = [
            *enter,
            "setpriv",
            f"--reuid={USER}",
            f"--regid={USER}",
            "--init-groups",
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            f"HOME={home}",
            f"XDG_DATA_HOME={self.folder / 'data'}",
            f"XDG_CONFIG_HOME={home / 'config'}",
            caddy,
            "run",
            "--config",
            str(self.config_file),
        ]
        with (self.log_folder / "caddy.out").open("ab") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state = CaddyState(process.pid, admin, storage, enter)
        self.state_file.write_text(json.dumps(asdict(state)))
        if not started(answers, lambda: process.poll() is None, START_SECONDS):
            self.stop()
            raise DevCaddyError(f"caddy did not start: {tail(self.log_folder / 'caddy.out')}")
        return state

    def _lay_out(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o711)  # caddy reaches its folders through it
        if (closed := untraversable(self.folder)) is not None:
            raise DevCaddyError(f"{closed} must be traversable by caddy (o+x)")
        for folder in (self.folder / "home", self.folder / "data", self.log_folder):
            folder.mkdir(mode=0o700, exist_ok=True)
            for path in (folder, *folder.rglob("*")):
                shutil.chown(path, USER, USER)

    def stop(self) -> bool:
        """End caddy; whether it was running."""
        state = self.state()
        if state is None:
            return False
        ran = alive(state.pid)
        end(state.pid)
        self.state_file.unlink(missing_ok=True)
        return ran


def _answers(admin: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{admin}/config/", timeout=1):  # noqa: S310
            return True
    except (urllib.error.URLError, OSError):
        return False
