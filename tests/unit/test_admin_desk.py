"""The admins' desk as an admin reads it: each request linked to its section on the wiki
and each decision to its revision and diff, the request's history in order from the
audit log, and the same person's earlier declined requests with their reasons; and the
accounts whose databases are over the size limit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from databases import sizes
from databases.desired import Wanted
from membership import standing
from membership.standing import Finding
from membership.store import Store
from tests.builders import PAGE, add_request
from tests.conftest import UNREACHABLE_WIKI_API

INDEX = UNREACHABLE_WIKI_API.rsplit("/", 1)[0] + "/index.php"


class _Links(HTMLParser):
    """Every link's href and text, and the text of each history list's items."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.histories: list[list[str]] = []
        self._href: str | None = None
        self._text = ""
        self._item: list[str] | None = None
        self._in_history = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a":
            self._href, self._text = values.get("href") or "", ""
        if tag == "ol" and "ats-history__events" in (values.get("class") or ""):
            self.histories.append([])
            self._in_history = True
        if tag == "li" and self._in_history:
            self._item = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None
        if tag == "li" and self._item is not None:
            self.histories[-1].append(" ".join("".join(self._item).split()))
            self._item = None
        if tag == "ol":
            self._item, self._in_history = None, False

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data
        if self._item is not None:
            self._item.append(data)


@pytest.fixture
def desk(store: Store) -> Store:
    """Example's open request (filed, checked twice, moved on, put on hold on the wiki)
    and their earlier request, declined with a reason and archived."""
    old = add_request(store, key="Account request: Example", state="declined")
    store.update_request(
        old.id, archive_page=f"{PAGE}/Archive 2025", closed_at="2025-03-01T10:00:00+00:00"
    )
    store.add_decision(
        old.id,
        kind="decline",
        params={"1": "Not a Wikimedian yet"},
        wikitext="{{ATS decision|decline|Not a Wikimedian yet}}",
        ordinal=1,
        revid=7,
        actor="Admin Two",
        honoured=True,
        reason="declined",
    )
    new = add_request(
        store,
        key="Account request: Example #2",
        state="awaiting-approval",
        intro_revid=40,
    )
    store.audit("Example", "filed", new.id, revid=40, key=new.key)
    store.audit("ClerkBot", "evaluated:awaiting-requester", new.id)
    store.audit("ClerkBot", "said-progress", new.id)
    store.audit("ClerkBot", "evaluated:awaiting-requester", new.id)
    store.audit("Example", "terms-accepted", version="1")
    store.audit("Example", "gates-state", new.id, before="awaiting-requester", after="on-hold")
    store.audit("Admin Two", "decision:hold", new.id, revid=42)
    store.add_decision(
        new.id,
        kind="hold",
        params={"1": "Waiting for the sponsor"},
        wikitext="{{ATS decision|hold|Waiting for the sponsor}}",
        ordinal=1,
        revid=42,
        actor="Admin Two",
        honoured=True,
        reason="on-hold",
    )
    store.audit("Admin Two", "identification-attested", subject="Example", attestation_id=1)
    store.audit("Admin Two", "identification-attested", subject="Someone Else")
    return store


def test_the_queue_links_each_request_to_its_section_on_the_wiki(client_as, desk) -> None:
    page = _Links(client_as("Admin One").get("/admin?state=all").get_data(as_text=True))
    hrefs = [href for href, _ in page.links]
    # The second section under the same heading is `_2` on the wiki.
    assert f"{INDEX}?title=Toolserver/Requests#Account_request:_Example_2" in hrefs
    archived = f"{INDEX}?title=Toolserver/Requests/Archive_2025#Account_request:_Example"
    assert archived in hrefs
    assert (
        "/admin/member/Example#earlier",
        "one earlier request declined, withdrawn or expired",
    ) in page.links


def test_each_decision_links_to_its_revision_and_diff(client_as, desk) -> None:
    page = _Links(client_as("Admin One").get("/admin/member/Example").get_data(as_text=True))
    assert (f"{INDEX}?oldid=42", "revision") in page.links
    assert (f"{INDEX}?diff=42", "diff") in page.links
    assert (f"{INDEX}?oldid=40", "the edit that filed it") in page.links
    assert (f"{INDEX}?oldid=7", "revision") in page.links
    assert (f"{INDEX}?diff=7", "diff") in page.links


def test_the_requests_history_is_in_order_and_in_words(client_as, desk) -> None:
    page = _Links(client_as("Admin One").get("/admin/member/Example").get_data(as_text=True))
    current = page.histories[0]
    said = [re.sub(r"^.*? UTC — ", "", line).split(" (", 1)[0] for line in current]
    assert said == [
        "Example: filed the request",
        "ClerkBot: checked the request: Awaiting requester",  # the repeated check once
        "Example: the request moved on: On hold",
        "Admin Two: put the request on hold",
    ]
    assert all(re.match(r"^\d{1,2} \w+ \d{4}, \d\d:\d\d UTC — ", line) for line in current)
    # The member's own history: what they did and what admins recorded about them only.
    member = page.histories[-1]
    assert [line.split(" — ", 1)[1].split(" (", 1)[0] for line in member] == [
        "Example: accepted the terms of use",
        "Admin Two: recorded that they identified the member",
    ]


def test_the_same_persons_earlier_declined_request_is_listed_with_its_reason(
    client_as, desk
) -> None:
    html = client_as("Admin One").get("/admin/member/Example").get_data(as_text=True)
    earlier = html.split('id="earlier"', 1)[1]
    assert "Reason given: Not a Wikimedian yet" in earlier
    assert 'datetime="2025-03-01T10:00:00Z">1 March 2025, 10:00 UTC</time>' in earlier
    assert "Waiting for the sponsor" not in earlier  # the open request is above, not here


def test_the_desk_speaks_the_readers_language(client_as, desk) -> None:
    html = client_as("Admin One").get("/admin/member/Example?uselang=de").get_data(as_text=True)
    assert "Angegebener Grund: Not a Wikimedian yet" in html
    assert "hat den Antrag angehalten" in html
    assert "1. März 2025, 10:00 UTC" in html


def test_an_admins_actions_are_answered_in_their_language(client_as, store) -> None:
    add_request(store, state="awaiting-requester")
    admin = client_as("Admin One")
    admin.get("/language?language=fr")
    html = admin.get("/admin/member/Example").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    done = admin.post(
        "/admin/member/Example/identification",
        data={"csrf_token": token, "method": "appel vidéo"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Identification de Example enregistrée." in done
    refused = admin.post(
        "/admin/member/Example/payment",
        data={"csrf_token": token, "amount": "20", "currency": "USD", "paid_on": "later"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Indiquez un montant positif" in refused
    # The history now holds what was just recorded, in French.
    assert "a enregistré l'identification du membre" in refused


def test_the_charts_speak_the_readers_language(client_as, store) -> None:
    html = client_as("Admin One").get("/admin?uselang=es").get_data(as_text=True)
    assert "Saldo del fondo de exenciones (USD) al final de cada mes" in html
    assert "Waiver fund balance" not in html


def test_a_waiver_decision_is_answered_in_the_admins_language(client_as, store) -> None:
    add_request(store, state="awaiting-requester")
    waiver = store.request_waiver("Example", "between jobs")
    first, second = client_as("Admin One"), client_as("Admin Two")
    first.get("/language?language=de")
    second.get("/language?language=es")

    def decide(admin) -> str:
        html = admin.get("/admin/member/Example").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        return admin.post(
            f"/admin/waiver/{waiver.id}",
            data={"csrf_token": token, "action": "grant"},
            follow_redirects=True,
        ).get_data(as_text=True)

    assert "Gewährung festgehalten; ein zweiter Admin muss sie bestätigen." in decide(first)
    # The fund is empty: the confirmed waiver waits in line, said in Spanish with amounts.
    assert re.search(
        r"El fondo tiene 0\.00 USD, menos que la cuota \(\d+\.\d\d USD\); la exención está "
        r"concedida y espera en la cola",
        decide(second),
    )


def test_what_the_recheck_found_is_said_in_the_readers_language(client_as, store) -> None:
    add_request(store, state="awaiting-requester")
    standing.record(
        store,
        "Example",
        [
            Finding("locked"),
            Finding("blocked", wiki="dewiki", expiry="2027-01-15T08:00:00Z", reason="Vandalismus"),
            Finding("blocked", expiry="infinity"),
        ],
    )
    admin = client_as("Admin One")
    member = admin.get("/admin/member/Example?uselang=fr").get_data(as_text=True)
    assert "verrouillé (globalement)" in member
    assert (
        'bloqué sur dewiki jusqu\'au <time datetime="2027-01-15T08:00:00Z">15 janvier 2027, '
        "08:00 UTC</time> : Vandalismus"
    ) in member.replace("&#39;", "'")
    assert "bloqué sur le wiki indéfiniment : aucun motif donné" in member
    queue = admin.get("/admin?uselang=de").get_data(as_text=True)
    said = "(global) gesperrt; auf dem Wiki unbefristet gesperrt: kein Grund angegeben; auf dewiki"
    assert said in queue


def test_databases_over_the_limit_are_on_the_desk_in_the_history_and_in_the_metrics(
    client_as, store
) -> None:
    add_request(store, state="done")
    store.record_account("example", "person", "Example", 10001)
    store.record_account("mytool", "tool", "mytool", 51234)
    server = _Sizes({"u10001": {"u10001__big": 11 * MB}, "s51234": {"s51234__a": 12 * MB}})
    accounts = [
        Wanted("u10001", "person", "example", 10001, "/home/example", True, owner="Example"),
        Wanted("s51234", "tool", "mytool", 51234, "/data/project/mytool", True, owner="mytool"),
    ]
    sizes.measure(store, server, accounts, 10)
    admin = client_as("Admin One")
    queue = admin.get("/admin").get_data(as_text=True)
    part = queue.split('<h2 id="databases-over">', 1)[1].split("<h2", 1)[0]
    assert ("/tool/mytool", "mytool") in _Links(part).links
    assert ("/admin/member/Example", "Example") in _Links(part).links
    assert "<td><code>s51234</code></td>" in part and '<td class="ats-size">12.0 MB</td>' in part
    assert part.count('<td class="ats-size">10.0 MB</td>') == 2
    member = admin.get("/admin/member/Example").get_data(as_text=True)
    assert "their databases went over the size limit" in member
    scraped = admin.get("/metrics").get_data(as_text=True)
    assert "\nats_databases_over_limit 2.0\n" in scraped
    assert admin.get("/status.json").get_json()["health"]["databases_over_limit"] == 2
    server.found = {}
    sizes.measure(store, server, accounts, 10)
    assert "\nats_databases_over_limit 0.0\n" in admin.get("/metrics").get_data(as_text=True)
    queue = admin.get("/admin").get_data(as_text=True)
    assert "s51234" not in queue.split('<h2 id="databases-over">', 1)[1].split("<h2", 1)[0]


MB = 1024 * 1024


class _Sizes:
    def __init__(self, found: dict[str, dict[str, int]]) -> None:
        self.found = found

    def sizes(self) -> dict[str, dict[str, int]]:
        return self.found
