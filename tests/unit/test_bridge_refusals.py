"""One handler for every refusal (bridge/refusals.py): a refused form is flashed in the
reader's language on the page the view names, never one a Referer names; a refusal met
on a GET is the error page with 404 (what does not exist), 403 (not the reader's to do)
or 400; the store failing stays the server's page, a busy store a 503 to try again."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask import Flask

from bridge import refusals
from membership.store import Store
from membership.storefaults import StoreBusy, StoreError
from policies.errors import Conflict, NotAllowed, NotFound, Refusal
from policies.words import Words

TOOL = "mytool"
ALERT = re.compile(r'role="alert">\s*<div class="cdx-message__content">(.*?)</div>', re.DOTALL)


@pytest.fixture
def tool(store: Store) -> str:
    """Alice maintains mytool; Bob is a member."""
    store.record_account("alice", "person", "Alice", 2000)
    store.record_account("bob", "person", "Bob", 2001)
    store.record_account(TOOL, "tool", TOOL, 3000)
    store.set_tool_maintainers(TOOL, ["Alice"], "test")
    return TOOL


@pytest.fixture
def refusing_app(app: Flask) -> Flask:
    """The app with pages that refuse in each way, and a form whose view names no page."""
    said = Words("There is nothing here.", "ats-tool-unknown", tool="sometool")

    @app.get("/refused/<kind>")
    def refused_get(kind: str) -> str:
        raise {"found": NotFound, "allowed": NotAllowed, "conflict": Conflict}.get(kind, Refusal)(
            said
        )

    @app.post("/refused/form")
    def refused_form() -> str:
        raise Refusal(said)

    @app.get("/refused/store/<how>")
    def refused_store(how: str) -> str:
        if how == "busy":
            raise StoreBusy("the store /srv/ats/store.sqlite is locked by another process")
        raise StoreError("the disk holding the store /srv/ats/store.sqlite is full")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as served: a fault is a page
    return app


def _token(client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _alerts(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in ALERT.findall(html)]


def test_a_refused_form_is_flashed_on_the_page_the_view_names(client_as, store, tool) -> None:
    alice = client_as("Alice")
    alice.get("/language?language=de")
    response = alice.post(
        f"/tool/{TOOL}/add",
        data={"csrf_token": _token(alice, f"/tool/{TOOL}"), "username": "Alice"},
        headers={"Referer": "https://evil.example/phish"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/tool/{TOOL}"  # the view's page, not the Referer
    page = alice.get(f"/tool/{TOOL}")
    assert _alerts(page) == ["Alice ist bereits Maintainer von mytool."]
    assert store.tool_maintainers_set(TOOL) == ("Alice",)


def test_a_form_whose_view_names_no_page_goes_back_to_the_start(
    refusing_app: Flask, client_as
) -> None:
    visitor = client_as("Alice")
    response = visitor.post(
        "/refused/form",
        data={"csrf_token": _token(visitor, "/me")},
        headers={"Referer": "https://evil.example/phish"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert _alerts(visitor.get("/?uselang=qqx")) == ["(ats-tool-unknown: tool='sometool')"]


def test_a_refusal_inside_an_admins_transaction_rolls_it_back(client_as, store) -> None:
    store.record_account("example", "person", "Example", 2000)
    admin = client_as("Admin One")
    page = "/admin/member/Example"
    response = admin.post(
        f"{page}/suspension?uselang=qqx",
        data={"csrf_token": _token(admin, page), "action": "restore"},
    )
    assert response.status_code == 302 and response.headers["Location"] == page
    assert _alerts(admin.get(f"{page}?uselang=qqx")) == [
        "(ats-suspension-not-suspended: username='Example')"
    ]
    assert store.member_jobs("Example") == []
    assert [e.action for e in store.audit_log() if e.action.startswith("admin-")] == []


def test_what_does_not_exist_is_a_404_page_in_the_readers_language(client_as, tool) -> None:
    response = client_as("Alice").get("/tool/nosuchtool?uselang=de")
    assert response.status_code == 404
    assert "<h1>Seite nicht gefunden</h1>" in response.get_data(as_text=True)
    assert _alerts(response) == ["Es gibt kein Tool namens nosuchtool."]


def test_what_is_not_the_readers_to_do_is_a_403_page(client_as, tool) -> None:
    response = client_as("Bob").get(f"/tool/{TOOL}?uselang=qqx")
    assert response.status_code == 403
    assert _alerts(response) == ["(ats-tool-not-maintainer: tool='mytool')"]


@pytest.mark.parametrize(
    ("kind", "status"), [("found", 404), ("allowed", 403), ("conflict", 409), ("other", 400)]
)
def test_each_kind_of_refusal_has_its_status(refusing_app: Flask, kind, status) -> None:
    response = refusing_app.test_client().get(f"/refused/{kind}?uselang=qqx")
    assert response.status_code == status
    assert _alerts(response) == ["(ats-tool-unknown: tool='sometool')"]


def test_a_busy_store_is_still_a_503_saying_try_again(refusing_app: Flask) -> None:
    response = refusing_app.test_client().get("/refused/store/busy")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "<h1>The bridge is busy</h1>" in page
    assert "/srv/ats" not in page and "locked" not in page


def test_a_failing_store_is_the_servers_error_not_the_readers(refusing_app: Flask) -> None:
    response = refusing_app.test_client().get("/refused/store/full")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "/srv/ats" not in page and "disk" not in page


def test_a_busy_store_inside_a_framed_form_stays_a_busy_store(app: Flask) -> None:
    @app.get("/refused/framed")
    def framed_busy() -> str:
        with refusals.framed("ats-bridge-flash-not-recorded"):
            raise StoreBusy("the store /srv/ats/store.sqlite is locked by another process")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/refused/framed")
    assert response.status_code == 503 and "/srv/ats" not in response.get_data(as_text=True)
