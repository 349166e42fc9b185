"""`ats doctor`'s checks that need no network: the bridge URL, the store, the unix root,
and the output's shape."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from ats import doctor
from ats.config import load_config
from membership.store import Store


def config(tmp_path: Path, bridge: str = "", provisioning: str = ""):
    path = tmp_path / "ats.toml"
    path.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "Bot@clerk"\n[store]\npath = "ats.sqlite"\n'
        f"[bridge]\n{bridge}\n[provisioning]\n{provisioning}\n",
        encoding="utf-8",
    )
    return load_config(path)


def test_bridge_url_default_plain_and_loopback(tmp_path: Path) -> None:
    assert doctor.check_bridge_url(config(tmp_path)).ok is False
    assert doctor.check_bridge_url(config(tmp_path, 'url = "http://bridge.example"')).ok is False
    assert doctor.check_bridge_url(config(tmp_path, 'url = "http://127.0.0.1:8000"')).ok is True
    proxied = doctor.check_bridge_url(
        config(tmp_path, 'url = "https://bridge.example"\ntrusted_proxies = 1')
    )
    assert proxied.ok is True and "behind 1 trusted proxy" in proxied.detail


def test_store_missing_current_old_newer_and_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    assert doctor.check_store(path).ok is True  # created by the first command
    Store(path).close()
    assert doctor.check_store(path).ok is True
    with sqlite3.connect(path) as db:
        db.execute(
            "DELETE FROM _sqlite_migrations "
            "WHERE rowid = (SELECT max(rowid) FROM _sqlite_migrations)"
        )
    old = doctor.check_store(path)
    assert old.ok is False and "old schema" in old.detail and "ats backup" in old.fix
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('ats', '9999_later', 'x')"
        )
    newer = doctor.check_store(path)
    assert newer.ok is False and "newer version" in newer.detail
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    assert doctor.check_store(junk).ok is False


def test_unix_root_and_dry_run(tmp_path: Path) -> None:
    missing = config(tmp_path, provisioning=f'backend = "unix"\nroot = "{tmp_path}/nope"')
    assert doctor.check_directory(missing, {}).ok is False
    (tmp_path / "root").mkdir()
    present = config(tmp_path, provisioning=f'backend = "unix"\nroot = "{tmp_path}/root"')
    assert doctor.check_directory(present, {}).ok is True
    assert doctor.check_directory(config(tmp_path), {}).ok is True  # dry-run


def test_report_prints_a_fix_under_each_failure_and_exits_1() -> None:
    out = io.StringIO()
    checks = [
        doctor.passed("a", "fine"),
        doctor.failed("b", "broken", "mend it"),
        doctor.skipped("c", "b failed"),
    ]
    assert doctor.report(checks, out) == 1
    assert out.getvalue().splitlines() == [
        "ok    a: fine",
        "FAIL  b: broken",
        "      fix: mend it",
        "skip  c: b failed",
        "1 of 3 checks failed",
    ]
    assert doctor.report(checks[:1], io.StringIO()) == 0
