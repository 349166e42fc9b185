"""A tool's page on the bridge (/tool/NAME): a maintainer adds and removes co-maintainers;
every refusal is one clear line in the reader's language and changes nothing; each change
is one transaction with its audit entry and one job; the admins see the history. The
page also tells where the tool runs: its address and web service behind the front door,
and its jobs, in Toolforge's words; and its databases, as last measured, to its maintainers
and the admins."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from ats.commands.bridge import bridge_settings
from ats.config import load_config
from bridge import create_app, runs
from bridge.i18n import I18N_DIR
from bridge.settings import BridgeConfigError, BridgeSettings
from bridge.testing import log_in
from membership import maintainers
from membership.records import DatabaseUsage
from membership.store import Store
from provisioning.worker import Outcome, outcome_line
from tests.builders import add_request

TOOL = "mytool"


@pytest.fixture
def tool(store: Store) -> str:
    """Alice maintains mytool; Bob, Carol (suspended) and Dave (flagged) are members."""
    for uid, (owner, name) in enumerate(
        [("Alice", "alice"), ("Bob", "bob"), ("Carol", "carol"), ("Dave", "dave")], start=2000
    ):
        store.record_account(name, "person", owner, uid)
    store.set_account_suspended("carol", "membership lapsed")
    store.write_standing(
        "Dave",
        "flagged",
        "[]",
        flagged_since="2026-11-01T00:00:00Z",
        last_checked="2026-11-01T00:00:00Z",
        cleared_at=None,
    )
    store.record_account(TOOL, "tool", TOOL, 3000)
    store.set_tool_maintainers(TOOL, ["Alice"], "test")
    return TOOL


def _csrf(client, path: str = f"/tool/{TOOL}") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _post(client, action: str, username: str, token: str | None = None, **headers: str) -> str:
    response = client.post(
        f"/tool/{TOOL}/{action}",
        data={"csrf_token": token or _csrf(client), "username": username},
        headers=headers,
        follow_redirects=True,
    )
    assert response.status_code == 200, response.status_code
    return unescape(response.get_data(as_text=True))


def _jobs(store: Store) -> list:
    return store.member_jobs("tools." + TOOL)


def _changes(store: Store) -> list:
    return [e for e in store.audit_log() if e.action.startswith("tool-maintainer-")]


def test_a_maintainer_adds_and_removes_a_co_maintainer(client_as, store, tool) -> None:
    alice = client_as("Alice")
    me = unescape(alice.get("/me").get_data(as_text=True))
    assert "Your tools" in me and f'href="/tool/{TOOL}"' in me and "maintainers: Alice" in me

    page = _post(alice, "add", "bob")  # the wiki's form of the name is kept
    assert "Bob is now a maintainer of mytool and can become it within a minute." in page
    assert "The latest change is on its way to the login hosts." in page
    assert store.tool_maintainers_set(TOOL) == ("Alice", "Bob")
    [change] = _changes(store)
    assert change.actor == "Alice" and change.action == "tool-maintainer-added"
    assert change.evidence["tool"] == TOOL and change.evidence["whom"] == "Bob"
    [job] = _jobs(store)
    assert job.kind == "maintainers" and job.state == "queued" and job.payload == {"tool": TOOL}
    assert change.evidence["job"] == job.id
    # Bob sees the tool on his page, and may change it too.
    assert "maintainers: Alice, Bob" in unescape(client_as("Bob").get("/me").get_data(True))

    page = _post(alice, "remove", "Bob")
    assert "Bob is no longer a maintainer of mytool." in page
    assert store.tool_maintainers_set(TOOL) == ("Alice",)
    assert [c.action for c in _changes(store)] == [
        "tool-maintainer-added",
        "tool-maintainer-removed",
    ]
    assert len(_jobs(store)) == 1  # the tool's one job, queued again


def test_removing_oneself_while_another_remains(client_as, store, tool) -> None:
    alice = client_as("Alice")
    _post(alice, "add", "Bob")
    page = _post(alice, "remove", "Alice")
    assert "Alice is no longer a maintainer of mytool." in page
    assert store.tool_maintainers_set(TOOL) == ("Bob",)
    # No longer hers: the page answers 403, and her forms are refused the same way.
    assert alice.get(f"/tool/{TOOL}").status_code == 403


def test_the_last_maintainer_who_can_become_the_tool_cannot_leave(client_as, store, tool):
    store.set_tool_maintainers(TOOL, ["Alice", "Carol"], "test")  # Carol is suspended
    alice = client_as("Alice")
    page = _post(alice, "remove", "Alice")
    said = "mytool needs at least one maintainer in good standing: add a member in good"
    assert said in page
    assert store.tool_maintainers_set(TOOL) == ("Alice", "Carol")
    assert _changes(store) == [] and _jobs(store) == []
    # A maintainer named on a request who never got a shell account cannot become it either.
    store.set_tool_maintainers(TOOL, ["Alice", "Nobody"], "test")
    assert said in _post(alice, "remove", "Alice")
    # Removing the suspended one leaves Alice, who can.
    store.set_tool_maintainers(TOOL, ["Alice", "Carol"], "test")
    _post(alice, "remove", "Carol")
    assert store.tool_maintainers_set(TOOL) == ("Alice",)


def test_a_flagged_maintainer_does_not_count_as_one_in_good_standing(
    client_as, store, tool
) -> None:
    store.set_tool_maintainers(TOOL, ["Alice", "Dave"], "test")  # Dave is flagged
    page = _post(client_as("Alice"), "remove", "Alice")
    assert "mytool needs at least one maintainer in good standing" in page
    assert store.tool_maintainers_set(TOOL) == ("Alice", "Dave")


def test_repeating_a_change_queues_nothing_and_changes_nothing(client_as, store, tool) -> None:
    alice = client_as("Alice")
    token = _csrf(alice)  # two tabs opened before either was sent
    _post(alice, "add", "Bob", token)
    [job] = _jobs(store)
    page = _post(alice, "add", "Bob", token)
    assert "Bob is already a maintainer of mytool." in page
    assert len(_changes(store)) == 1
    assert _jobs(store) == [job]  # not even refreshed
    _post(alice, "remove", "Bob", token)
    [job] = _jobs(store)
    page = _post(alice, "remove", "Bob", token)  # a stale form: someone removed him already
    assert "Bob is not a maintainer of mytool (someone may have removed them already)." in page
    assert len(_changes(store)) == 2 and _jobs(store) == [job]


@pytest.mark.parametrize(
    ("action", "username", "said"),
    [
        ("add", "Nobody", "Nobody is not a member: only a wiki user who holds a shell account"),
        ("add", "Carol", "The account of Carol is suspended: only a member in good standing"),
        ("add", "Dave", "Dave is not in good standing (a lock or block is with the admins)"),
        ("add", "Alice", "Alice is already a maintainer of mytool."),
        ("add", "Bad|name", "Bad|name is not a member"),
        ("add", "  ", "Type the wiki username of the member."),
        ("remove", "Alice", "mytool needs at least one maintainer: add another before you"),
        ("remove", "Bob", "Bob is not a maintainer of mytool"),
    ],
)
def test_refusals_say_why_and_change_nothing(client_as, store, tool, action, username, said):
    page = _post(client_as("Alice"), action, username)
    alert = page.split('role="alert"', 1)[1].split('content">', 1)[1].split("</div>", 1)[0]
    assert said in alert and alert.count("\n") == 0  # one line
    assert "Traceback" not in page
    assert store.tool_maintainers_set(TOOL) == ("Alice",)
    assert _changes(store) == [] and _jobs(store) == []


def test_a_refusal_is_in_the_readers_language(client_as, store, tool) -> None:
    page = _post(client_as("Alice"), "add", "Carol", **{"Accept-Language": "de"})
    assert "Das Konto von Carol ist gesperrt" in page
    page = _post(client_as("Alice"), "remove", "Alice", **{"Accept-Language": "fr"})
    assert "mytool a besoin d'au moins un mainteneur" in page


def test_someone_else_is_refused_with_403(client_as, store, tool) -> None:
    bob = client_as("Bob")
    assert bob.get(f"/tool/{TOOL}").status_code == 403
    token = _csrf(bob, "/me")
    response = bob.post(f"/tool/{TOOL}/add", data={"csrf_token": token, "username": "Bob"})
    assert response.status_code == 403
    assert "Only the maintainers of mytool can change its maintainers." in unescape(
        response.get_data(as_text=True)
    )
    # An admin who does not maintain it sees it, but may not change it.
    admin = client_as("Admin One")
    assert admin.get(f"/tool/{TOOL}").status_code == 200
    response = admin.post(f"/tool/{TOOL}/add", data={"csrf_token": _csrf(admin), "username": "Bob"})
    assert response.status_code == 403
    assert store.tool_maintainers_set(TOOL) == ("Alice",) and _jobs(store) == []


def test_an_unknown_tool_is_404(client_as, store, tool) -> None:
    alice = client_as("Alice")
    assert alice.get("/tool/nosuchtool").status_code == 404
    token = _csrf(alice)
    response = alice.post("/tool/nosuchtool/add", data={"csrf_token": token, "username": "Bob"})
    assert response.status_code == 404
    assert "There is no tool named nosuchtool." in response.get_data(as_text=True)
    page = alice.get("/tool/%3Cimg%20src=x%20onerror=alert(1)%3E").get_data(as_text=True)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_forged_or_stale_form_is_refused(client_as, store, tool) -> None:
    alice = client_as("Alice")
    response = alice.post(f"/tool/{TOOL}/add", data={"username": "Bob"})
    assert response.status_code == 400
    response = alice.post(f"/tool/{TOOL}/add", data={"csrf_token": "forged", "username": "Bob"})
    assert response.status_code == 400
    # A token from a session that has ended (logged out since) is refused as well.
    old = _csrf(alice)
    alice.post("/logout", data={"csrf_token": old})
    alice = client_as("Alice")
    response = alice.post(f"/tool/{TOOL}/add", data={"csrf_token": old, "username": "Bob"})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert store.tool_maintainers_set(TOOL) == ("Alice",) and _jobs(store) == []


def test_admins_see_the_changes_in_the_tools_history(client_as, store, tool) -> None:
    alice = client_as("Alice")
    _post(alice, "add", "Bob")
    _post(alice, "remove", "Bob")
    page = unescape(client_as("Admin One").get(f"/tool/{TOOL}").get_data(as_text=True))
    history = page.split('id="history"', 1)[1]
    assert ": Alice added Bob as a maintainer." in history
    assert ": Alice removed Bob from the maintainers." in history
    assert history.index("added Bob") < history.index("removed Bob")
    assert 'action="/tool/mytool/add"' not in page  # the admin reads; maintainers change
    # Dated in the reader's words, as every date on the bridge ("30 November 2026, 11:44 UTC").
    assert re.search(r"<li>\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} UTC: Alice added Bob", history)
    german = client_as("Admin One").get(f"/tool/{TOOL}?uselang=de").get_data(as_text=True)
    months = "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
    assert re.search(rf"\d{{1,2}}\. ({months}) \d{{4}}", unescape(german).split('id="history"')[1])


def test_a_tool_made_by_a_request_takes_its_maintainers_from_it(client_as, store) -> None:
    """A tool whose maintainers were never set directly: the first change starts from the
    maintainers of its request."""
    for uid, (owner, name) in enumerate([("Alice", "alice"), ("Bob", "bob")], start=2000):
        store.record_account(name, "person", owner, uid)
    add_request(store, "Alice", type="tool", state="done", fields={"tool": TOOL})
    store.record_account(TOOL, "tool", TOOL, 3000)
    assert maintainers.maintainers_of(store, TOOL) == ("Alice",)
    _post(client_as("Alice"), "add", "Bob")
    assert store.tool_maintainers_set(TOOL) == ("Alice", "Bob")


def test_a_change_that_cannot_reach_the_login_hosts_is_said_plainly(client_as, store, tool):
    alice = client_as("Alice")
    _post(alice, "add", "Bob")
    job = store.lease_job("worker")
    assert job is not None and job.member == "tools." + TOOL
    store.fail_job(job.id, "worker", "ldap: no such object", retry=True)
    page = unescape(alice.get(f"/tool/{TOOL}").get_data(as_text=True))
    assert "has not reached the login hosts yet; it is being tried again" in page
    assert "no such object" not in page  # the technical error is the admins'
    job = store.lease_job("worker", datetime.now(UTC) + timedelta(hours=1))
    assert job is not None
    store.fail_job(job.id, "worker", "ldap: no such object", retry=False)
    page = unescape(alice.get(f"/tool/{TOOL}").get_data(as_text=True))
    assert "The latest change could not reach the login hosts" in page


def test_a_suspended_maintainer_changes_nothing(client_as, store, tool) -> None:
    store.set_tool_maintainers(TOOL, ["Alice", "Carol"], "test")
    carol = client_as("Carol")
    token = _csrf(carol)
    response = carol.post(f"/tool/{TOOL}/add", data={"csrf_token": token, "username": "Bob"})
    assert response.status_code == 403
    said = "Your account is suspended: you cannot change the maintainers of mytool"
    assert said in unescape(response.get_data(as_text=True))
    assert store.tool_maintainers_set(TOOL) == ("Alice", "Carol") and _jobs(store) == []


def test_two_tabs_adding_the_same_person_at_once_make_one_change(store, store_path, tool):
    """Two requests at the same moment, each on its own connection, as two bridge
    workers would serve them: one change, one audit entry, one job; the other refused."""
    start = threading.Barrier(2)
    results: list[object] = []

    def tab() -> None:
        own = Store(store_path)
        start.wait()
        try:
            results.append(maintainers.add(own, TOOL, "Alice", "Bob"))
        except maintainers.MaintainerError as error:
            results.append(error.words.key if error.words else str(error))
        finally:
            own.close()

    tabs = [threading.Thread(target=tab) for _ in range(2)]
    for thread in tabs:
        thread.start()
    for thread in tabs:
        thread.join()
    assert sorted(type(r).__name__ for r in results) == ["Change", "str"]
    assert "ats-tool-already" in results
    assert store.tool_maintainers_set(TOOL) == ("Alice", "Bob")
    assert len(_changes(store)) == 1 and len(_jobs(store)) == 1


def test_a_failing_maintainers_job_on_the_admins_desk_leads_to_the_tool(
    client_as, store, tool
) -> None:
    _post(client_as("Alice"), "add", "Bob")
    job = store.lease_job("worker")
    assert job is not None
    failed = store.fail_job(job.id, "worker", "ldap: no such object", retry=False)
    assert failed is not None
    desk = client_as("Admin One").get("/admin").get_data(as_text=True)
    assert f'<a href="/tool/{TOOL}">tools.{TOOL}</a>' in desk and "no such object" in desk
    # On the tool's page the admins read the worker's words; its maintainers do not.
    tool_page = client_as("Admin One").get(f"/tool/{TOOL}").get_data(as_text=True)
    assert 'id="job-error"' in tool_page and "ldap: no such object" in tool_page
    mine = client_as("Alice").get(f"/tool/{TOOL}").get_data(as_text=True)
    assert "no such object" not in mine and "could not reach the login hosts" in mine
    line = outcome_line(Outcome(failed, False, error="ldap: no such object"))
    assert line.startswith(f"job {job.id} maintainers for tool {TOOL}: failed: ldap: no such")


def test_a_typed_name_is_shown_as_text(client_as, store, tool) -> None:
    alice = client_as("Alice")
    response = alice.post(
        f"/tool/{TOOL}/add",
        data={"csrf_token": _csrf(alice), "username": "<img src=x onerror=alert(1)>"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt; is not a member" in page


def test_the_members_history_on_the_desk_tells_their_maintainer_changes(client_as, tool) -> None:
    alice = client_as("Alice")
    _post(alice, "add", "Bob")
    _post(alice, "remove", "Bob")
    admin = client_as("Admin One")
    page = unescape(admin.get("/admin/member/Alice").get_data(as_text=True))
    assert f"added Bob as a maintainer of the tool {TOOL}" in page
    assert f"removed Bob from the maintainers of the tool {TOOL}" in page
    assert "recorded: tool-maintainer" not in page
    german = unescape(admin.get("/admin/member/Alice?uselang=de").get_data(as_text=True))
    assert f"hat Bob als Betreuer des Werkzeugs {TOOL} hinzugefügt" in german


# -- where the tool runs -------------------------------------------------------------------

WEB_URL = "https://{tool}.tools.example.org/"


@pytest.fixture
def door_as(app_settings):
    """`client_as` on a bridge whose chapter runs a front door (`[web] domain`)."""
    app = create_app({**app_settings, "web_url": WEB_URL})

    def logged_in(username: str) -> object:
        visitor = app.test_client()
        log_in(app, visitor, username)
        return visitor

    return logged_in


def _job(store: Store, name: str, state: str = "waiting", status: str | None = None, **spec):
    """The tool's job `name` as `toolforge jobs` defines it, as the controller left it."""
    definition = {"name": name, "command": "./run.sh", "image": "python3.11", **spec}
    store.put_tool_job(TOOL, name, json.dumps(definition))
    if status is not None or state != "waiting":
        assert store.update_tool_job(TOOL, name, 1, {"state": state, "status": status})


def _runs(visitor, query: str = "") -> str:
    response = visitor.get(f"/tool/{TOOL}{query}")
    assert response.status_code == 200
    page = unescape(response.get_data(as_text=True))
    return page.split('<section id="runs">', 1)[1].split("</section>", 1)[0]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_the_tool_page_gives_its_address_and_its_running_web_service(door_as, store, tool):
    _job(store, "webservice", "running", "Running", continuous=True)
    runs = _runs(door_as("Alice"))
    link = '<a href="https://mytool.tools.example.org/" dir="ltr">'
    assert link + "https://mytool.tools.example.org/</a>" in runs
    assert "Web address:" in _text(runs)
    assert "Its web service is running." in _text(runs)
    assert "webservice start" not in runs and "has stopped" not in runs


@pytest.mark.parametrize(
    ("state", "status", "said"),
    [
        ("running", "Pending", "Its web service is starting; the status of its job webservice:"),
        ("backoff", "Restarting", "Its web service is starting;"),
        ("failed", "Failed", "Its web service has stopped; the status of its job webservice:"),
        ("done", "Completed", "Its web service has stopped;"),
        ("stopped", "Stopped", "Its web service has stopped;"),
    ],
)
def test_a_web_service_on_its_way_or_ended_says_so_with_its_status(
    door_as, store, tool, state, status, said
) -> None:
    _job(store, "webservice", state, status, continuous=True)
    runs = _runs(door_as("Alice"))
    assert said in _text(runs)
    # The controller's words stay Toolforge's English, marked so in any page's language.
    assert f'<code lang="en" dir="ltr">{status}</code></p>' in runs
    restart = "To start it again, use become mytool on a login host, then toolforge webservice"
    assert (restart in _text(runs)) == (state in ("failed", "done", "stopped"))
    assert "is running" not in runs


def test_a_web_service_the_controller_has_not_seen_yet_is_starting(door_as, store, tool):
    _job(store, "webservice", continuous=True)
    runs = _text(_runs(door_as("Alice")))
    assert "Its web service is starting; the status of its job webservice: not checked" in runs


def test_no_web_service_says_how_to_start_one(door_as, store, tool) -> None:
    _job(store, "webapp", "running", "Running", continuous=True)  # another name: not it
    runs = _text(_runs(door_as("Alice")))
    assert "Its web service is not running. To start it, use become mytool on a login" in runs
    assert "then toolforge webservice start." in runs
    assert "https://mytool.tools.example.org/" in runs


def test_without_a_front_door_there_is_no_address_nor_web_service(client_as, store, tool):
    _job(store, "webservice", "running", "Running", continuous=True)
    runs = _runs(client_as("Alice"))
    assert "https://" not in runs and "Web address" not in runs
    assert "web service" not in _text(runs)
    assert '<th scope="row"><code>webservice</code></th>' in runs  # still one of its jobs


def test_the_jobs_table_tells_each_type_and_status(client_as, store, tool) -> None:
    _job(store, "update-index", "waiting", "Waiting for scheduled time", schedule="17 * * * *")
    _job(store, "bot", "running", "Running", continuous=True)
    _job(store, "import", "done", "Completed")
    _job(store, "retried", "backoff", "Retrying (1 of 3)", retry=3)
    _job(store, "fresh", schedule="@daily")
    runs = _runs(client_as("Alice"))
    assert "<caption>Jobs</caption>" in runs
    heads = re.findall(r'<th scope="col">([^<]*)</th>', runs)
    assert heads == ["Name", "Type", "Status"]
    rows = [
        re.findall(r">([^<>]+)</code>|>(not checked yet)<", row)
        for row in runs.split("<tbody>", 1)[1].split("</tr>")[:-1]
    ]
    assert [[a or b for a, b in row] for row in rows] == [
        ["bot", "continuous", "Running"],
        ["fresh", "schedule: @daily", "not checked yet"],
        ["import", "normal", "Completed"],
        ["retried", "normal", "Retrying (1 of 3)"],
        ["update-index", "schedule: 17 * * * *", "Waiting for scheduled time"],
    ]
    assert runs.count('<code lang="en" dir="ltr">') == 5 + 4  # every type, each status seen
    assert "toolforge jobs list" in runs and "no jobs yet" not in runs
    # A wide table scrolls in its own wrapper, as the bridge's other tables do.
    assert '<div class="cdx-table ats-table-scroll"><div class="cdx-table__table-wrapper"' in runs


def test_a_tool_without_jobs_says_how_to_run_one(door_as, store, tool) -> None:
    runs = _text(_runs(door_as("Alice")))
    assert "The tool has no jobs yet. To run one, use become mytool on a login host, then" in runs
    assert "toolforge jobs run (its --help tells how)." in runs
    assert "<table" not in runs


def test_a_job_name_is_shown_as_text(client_as, store, tool) -> None:
    # The runtime refuses such a name; the page must not trust that it did.
    store.put_tool_job(TOOL, "<b>x</b>", '{"name": "<b>x</b>", "schedule": "<i>"}')
    html = client_as("Alice").get(f"/tool/{TOOL}").get_data(as_text=True)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "schedule: &lt;i&gt;" in html


def test_only_maintainers_and_admins_see_where_it_runs(door_as, store, tool) -> None:
    _job(store, "webservice", "running", "Running", continuous=True)
    _job(store, "secret-job", "running", "Running", continuous=True)
    refused = door_as("Bob").get(f"/tool/{TOOL}")
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert 'id="runs"' not in html and "secret-job" not in html and "example.org" not in html
    admin = _text(_runs(door_as("Admin One")))
    assert "Its web service is running." in admin and "secret-job" in admin


@pytest.mark.parametrize("language", ["de", "fr", "es", "he"])
@pytest.mark.parametrize(
    ("state", "status"), [("running", "Running"), ("failed", "Failed"), (None, None)]
)
def test_where_it_runs_is_told_in_every_language(door_as, store, tool, language, state, status):
    if state is not None:
        _job(store, "webservice", state, status, continuous=True)
    _job(store, "cron", schedule="0 3 * * *")
    html = door_as("Alice").get(f"/tool/{TOOL}?uselang={language}").get_data(as_text=True)
    assert f'<html lang="{language}"' in html
    runs = html.split('<section id="runs">', 1)[1].split("</section>", 1)[0]
    assert 'lang="en"' not in runs.replace('<code lang="en" dir="ltr">', "")  # no fallback
    english = json.loads((I18N_DIR / "en.json").read_text("utf-8"))
    for key in ("ats-bridge-tool-runs", "ats-bridge-tool-runs-jobs-help"):
        assert english[key] not in unescape(runs)


def test_qqx_names_the_keys_of_where_it_runs(door_as, store, tool) -> None:
    _job(store, "webservice", "failed", "Failed", continuous=True)
    _job(store, "bot", continuous=True)
    runs = _runs(door_as("Alice"), "?uselang=qqx")
    for key in (
        "runs",
        "runs-address",
        "runs-web-stopped",
        "runs-web-restart: tool='mytool'",
        "runs-jobs",
        "runs-col-name",
        "runs-col-type",
        "runs-col-status",
        "runs-status-unseen",
        "runs-jobs-help",
    ):
        assert f"(ats-bridge-tool-{key})" in runs, key


def test_the_pure_reading_of_the_jobs() -> None:
    assert runs.job_type('{"continuous": true}') == "continuous"
    assert runs.job_type('{"schedule": "@hourly", "continuous": false}') == "schedule: @hourly"
    assert runs.job_type('{"schedule": null}') == "normal"
    assert runs.job_type("not json") == runs.job_type("[1]") == ""
    assert runs.tool_url(WEB_URL, "x") == "https://x.tools.example.org/"
    assert runs.tool_url("", "x") == ""
    assert runs.web_state(None) == "absent"


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        ("", ""),
        ('[web]\ndomain = "tools.example.org"\n', "https://{tool}.tools.example.org/"),
        ('[web]\ndomain = "t.example"\nhttps_port = 8443\n', "https://{tool}.t.example:8443/"),
    ],
)
def test_the_bridge_takes_the_tools_address_from_the_web_settings(
    tmp_path, app_settings, web, expected
) -> None:
    path = tmp_path / "ats.toml"
    path.write_text(
        '[wiki]\napi = "http://127.0.0.1:8080/w/api.php"\nrequest_page = "Requests"\n'
        f'[bot]\nusername = "ClerkBot@clerk"\n{web}',
        encoding="utf-8",
    )
    values = bridge_settings(load_config(path))
    assert values["web_url"] == expected
    assert BridgeSettings.load({**app_settings, **values}).web_url == expected


def test_a_web_url_without_the_tools_place_is_refused(app_settings) -> None:
    for wrong in ("https://tools.example.org/", "tools.example.org/{tool}"):
        with pytest.raises(BridgeConfigError, match="give a tool's address with {tool}"):
            BridgeSettings.load({**app_settings, "web_url": wrong})


# -- its databases -------------------------------------------------------------------------

MB = 1024 * 1024


def _measured(store: Store, **changes) -> DatabaseUsage:
    """mytool's databases as the databases service recorded them (s3000, the tool's uid)."""
    usage = DatabaseUsage(
        user="s3000",
        kind="tool",
        name=TOOL,
        owner=TOOL,
        total=12 * MB + MB // 3,
        limit=100 * MB,
        over=False,
        over_since=None,
        crossings=0,
        observed_at="2026-11-30T11:44:00+00:00",
        databases=(("s3000__cache", 12 * MB), ("s3000__counts", MB // 3)),
    )
    usage = replace(usage, **changes)
    store.record_database_usage([usage])
    return usage


def _databases(visitor, query: str = "") -> str:
    response = visitor.get(f"/tool/{TOOL}{query}")
    assert response.status_code == 200
    page = unescape(response.get_data(as_text=True))
    return page.split('<section id="databases">', 1)[1].split("</section>", 1)[0]


def test_the_maintainers_and_the_admins_see_its_databases_and_their_sizes(client_as, store, tool):
    assert "have not been measured yet" in _text(_databases(client_as("Alice")))
    _measured(store)
    for who in ("Alice", "Admin One"):
        shown = _databases(client_as(who))
        assert "Its database user is s3000: the tool logs in with ~/replica.my.cnf" in _text(shown)
        assert (
            '<th scope="row"><code>s3000__cache</code></th><td class="ats-size">12.0 MB</td>'
            in shown
        )
        assert (
            '<th scope="row"><code>s3000__counts</code></th><td class="ats-size">0.3 MB</td>'
            in shown
        )
        assert 'All its databases</th><td class="ats-size">12.3 MB</td>' in shown
        assert "The chapter's limit for all of them together: 100.0 MB. Measured" in _text(shown)
        assert '<time datetime="2026-11-30T11:44:00Z"' in shown
        assert "ats-problem" not in shown
    # Anyone else sees nothing of them: the page is refused.
    refused = client_as("Bob").get(f"/tool/{TOOL}")
    assert refused.status_code == 403 and b"s3000" not in refused.get_data()


def test_databases_over_the_limit_say_since_when_and_what_to_do(client_as, store, tool):
    _measured(store, limit=10 * MB, over=True, over_since="2026-11-29T08:00:00+00:00")
    shown = _databases(client_as("Alice"))
    assert '<p class="ats-problem" id="databases-over">' in shown
    said = _text(shown)
    assert "Its databases hold more than the chapter's limit, since 29 November 2026" in said
    assert "please make them smaller" in said and "limit for all of them together: 10.0 MB" in said


def test_sizes_are_written_in_the_readers_language(client_as, store, tool):
    _measured(store, limit=0)
    german = _text(_databases(client_as("Alice"), "?uselang=de"))
    assert "12,3 MB" in german and "Das Chapter setzt ihrer Größe keine Grenze." in german
    assert "12,3 Mo" in _text(_databases(client_as("Alice"), "?uselang=fr"))
    _measured(store, total=0, databases=())
    none = _text(_databases(client_as("Alice")))
    assert "The tool has no databases yet." in none and "CREATE DATABASE s3000__data;" in none
