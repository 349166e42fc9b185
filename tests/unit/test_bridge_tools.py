"""A tool's page on the bridge (/tool/NAME): a maintainer adds and removes co-maintainers;
every refusal is one clear line in the reader's language and changes nothing; each change
is one transaction with its audit entry and one job; the admins see the history."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from membership import maintainers
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
