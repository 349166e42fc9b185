"""The project's throwaway MediaWiki: install, seed data as seen over HTTP, lifecycle."""

from __future__ import annotations

import json
import re
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.waiting import wait_until

from .conftest import BOT_PASSWORD_ALPHABET, DevWiki, DevWikiError, SeedUser, require_mediawiki

SEEDED = (
    "ChapterAdmin",
    "Veteran",
    "Newcomer",
    "Blocked Veteran",
    "Dormant",
    "Ярослава",
    "משתמש ותיק",
    "Toolsmith",
)


def api_get(wiki: DevWiki, **params: Any) -> dict[str, Any]:
    params |= {"format": "json", "formatversion": "2"}
    resp = requests.get(wiki.api_url, params=params, timeout=30)
    resp.raise_for_status()
    data = resp.json()
    assert "error" not in data, data
    return data


def users_info(wiki: DevWiki, names: list[str]) -> dict[str, dict[str, Any]]:
    data = api_get(
        wiki,
        action="query",
        list="users",
        ususers="|".join(names),
        usprop="editcount|registration|blockinfo|groups",
    )
    return {u["name"]: u for u in data["query"]["users"]}


def requests_logged_since(wiki: DevWiki, offset: int) -> int:
    """Every request the server logged after byte `offset` of its log, whatever the path."""
    with wiki.log_path.open("rb") as log:
        log.seek(offset)
        return len(re.findall(rb"\[\d{3}\]: [A-Z]+ /", log.read()))


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def contribs(wiki: DevWiki, user: str, **params: Any) -> list[dict[str, Any]]:
    params = {"uclimit": "max", **params}
    data = api_get(wiki, action="query", list="usercontribs", ucuser=user, **params)
    return data["query"]["usercontribs"]


def php_processes_mentioning(port: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            argv
            and b"php" in Path(argv[0].decode()).name.encode()
            and any(str(port).encode() in arg for arg in argv)
        ):
            found.append(int(entry.name))
    return found


def port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------------- seed data


def test_seed_returns_every_persona(seed_users: dict[str, SeedUser]) -> None:
    assert set(seed_users) == set(SEEDED)
    for name, user in seed_users.items():
        assert user.name == name
        assert len(user.password) >= 16
        assert user.registered.tzinfo is not None
    assert [n for n, u in seed_users.items() if u.blocked] == ["Blocked Veteran"]


def test_edit_counts_and_registrations_over_http(
    devwiki: DevWiki, seed_users: dict[str, SeedUser]
) -> None:
    info = users_info(devwiki, list(SEEDED))
    assert set(info) == set(SEEDED)
    now = datetime.now(UTC)
    expected_age_days = {
        "ChapterAdmin": 5 * 365,
        "Veteran": 6 * 365,
        "Newcomer": 20,
        "Blocked Veteran": 7 * 365,
        "Dormant": 9 * 365,
        "Ярослава": 5 * 365,
        "משתמש ותיק": 5 * 365,
        "Toolsmith": 4 * 365,
    }
    expected_edits = {
        "ChapterAdmin": 600,
        "Veteran": 650,
        "Newcomer": 12,
        "Blocked Veteran": 700,
        "Dormant": 900,
        "Ярослава": 560,
        "משתמש ותיק": 560,
        "Toolsmith": 580,
    }
    for name in SEEDED:
        user = info[name]
        assert "missing" not in user, user
        # Other tests file requests as these users: count only the seeded history.
        later = [
            c for c in contribs(devwiki, name, uclimit=200) if not c["title"].startswith("Sandbox/")
        ]
        assert user["editcount"] - len(later) == expected_edits[name]
        assert expected_edits[name] == seed_users[name].editcount
        registered = parse_ts(user["registration"])
        assert abs(registered - seed_users[name].registered) < timedelta(seconds=1)
        assert abs(now - registered - timedelta(days=expected_age_days[name])) < timedelta(days=1)


def test_histories_are_real_revisions_in_the_past(devwiki: DevWiki) -> None:
    now = datetime.now(UTC)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    # ucdir=older (default): ucstart is the newer bound, ucend the older one.
    last_60_days = {"ucstart": now.strftime(iso), "ucend": (now - timedelta(days=60)).strftime(iso)}
    for name in ("Veteran", "Blocked Veteran", "Ярослава", "משתמש ותיק", "ChapterAdmin"):
        assert len(contribs(devwiki, name, **last_60_days)) >= 30, name
    last_365 = {"ucstart": now.strftime(iso), "ucend": (now - timedelta(days=365)).strftime(iso)}
    assert len(contribs(devwiki, "Veteran", **last_365)) >= 10

    oldest = contribs(devwiki, "Veteran", ucdir="newer", uclimit=1)[0]
    assert now - parse_ts(oldest["timestamp"]) > timedelta(days=6 * 365 - 2)
    assert oldest["title"].startswith("Sandbox/Veteran/")

    two_years = {"ucstart": now.strftime(iso), "ucend": (now - timedelta(days=730)).strftime(iso)}
    recent = contribs(devwiki, "Dormant", **two_years)
    assert [c for c in recent if c["title"].startswith("Sandbox/")] == []
    assert len(contribs(devwiki, "Dormant", ucdir="newer", uclimit=1)) == 1

    newcomer = [c for c in contribs(devwiki, "Newcomer") if c["title"].startswith("Sandbox/")]
    assert len(newcomer) == 12
    assert all(now - parse_ts(c["timestamp"]) < timedelta(days=20) for c in newcomer)

    hebrew = contribs(devwiki, "משתמש ותיק", uclimit=1)[0]
    assert hebrew["title"].startswith("Sandbox/משתמש ותיק/")


def test_block_info(devwiki: DevWiki) -> None:
    info = users_info(devwiki, ["Blocked Veteran", "Veteran"])
    blocked = info["Blocked Veteran"]
    assert blocked["blockedby"] == "Admin"
    assert blocked["blockreason"] == "Persistent vandalism"
    expiry = parse_ts(blocked["blockexpiry"]) - datetime.now(UTC)
    assert timedelta(days=27) < expiry <= timedelta(days=31)
    assert blocked["blockpartial"] is False
    assert "blockid" not in info["Veteran"]


def test_groups(devwiki: DevWiki) -> None:
    info = users_info(devwiki, ["ChapterAdmin", "ClerkBot", "Veteran", "Admin"])
    assert "sysop" in info["ChapterAdmin"]["groups"]
    assert "bot" in info["ClerkBot"]["groups"]
    assert "sysop" not in info["ClerkBot"]["groups"]
    assert "sysop" not in info["Veteran"]["groups"]
    assert "bot" not in info["Veteran"]["groups"]
    assert "sysop" in info["Admin"]["groups"]


def test_kill_switch_page(devwiki: DevWiki) -> None:
    data = api_get(
        devwiki,
        action="query",
        prop="revisions",
        titles="Toolserver/Run",
        rvprop="content|user",
        rvslots="main",
    )
    rev = data["query"]["pages"][0]["revisions"][0]
    assert rev["user"] == "Admin"
    assert rev["slots"]["main"]["content"] == "true"


def test_parser_functions_loaded(devwiki: DevWiki) -> None:
    data = api_get(
        devwiki, action="parse", text="{{#if: x | yes | no }}", contentmodel="wikitext", prop="text"
    )
    assert ">yes" in data["parse"]["text"]


def test_bot_password_login(devwiki: DevWiki) -> None:
    assert devwiki.bot_login_name == "ClerkBot@clerk"
    session = requests.Session()
    common = {"format": "json", "formatversion": "2"}
    token = session.get(
        devwiki.api_url, params={"action": "query", "meta": "tokens", "type": "login", **common}
    ).json()["query"]["tokens"]["logintoken"]
    login = session.post(
        devwiki.api_url,
        data={
            "action": "login",
            "lgname": devwiki.bot_login_name,
            "lgpassword": devwiki.bot_password,
            "lgtoken": token,
            **common,
        },
    ).json()
    assert login["login"]["result"] == "Success", login
    me = session.get(
        devwiki.api_url,
        params={
            "action": "query",
            "meta": "userinfo",
            "uiprop": "groups",
            "assert": "bot",
            **common,
        },
    ).json()
    assert me["query"]["userinfo"]["name"] == "ClerkBot"


def test_seed_is_idempotent(devwiki: DevWiki, seed_users: dict[str, SeedUser]) -> None:
    def edits() -> int:
        stats = api_get(devwiki, action="query", meta="siteinfo", siprop="statistics")
        return stats["query"]["statistics"]["edits"]

    before_counts = {n: u["editcount"] for n, u in users_info(devwiki, list(SEEDED)).items()}
    before_edits = edits()
    again = devwiki.seed()  # how long that takes: bench/bench_devwiki.py
    assert again == seed_users
    assert {n: u["editcount"] for n, u in users_info(devwiki, list(SEEDED)).items()} == (
        before_counts
    )
    assert edits() == before_edits


def test_api_requests_since(devwiki: DevWiki) -> None:
    offset = devwiki.log_size()
    assert devwiki.api_requests_since(offset) == 0
    for _ in range(3):
        api_get(devwiki, action="query", meta="siteinfo")
    requests.post(devwiki.api_url, data={"action": "query", "format": "json"}, timeout=30)
    requests.get(devwiki.index_url, params={"title": "Main_Page"}, timeout=30)
    requests.get(f"{devwiki.rest_url}/v1/page/Main_Page", timeout=30)
    # The server logs a request once it has answered it: wait for all six lines.
    wait_until(lambda: requests_logged_since(devwiki, offset) >= 6, 10, interval=0.05)
    assert devwiki.api_requests_since(offset) == 4
    assert devwiki.log_size() > offset


# ---------------------------------------------------------------------------- state and lifecycle


def test_state_file_and_load(devwiki: DevWiki) -> None:
    state_path = devwiki.root / "devwiki.json"
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600
    state = json.loads(state_path.read_text())
    assert state["port"] == devwiki.port
    assert isinstance(state["pid"], int)
    assert len(devwiki.admin_password) >= 16
    assert len(devwiki.bot_password) == 32
    assert re.fullmatch(f"[{BOT_PASSWORD_ALPHABET}]{{32}}", devwiki.bot_password)
    assert set(BOT_PASSWORD_ALPHABET) == set("0123456789abcdefghijklmnopqrstuvw")
    loaded = DevWiki.load(devwiki.root)
    assert (loaded.port, loaded.admin_password, loaded.bot_password) == (
        devwiki.port,
        devwiki.admin_password,
        devwiki.bot_password,
    )
    assert DevWiki.create(devwiki.root).bot_password == devwiki.bot_password
    assert loaded.running()
    assert devwiki.server == f"http://127.0.0.1:{devwiki.port}"
    assert devwiki.api_url == devwiki.server + "/api.php"
    assert devwiki.log_path == devwiki.root / "server.log"
    assert (devwiki.root / "data" / "devwiki.sqlite").exists()


def test_start_is_a_noop_when_running(devwiki: DevWiki) -> None:
    pid = json.loads((devwiki.root / "devwiki.json").read_text())["pid"]
    devwiki.start()
    assert json.loads((devwiki.root / "devwiki.json").read_text())["pid"] == pid


def test_load_without_a_wiki_raises(tmp_path: Path) -> None:
    with pytest.raises(DevWikiError, match="no dev wiki"):
        DevWiki.load(tmp_path)


def test_maintenance_failure_raises_with_stderr(devwiki: DevWiki) -> None:
    with pytest.raises(DevWikiError, match="Page does not exist"):
        devwiki.run_maintenance("edit.php", "--nocreate", "No such page here", stdin="x")


def test_stop_and_restart(tmp_path: Path) -> None:
    require_mediawiki()
    wiki = DevWiki.create(tmp_path / "wiki")
    try:
        assert not wiki.running()
        wiki.stop()  # no-op when not running
        wiki.start()  # how long that takes: bench/bench_devwiki.py
        assert wiki.running()
        assert port_accepts(wiki.port)
        assert php_processes_mentioning(wiki.port), "expected the server and its workers"

        wiki.stop()
        assert not wiki.running()
        assert not port_accepts(wiki.port)
        assert php_processes_mentioning(wiki.port) == []
        assert json.loads((wiki.root / "devwiki.json").read_text())["pid"] is None

        # A fresh handle (as the CLI would have) can start and stop it again.
        again = DevWiki.load(wiki.root)
        again.start()
        assert again.running()
        api_get(again, action="query", meta="siteinfo")

        # devwiki.json lost the pid: start() adopts the server, stop() still finds it.
        state_path = wiki.root / "devwiki.json"
        state = json.loads(state_path.read_text())
        pid = state["pid"]
        state_path.write_text(json.dumps(state | {"pid": None}))
        assert not again.running()
        again.start()
        assert json.loads(state_path.read_text())["pid"] == pid
        state_path.write_text(json.dumps(state | {"pid": None}))
        DevWiki.load(wiki.root).stop()
        assert php_processes_mentioning(wiki.port) == []
        assert not port_accepts(wiki.port)
    finally:
        wiki.stop()


def test_start_on_a_busy_port_raises(tmp_path: Path) -> None:
    require_mediawiki()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        wiki = DevWiki.create(tmp_path / "wiki", port=port)
        try:
            with pytest.raises(DevWikiError, match=f"port {port} .*already in use"):
                wiki.start(timeout=5)
            assert not wiki.running()
        finally:
            wiki.stop()


def test_a_running_wiki_is_not_copied(devwiki: DevWiki, tmp_path: Path) -> None:
    # The session's wiki is itself a copy of the run's one build, serving on its own port.
    with pytest.raises(DevWikiError, match="running"):
        DevWiki.copy(devwiki.root, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
