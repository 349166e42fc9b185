"""The dev MariaDB (`devtools/devmariadb.py`): it answers on its socket and its port, reads
nothing of /etc/mysql, keeps its temporary files in its folder and its data across a
stop, and a stop really ends it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from devtools.daemons import alive
from devtools.devmariadb import DevMariaDB, DevMariaDBError


def test_a_dev_server_starts_keeps_its_data_and_stops(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ats-devmariadb-"))
    folder.chmod(0o711)
    dev = DevMariaDB(folder / "server")
    try:
        state = dev.start()
        assert dev.running() == state
        with pytest.raises(DevMariaDBError, match="already runs"):
            dev.start()
        dev.sql("CREATE DATABASE kept; CREATE TABLE kept.t (n INT); INSERT INTO kept.t VALUES (4)")
        # Its own settings, not the machine's /etc/mysql.
        assert dev.sql("SELECT @@port, @@log_bin, @@skip_name_resolve, @@tmpdir").split() == [
            str(state.port),
            "0",
            "1",
            str(dev.folder / "tmp"),  # not the machine's /tmp, which others share
        ]
        # Root comes in through the socket only: over TCP it is refused.
        tcp = subprocess.run(
            ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(state.port), "-uroot",
             "-e", "SELECT 1"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert tcp.returncode != 0 and "is not allowed to connect" in tcp.stderr
        assert dev.stop()
        assert not alive(state.pid) and dev.running() is None
        assert not dev.stop()
        again = dev.start()
        assert dev.sql("SELECT n FROM kept.t").strip() == "4"
        assert again.pid != state.pid
    finally:
        dev.stop()
        shutil.rmtree(folder, ignore_errors=True)
