"""Recent activity across a global account's wikis (`bot.globalusers`): which wikis are
asked, in which order, how users are batched, when counting stops, and what happens
when a wiki does not answer. The wikis' answers are the shapes `list=usercontribs`
and `meta=globaluserinfo` really send; the farm tests check them against the real
CentralAuth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import globalusers, wiki
from bot.rules.messages import Catalog
from bot.rules.replies import describe
from policies.eligibility import AttachedWiki, EligibilityPolicy, evaluate, only_uncertain

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EN = "https://en.wikipedia.org"
DE = "https://de.wikipedia.org"
META = "https://meta.wikimedia.org"
COMMONS = "https://commons.wikimedia.org"


def merged(wiki_id: str, url: str, editcount: int, **extra: Any) -> dict[str, Any]:
    return {
        "wiki": wiki_id,
        "url": url,
        "timestamp": "2015-01-01T00:00:00Z",
        "method": "login",
        "editcount": editcount,
        "registration": "2015-01-01T00:00:00Z",
        **extra,
    }


class FakeSite:
    """The bot's own wiki answering `meta=globaluserinfo` (and nothing else)."""

    def __init__(self, accounts: dict[str, dict[str, Any]]) -> None:
        self.accounts = accounts
        self.asked: list[str] = []

    def simple_request(self, **params: Any) -> Any:
        assert params["meta"] == "globaluserinfo"
        name = params["guiuser"]
        self.asked.append(name)
        info = self.accounts.get(name, {"missing": True})
        return type("Request", (), {"submit": lambda _self: {"query": {"globaluserinfo": info}}})()


class FakeWikis:
    """Other wikis answering `list=usercontribs` from lists of edit times per user."""

    def __init__(self, edits: dict[str, dict[str, int]], dead: tuple[str, ...] = ()) -> None:
        self.edits = edits  # api url -> user -> recent edits
        self.dead = dead
        self.requests: list[tuple[str, tuple[str, ...]]] = []

    def open(self, api: str) -> Any:
        def query(**params: Any) -> dict[str, Any]:
            users = tuple(params["ucuser"].split("|"))
            self.requests.append((api, users))
            if api in self.dead:
                raise wiki.WikiUnreachable(f"{api} did not answer: ConnectionError")
            contribs = [
                {"user": user, "timestamp": "2026-05-01T00:00:00Z"}
                for user in users
                for _ in range(self.edits.get(api, {}).get(user, 0))
            ]
            return {"batchcomplete": True, "query": {"usercontribs": contribs}}

        return query


def account(name: str, *wikis: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "home": wikis[0]["wiki"] if wikis else "metawiki",
        "id": 7,
        "registration": "2015-01-01T00:00:00Z",
        "name": name,
        "groups": [],
        "merged": list(wikis),
        "editcount": sum(w["editcount"] for w in wikis),
        **extra,
    }


def look(accounts: dict[str, dict[str, Any]], wikis: FakeWikis, **policy: Any) -> dict:
    return globalusers.look_up(
        FakeSite(accounts),
        list(accounts),
        EligibilityPolicy(**policy),
        NOW,
        script_path="/w",
        open_wiki=wikis.open,
    )


def test_a_wikipedian_with_no_edits_here_is_counted_on_their_home_wiki() -> None:
    accounts = {"Alice": account("Alice", merged("enwiki", EN, 4000), merged("metawiki", META, 3))}
    wikis = FakeWikis({"https://en.wikipedia.org/w/api.php": {"Alice": 40}})
    record = look(accounts, wikis)["Alice"]
    assert record.recent_edits == 40
    assert record.counted_on == ("en.wikipedia",)
    # Enough on the busiest wiki: Meta is never asked.
    assert wikis.requests == [("https://en.wikipedia.org/w/api.php", ("Alice",))]
    verdict = evaluate(EligibilityPolicy(), record, NOW)
    assert verdict.eligible
    text = describe(Catalog("en"), verdict.criterion("recent"), "Alice", NOW)
    assert text == "40 edits in the last 365 days on en.wikipedia"


def test_counting_goes_on_to_the_next_wiki_until_the_policy_is_met() -> None:
    accounts = {
        "Bob": account(
            "Bob", merged("dewiki", DE, 300), merged("enwiki", EN, 900), merged("metawiki", META, 5)
        )
    }
    wikis = FakeWikis(
        {
            "https://en.wikipedia.org/w/api.php": {"Bob": 6},
            "https://de.wikipedia.org/w/api.php": {"Bob": 6},
            "https://meta.wikimedia.org/w/api.php": {"Bob": 50},
        }
    )
    record = look(accounts, wikis)["Bob"]
    assert record.recent_edits == 12
    assert record.counted_on == ("en.wikipedia", "de.wikipedia")
    assert [api for api, _ in wikis.requests] == [
        "https://en.wikipedia.org/w/api.php",
        "https://de.wikipedia.org/w/api.php",
    ]
    verdict = evaluate(EligibilityPolicy(), record, NOW)
    text = describe(Catalog("en"), verdict.criterion("recent"), "Bob", NOW)
    assert text == "12 edits in the last 365 days on en.wikipedia and de.wikipedia"


def test_the_bound_on_wikis_asked_per_user() -> None:
    wikis_of = [merged(f"w{i}wiki", f"https://w{i}.wikipedia.org", 100 - i) for i in range(8)]
    accounts = {"Carol": account("Carol", *wikis_of)}
    wikis = FakeWikis({})
    record = look(accounts, wikis, recent_max_wikis=3)["Carol"]
    assert len(wikis.requests) == 3
    assert record.counted_on == ("w0.wikipedia", "w1.wikipedia", "w2.wikipedia")
    verdict = evaluate(EligibilityPolicy(), record, NOW)
    assert not verdict.eligible
    text = describe(Catalog("en"), verdict.criterion("recent"), "Carol", NOW)
    assert text.startswith("0 edits in the last 365 days on w0.wikipedia, w1.wikipedia and")
    assert "(10 short)" in text


def test_users_who_share_a_wiki_are_counted_in_one_request_50_at_a_time() -> None:
    names = [f"User {i}" for i in range(120)]
    accounts = {
        n: account(n, merged("enwiki", EN, 1000), merged("metawiki", META, 1)) for n in names
    }
    wikis = FakeWikis({"https://en.wikipedia.org/w/api.php": dict.fromkeys(names, 11)})
    records = look(accounts, wikis)
    assert [len(users) for _, users in wikis.requests] == [50, 50, 20]
    assert all(r.recent_edits == 11 for r in records.values())


def test_wikis_without_edits_and_urls_that_are_not_web_addresses_are_never_asked() -> None:
    accounts = {
        "Dan": account(
            "Dan",
            merged("enwiki", EN, 0),
            merged("evilwiki", "file:///etc/passwd", 5000),
            merged("otherwiki", "javascript:alert(1)", 4000),
            merged("metawiki", META, 20),
        )
    }
    wikis = FakeWikis({"https://meta.wikimedia.org/w/api.php": {"Dan": 15}})
    record = look(accounts, wikis)["Dan"]
    assert [api for api, _ in wikis.requests] == ["https://meta.wikimedia.org/w/api.php"]
    assert record.recent_edits == 15


def test_a_silent_wiki_is_skipped_named_and_not_asked_again() -> None:
    accounts = {
        "Eve": account("Eve", merged("dewiki", DE, 900), merged("enwiki", EN, 100)),
        "Finn": account("Finn", merged("dewiki", DE, 50), merged("commonswiki", COMMONS, 500)),
    }
    wikis = FakeWikis(
        {
            "https://en.wikipedia.org/w/api.php": {"Eve": 20},
            "https://commons.wikimedia.org/w/api.php": {"Finn": 3},
        },
        dead=("https://de.wikipedia.org/w/api.php",),
    )
    records = look(accounts, wikis)
    eve, finn = records["Eve"], records["Finn"]
    assert (eve.recent_edits, eve.counted_on, eve.unreachable) == (
        20,
        ("en.wikipedia",),
        ("de.wikipedia",),
    )
    assert (finn.recent_edits, finn.unreachable) == (3, ("de.wikipedia",))
    # de.wikipedia was asked once (for Eve, in the first round), never again for Finn.
    asked = [api for api, _ in wikis.requests]
    assert asked.count("https://de.wikipedia.org/w/api.php") == 1
    # Eve reached the policy anyway; Finn's shortfall may be on the silent wiki.
    policy = EligibilityPolicy()
    assert evaluate(policy, eve, NOW).eligible
    finn_verdict = evaluate(policy, finn, NOW)
    assert not finn_verdict.eligible and only_uncertain(finn_verdict, finn)
    text = describe(Catalog("en"), finn_verdict.criterion("recent"), "Finn", NOW)
    assert text.endswith("(de.wikipedia did not answer)")


def test_a_silent_wiki_does_not_hold_back_a_refusal_for_other_reasons() -> None:
    accounts = {
        "Gus": account("Gus", merged("dewiki", DE, 900), merged("enwiki", EN, 100), locked=True)
    }
    wikis = FakeWikis({}, dead=("https://de.wikipedia.org/w/api.php",))
    record = look(accounts, wikis)["Gus"]
    verdict = evaluate(EligibilityPolicy(), record, NOW)
    assert not verdict.eligible and not only_uncertain(verdict, record)


def test_missing_and_hidden_accounts_ask_no_other_wiki() -> None:
    accounts = {"Nobody": {"missing": True}, "Ghost": {"hidden": True}}
    wikis = FakeWikis({})
    records = look(accounts, wikis)
    assert (records["Nobody"].status, records["Ghost"].status) == ("missing", "hidden")
    assert wikis.requests == []


@pytest.mark.parametrize(
    ("wiki_id", "url", "label"),
    [
        ("enwiki", "https://en.wikipedia.org", "en.wikipedia"),
        ("commonswiki", "https://commons.wikimedia.org", "commons.wikimedia"),
        ("wikidatawiki", "https://www.wikidata.org", "wikidata"),
        ("enwiki", "http://127.0.0.1:8081", "enwiki"),
        ("devwiki", "http://localhost", "devwiki"),
        ("xwiki", "", "xwiki"),
    ],
)
def test_how_replies_name_a_wiki(wiki_id: str, url: str, label: str) -> None:
    assert wiki.wiki_label(wiki_id, url) == label


@pytest.mark.parametrize(
    ("server", "path", "api"),
    [
        ("https://en.wikipedia.org", "/w", "https://en.wikipedia.org/w/api.php"),
        ("http://127.0.0.1:8081", "", "http://127.0.0.1:8081/api.php"),
        ("http://127.0.0.1:8081/", "/", "http://127.0.0.1:8081/api.php"),
    ],
)
def test_api_url(server: str, path: str, api: str) -> None:
    assert globalusers.api_url(server, path) == api


def test_attached_wikis_busiest_first_whatever_the_order_of_merged() -> None:
    info = account("Hal", merged("metawiki", META, 3), merged("enwiki", EN, 4000))
    record = wiki.parse_global_user("Hal", info)
    assert [a.wiki for a in record.attached] == ["enwiki", "metawiki"]
    assert record.attached[0] == AttachedWiki("enwiki", EN, 4000, "en.wikipedia")


def test_the_recent_window_is_the_policy_s() -> None:
    seen: list[dict[str, Any]] = []

    def query(**params: Any) -> dict[str, Any]:
        seen.append(params)
        return {"query": {"usercontribs": []}}

    globalusers.look_up(
        FakeSite({"Ida": account("Ida", merged("enwiki", EN, 10))}),
        ["Ida"],
        EligibilityPolicy(recent_window_days=30),
        NOW,
        script_path="/w",
        open_wiki=lambda api: query,
    )
    assert seen[0]["ucstart"] == "2026-06-01T00:00:00Z"
    assert seen[0]["ucend"] == (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
