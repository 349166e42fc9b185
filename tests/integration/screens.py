"""Every screen of the bridge, for the browser tests of its layout and accessibility.

`ScreenSite` starts the real bridge (`ats bridge serve`, see bridge_server.py) on a store
seeded with one requester per step of the gates — nothing done, terms accepted, a key
added, a waiver asked, the fee paid, awaiting approval, done, not eligible, no request
at all — and signs each of them, and a chapter admin, in through the stand-in OAuth
provider once. The member who is done also maintains two tools (one with a
co-maintainer added and its job on the way, a web service that stopped and jobs of
every type, and databases over the size limit; one whose job failed, running nothing,
its databases not measured yet), their own databases are over the limit too, and they
have a long history: an earlier
request declined on the wiki, decisions with their revisions, and the steps the bot and
the admins recorded. `SCREENS` names every page in every state those people see. The
chapter runs a front door (`[web] domain`), so the tools' pages give their addresses.
The bridge never talks to the wiki itself (only to the OAuth provider), so no wiki is
started: the bot's part is the rows it would have written, added with
`tests.builders.add_request`.

`layout_problems` and `serious_violations` are the two checks made of every screen:
nothing wider than the window outside a scrolling wrapper, and no critical or serious
axe-core violation (axe-core as bundled by the `axe-playwright-python` package).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.sample import ADMIN
from membership import maintainers
from membership.records import DatabaseUsage, RequestRecord
from membership.store import Store
from policies.fees import load_fees
from policies.sshkeys import parse_public_key
from policies.terms import load_terms
from tests.builders import add_request, ssh_public_key
from tests.integration.bridge_server import BridgeServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "bridge" / "screens"


@contextmanager
def screenshot_kept(page: Any, name: str) -> Iterator[None]:
    """Keep the page as `ARTIFACTS/NAME.png` (full page) when a check inside fails — the
    picture of what failed — and, with ATS_SCREENSHOTS=1 in the environment, always (to
    look through every screen). Encoding a full-page PNG is most of a check's time."""
    failed = True
    try:
        yield
        failed = False
    finally:
        if failed or os.environ.get("ATS_SCREENSHOTS") == "1":
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# A long unbroken name and key comment: they must wrap, not widen the page.
LONG_NAME = "Wikimedianwithaverylongusernamethatneverbreaks"
CO_MAINTAINER = "Cocreatorwithaverylongusernamethatneverbreaks"
TOOL = "wikidata-reference-checker"  # a co-maintainer added: its job is queued
FAILED_TOOL = "refcheck-archive"  # its maintainers job failed
UNREACHABLE_WIKI = "http://127.0.0.1:9/w/api.php"  # nothing listens: the bridge never asks
# The front door the tools' pages link to (nothing answers there: the bridge never asks).
WEB_CONFIG = '[web]\ndomain = "tools.toolserver.example"\n'


@dataclass(frozen=True)
class Person:
    """A member in one state of the gates: who they are and what is recorded of them."""

    username: str
    central_id: int
    request_state: str | None = "awaiting-identity"
    terms: bool = False
    key: bool = False
    waiver: bool = False
    paid: bool = False
    identified: bool = False
    groups: tuple[str, ...] = ("*", "user")


PEOPLE = {
    "fresh": Person("Fresh Start", 11),
    "terms": Person("Terms Reader", 12, terms=True),
    "key": Person(LONG_NAME, 13, terms=True, key=True),
    "waiver": Person("Waiver Asker", 14, terms=True, key=True, waiver=True),
    "paid": Person("Fee Payer", 15, terms=True, key=True, paid=True),
    "approval": Person("Almost There", 16, terms=True, key=True, paid=True, identified=True),
    "done": Person(
        "Long Member", 17, request_state="done", terms=True, key=True, paid=True, identified=True
    ),
    "not-eligible": Person("Too New", 18, request_state="not-eligible"),
    "no-request": Person("Just Looking", 19, request_state=None),
    "admin": Person(ADMIN, 1, request_state=None, groups=("*", "user", "sysop")),
}


@dataclass(frozen=True)
class Screen:
    """One page as one person sees it (`who` None: anonymous), and its HTTP status.

    `shows` are CSS selectors the page must each match, so the state a screen is named after
    is really the one looked at; `refuse` is a name typed into the tool page's
    co-maintainer form and sent, the screen being the page the refusal lands on."""

    name: str
    path: str
    who: str | None = None
    status: int = 200
    shows: tuple[str, ...] = ()
    refuse: str = ""


SCREENS = [
    Screen("landing", "/"),
    Screen("status", "/status"),
    Screen("policies", "/policies"),
    *(Screen(f"policy-{n}", f"/policies/{n}") for n in ("privacy", "identification", "fees")),
    Screen("policy-terms", "/policies/terms"),
    Screen("not-found", "/no/such/page", status=404),
    *(
        Screen(f"me-{state}", "/me", who=state)
        for state in PEOPLE
        if state not in ("admin", "done")
    ),
    Screen("me-done", "/me", who="done", shows=(f'#tools a[href="/tool/{TOOL}"]',)),
    Screen("terms-to-accept", "/terms", who="fresh"),
    Screen("terms-accepted", "/terms", who="terms"),
    Screen("admin-refused", "/admin", who="fresh", status=403),
    Screen("admin-queue", "/admin", who="admin", shows=("#databases-over-list td",)),
    Screen("admin-queue-all", "/admin?state=all", who="admin"),
    Screen(
        "admin-queue-paged",
        "/admin?state=all&limit=3&page=2",
        who="admin",
        shows=("#queue-rows", ".ats-pager a[rel=prev]", ".ats-pager a[rel=next]"),
    ),
    *(
        Screen(f"admin-member-{state}", f"/admin/member/{PEOPLE[state].username}", who="admin")
        for state in ("fresh", "key", "waiver", "approval", "not-eligible")
    ),
    Screen(
        "admin-member-history",
        f"/admin/member/{PEOPLE['done'].username}",
        who="admin",
        shows=("#earlier .ats-decision-diff", ".ats-history[open] li", "#member-history li"),
    ),
    Screen("admin-member-unknown", "/admin/member/Nobody", who="admin", status=404),
    Screen("admin-fund", "/admin/fund", who="admin"),
    Screen(
        "tool-maintainer",
        f"/tool/{TOOL}",
        who="done",
        shows=(
            "#maintainers form .cdx-button",
            "#runs a[href^='https://']",
            "#runs #jobs td",
            "#databases #database-sizes td",
            "#databases #databases-over",
        ),
    ),
    Screen(
        "tool-maintainer-failed",
        f"/tool/{FAILED_TOOL}",
        who="done",
        shows=(".ats-problem", "#runs a[href^='https://']"),
    ),
    Screen(
        "tool-admin", f"/tool/{FAILED_TOOL}", who="admin", shows=("#history li", "#databases p")
    ),
    Screen(
        "tool-refused",
        f"/tool/{TOOL}",
        who="done",
        refuse=LONG_NAME,  # no shell account: not someone who can co-maintain
        shows=(".cdx-message--error",),
    ),
    Screen("tool-not-maintainer", f"/tool/{TOOL}", who="fresh", status=403),
    Screen("tool-unknown", "/tool/no-such-tool", who="done", status=404),
]


class SeededSite:
    """What `BridgeServer` reads of a test's wiki and bot: the folder for its config and
    store, and an API address (never called: the bridge asks only the OAuth provider)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.page = "Toolserver/Requests"
        self.config: Path | None = None
        self.wiki = _Wiki()

    def store(self) -> Store:
        return Store(self.root / "ats.sqlite")


@dataclass
class _Wiki:
    server: str = "http://127.0.0.1:9"
    api_url: str = UNREACHABLE_WIKI
    bot_login_name: str = "ClerkBot@ats"


@dataclass
class ScreenSite:
    """The running bridge, its seeded store and each person's session cookies."""

    bridge: BridgeServer
    cookies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def start(cls, root: Path, browser: Any) -> ScreenSite:
        site = SeededSite(root)
        bridge = BridgeServer(site, admins=(ADMIN,), extra_config=WEB_CONFIG)  # type: ignore[arg-type]  # a wiki-less stand-in
        store = site.store()
        try:
            seed(store)
        finally:
            store.close()
        bridge.start()
        started = cls(bridge)
        try:
            for state, person in PEOPLE.items():
                started.cookies[state] = log_in(browser, bridge, person)
        except Exception:
            bridge.stop()
            raise
        return started

    def stop(self) -> None:
        self.bridge.stop()


def seed(store: Store) -> None:
    """Each person's request and the facts of their gates, as the bot and the bridge
    record them; signing in (`log_in`) then moves each request to its state."""
    terms = load_terms()
    fees = load_fees()
    for person in PEOPLE.values():
        name = person.username
        if person.request_state is not None:
            add_request(
                store,
                name,
                key=f"key-{person.central_id}",
                state=person.request_state,
                fields={"type": "account", "purpose": "Maintenance scripts for the wikis."},
            )
        if person.terms:
            store.accept_terms(name, terms.version)
        if person.key:
            key = parse_public_key(ssh_public_key(f"{name.lower()}@a-laptop-with-a-long-name"))
            store.add_ssh_key(
                name,
                type=key.type,
                bits=key.bits,
                key=key.line,
                fingerprint=key.fingerprint,
                comment=key.comment,
            )
        if person.waiver:
            store.request_waiver(name, "I am a student and cannot pay the fee this year.")
        if person.paid:
            store.record_payment(
                name,
                amount=fees.annual_fee,
                currency=fees.currency,
                paid_on="2026-11-02",
                method="bank transfer",
                reference=f"TX-2026-{person.central_id:04d}",
                recorded_by=ADMIN,
            )
        if person.identified:
            store.attest_identification(name, attested_by=ADMIN, method="video call")
    store.record_account("longmember", "person", PEOPLE["done"].username, 5017)
    seed_tools(store, PEOPLE["done"].username)
    seed_history(store, PEOPLE["done"].username)


def seed_tools(store: Store, owner: str) -> None:
    """`owner` maintains two tools and made a long-named member co-maintainer of each:
    one change is on its way to the login hosts, the other's job failed for good. The
    first runs jobs of every type (one with a long name, one with a long schedule, one
    not looked at yet) and its web service has stopped; the second runs nothing."""
    store.record_account("cocreator", "person", CO_MAINTAINER, 5018)
    for uid, tool in enumerate((FAILED_TOOL, TOOL), start=6001):
        store.record_account(tool, "tool", tool, uid)
        store.set_tool_maintainers(tool, [owner], "ats provision tool")
        change = maintainers.add(store, tool, owner, CO_MAINTAINER)
        if tool == FAILED_TOOL:
            leased = store.lease_job("screens")
            assert leased is not None and leased.id == change.job.id, leased
            store.fail_job(leased.id, "screens", "login host unreachable", retry=False)
    jobs = [
        ("webservice", {"continuous": True}, "failed", "Failed"),
        ("irc-relay", {"continuous": True}, "running", "Running"),
        ("rebuild-the-reference-index-for-every-wikidata-item", {}, "backoff", "Retrying (1 of 3)"),
        ("weekly-report", {"schedule": "15 4,16 1-7,15-21 * MON-FRI"}, "waiting", None),
    ]
    for name, kind, state, status in jobs:
        spec = {"name": name, "command": f"./{name}.sh", "image": "python3.11", **kind}
        store.put_tool_job(TOOL, name, json.dumps(spec))
        if status is not None:
            store.update_tool_job(TOOL, name, 1, {"state": state, "status": status})
    seed_databases(store)


def seed_databases(store: Store) -> None:
    """The first tool's databases (one with a long name) are over the limit, and so are the
    long-named member's; the second tool's were not measured yet."""
    mb = 1024 * 1024
    over = {"limit": 100 * mb, "over": True, "over_since": "2026-11-29T08:00:00+00:00"}
    measured = "2026-11-30T11:44:00+00:00"
    tool = (
        ("s6002__wikidata_reference_checker_cache_of_every_item_seen", 96 * mb + mb // 3),
        ("s6002__counts", 12 * mb),
    )
    store.record_database_usage(
        [
            DatabaseUsage(
                "s6002",
                "tool",
                TOOL,
                TOOL,
                108 * mb + mb // 3,
                **over,
                crossings=1,
                observed_at=measured,
                databases=tool,
            ),
            DatabaseUsage(
                "u5017",
                "person",
                "longmember",
                PEOPLE["done"].username,
                130 * mb,
                **over,
                crossings=2,
                observed_at=measured,
                databases=(("u5017__dumps", 130 * mb),),
            ),
        ]
    )


def seed_history(store: Store, name: str) -> None:
    """`name`'s earlier request, declined on the wiki and archived, and the steps of the
    request that made them a member, as the bot, the bridge and the admins record them."""
    [current] = [r for r in store.requests() if r.subject == name]
    earlier = add_request(
        store,
        name,
        key=f"Account request: {name}",
        state="declined",
        intro_revid=101,
        fields={"type": "account", "purpose": "Bots."},
    )
    store.update_request(
        earlier.id,
        archive_page="Toolserver/Requests/Archive 2025",
        closed_at="2025-03-01T10:00:00+00:00",
    )
    _decide(
        store, earlier, "decline", 104, "Not enough edits yet: ask again after a year of editing."
    )
    store.audit(name, "filed", earlier.id, revid=101, key=earlier.key)
    store.audit("ClerkBot", "evaluated:awaiting-requester", earlier.id)
    store.audit(ADMIN, "decision:decline", earlier.id, revid=104)
    store.audit("ClerkBot", "archived", earlier.id, revid=105)
    store.audit(name, "filed", current.id, revid=201, key=current.key)
    for state in ("awaiting-requester", "awaiting-identity", "awaiting-approval"):
        store.audit("ClerkBot", f"evaluated:{state}", current.id)
    store.audit(name, "terms-accepted", version="1")
    store.audit(name, "ssh-key-added", fingerprint="SHA256:" + "x" * 43)
    store.audit(ADMIN, "payment-recorded", subject=name, payment_id=1)
    store.audit(ADMIN, "identification-attested", subject=name, attestation_id=1)
    store.audit(ADMIN, "decision:approve", current.id, revid=230)
    _decide(store, current, "approve", 230, "")
    for step in ("queued", "started", "done"):
        store.audit("ClerkBot", f"provisioning-{step}", current.id)
    # An action the desk has no words for shows as itself: a long unbroken one.
    store.audit("ClerkBot", "a-step-recorded-by-a-newer-version-of-the-clerk", current.id)


def _decide(store: Store, record: RequestRecord, kind: str, revid: int, reason: str) -> None:
    params = {"1": reason} if reason else {}
    store.add_decision(
        record.id,
        kind=kind,
        params=params,
        wikitext=f"{{{{ATS decision|{kind}|{reason}}}}}",
        ordinal=1,
        revid=revid,
        actor=ADMIN,
        honoured=True,
        reason="declined" if kind == "decline" else "",
    )


def log_in(browser: Any, bridge: BridgeServer, person: Person) -> list[dict[str, Any]]:
    """Sign `person` in through the OAuth handshake; the session's cookies."""
    context = browser.new_context()
    try:
        page = context.new_page()
        bridge.oauth.login_as(
            person.username, person.central_id, editcount=800, groups=person.groups
        )
        page.goto(bridge.url + "/login")
        page.wait_for_url(lambda url: "/oauth/" not in url and url.startswith(bridge.url))
        cookies: list[dict[str, Any]] = context.cookies(bridge.url)
        assert any(c["name"] == "ats_session" for c in cookies), page.url
        return cookies
    finally:
        context.close()


# Elements whose box reaches past the window's sides, unless an ancestor scrolls (or
# clips) sideways: a wide table inside its wrapper is fine, a wide page is not.
LAYOUT_SCRIPT = """() => {
  const width = window.innerWidth;
  const contained = (element) => {
    for (let parent = element.parentElement; parent && parent !== document.body;
         parent = parent.parentElement) {
      const overflow = getComputedStyle(parent).overflowX;
      if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') return true;
    }
    return false;
  };
  const name = (element) => element.tagName.toLowerCase()
    + (element.id ? '#' + element.id : '')
    + (element.className && typeof element.className === 'string'
       ? '.' + element.className.trim().split(/\\s+/).join('.') : '');
  const wide = [];
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if ((box.right > width + 1 || box.left < -1) && !contained(element)) {
      wide.push(`${name(element)} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, wide};
}"""


def layout_problems(page: Any) -> list[str]:
    """What makes `page` scroll sideways: the document wider than the window, and each
    element past the window's edges that no scrolling wrapper holds."""
    found = page.evaluate(LAYOUT_SCRIPT)
    problems = []
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"the page is {found['scrollWidth']} px wide in {found['innerWidth']} px")
    problems.extend(f"too wide: {item}" for item in found["wide"][:10])
    return problems


def serious_violations(axe: Any, page: Any) -> list[str]:
    """axe-core's critical and serious violations on `page`, one line each."""
    results = axe.run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("critical", "serious"):
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
            lines.append(f"{violation['id']} ({violation['impact']}): {', '.join(targets)}")
    return lines
