"""The bridge in every language it ships: every page under `?uselang=de|fr|es|he|qqx`
(anonymous, requester, admin) has the right `<html lang dir>` and no English left where
a translation exists; the language is chosen as MediaWiki would; the message files are
complete, documented and safe.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bridge import i18n
from membership import maintainers
from membership.states import State
from membership.store import Store
from tests.builders import add_request, ssh_public_key

LANGUAGES = {"de": "ltr", "fr": "ltr", "es": "ltr", "he": "rtl"}
ANONYMOUS = ["/", "/status", "/policies", "/policies/privacy", "/no-such-page"]
REQUESTER = ["/me", "/terms", "/tool/exampletool"]
ADMIN = ["/admin", "/admin/member/Example", "/admin/fund", "/tool/exampletool"]
PAGES = (
    [(None, p) for p in ANONYMOUS]
    + [("Example", p) for p in REQUESTER]
    + [("Admin One", p) for p in ADMIN]
)
PARAMETER = re.compile(r"\$\d+")


def _files() -> dict[str, dict[str, str]]:
    return {path.stem: json.loads(path.read_text("utf-8")) for path in i18n.I18N_DIR.glob("*.json")}


def _english_texts(language: str) -> set[str]:
    """English messages without parameters or markup that `language` words otherwise."""
    files = _files()
    return {
        text
        for key, text in files["en"].items()
        if i18n.for_the_bridge(key)
        and not PARAMETER.search(text)
        and "<" not in text
        and files[language].get(key, text) != text
    }


class _Page(HTMLParser):
    """The page's `<html>` attributes, its text nodes outside `<code>` (commands, keys and
    the jobs framework's own English status words, never a message), and the languages
    of its spans."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.texts: list[str] = []
        self.span_langs: list[str | None] = []
        self._in_code = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.html_attrs = dict(attrs)
        if tag == "code":
            self._in_code += 1
        if tag == "span" and any(name == "lang" for name, _ in attrs):
            self.span_langs.append(dict(attrs)["lang"])
        for name, value in attrs:
            if name in ("placeholder", "aria-label") and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self._in_code:
            self._in_code -= 1

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._in_code:
            self.texts.append(data.strip())


@pytest.fixture
def app_settings(app_settings: dict[str, object]) -> dict[str, object]:
    """A chapter with a front door: the tool's page tells its web address."""
    return {**app_settings, "web_url": "https://{tool}.tools.example.org/"}


@pytest.fixture
def lived_in(store: Store) -> Store:
    """A store with something on every page: a request, a key, a payment, a waiver, a
    job and a transfer waiting for a second admin."""
    add_request(store, state="awaiting-requester")
    store.add_ssh_key(
        "Example",
        type="ssh-ed25519",
        bits=256,
        key=ssh_public_key(),
        fingerprint="SHA256:example",
        comment="laptop",
    )
    store.record_payment(
        "Example",
        amount=2000,
        currency="USD",
        paid_on=date.today().isoformat(),
        method="card",
        reference="REF-1",
        recorded_by="Admin Two",
    )
    store.request_waiver("Example", "a reason")
    # Example maintains a tool and made Bob its co-maintainer (its job on the way), and
    # had an earlier request declined on the wiki (the desk's links and history).
    store.record_account("example", "person", "Example", 2000)
    store.record_account("bob", "person", "Bob", 2001)
    store.record_account("exampletool", "tool", "exampletool", 3000)
    store.set_tool_maintainers("exampletool", ["Example"], "test")
    maintainers.add(store, "exampletool", "Example", "Bob")
    # Its web service has stopped (the page says how to restart it) and a job waits for
    # its schedule.
    store.put_tool_job("exampletool", "webservice", '{"name": "webservice", "continuous": true}')
    store.update_tool_job("exampletool", "webservice", 1, {"state": "failed", "status": "Failed"})
    store.put_tool_job("exampletool", "nightly", '{"name": "nightly", "schedule": "0 3 * * *"}')
    earlier = add_request(store, key="Account request: Example (earlier)", state="declined")
    store.add_decision(
        earlier.id,
        kind="decline",
        params={"1": "too soon"},
        wikitext="{{ATS decision|decline|too soon}}",
        ordinal=1,
        revid=7,
        actor="Admin Two",
        honoured=True,
        reason="declined",
    )
    store.audit("Admin Two", "decision:decline", earlier.id, revid=7)
    # A job (its kind and state on the member's page) and a transfer waiting for a
    # second admin (described on the fund page), so the scans below read them too.
    store.enqueue_member_job("Example", "keys", {"shell_name": "example"})
    store.add_fund_action(
        "lived-in-transfer-0001",
        kind="transfer",
        amount=15000,
        currency="USD",
        on_date=date.today().isoformat(),
        proposed_by="Admin Two",
    )
    return store


def _get(client_as, client, who: str | None, path: str, query: str, **headers: str):
    visitor = client_as(who) if who else client
    return visitor.get(path + query, headers=headers)


@pytest.mark.parametrize(("who", "path"), PAGES)
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_page_speaks_the_language_asked_for(
    client, client_as, lived_in, who, path, language
) -> None:
    response = _get(client_as, client, who, path, f"?uselang={language}")
    assert response.status_code == (404 if path == "/no-such-page" else 200)
    page = _Page(response.get_data(as_text=True))
    assert page.html_attrs == {"lang": language, "dir": LANGUAGES[language]}
    # Every bridge message exists in every language: none fell back to English.
    assert "en" not in page.span_langs
    english = _english_texts(language)
    left = [text for text in page.texts if text in english]
    assert left == [], f"English left on {path} in {language}"


@pytest.mark.parametrize(("who", "path"), PAGES)
def test_qqx_shows_the_message_keys(client, client_as, lived_in, who, path) -> None:
    response = _get(client_as, client, who, path, "?uselang=qqx")
    html = response.get_data(as_text=True)
    page = _Page(html)
    assert page.html_attrs == {"lang": "qqx", "dir": "ltr"}
    assert "(ats-bridge-name)" in page.texts
    english = _english_texts("de")  # every English text that is a message
    assert [text for text in page.texts if text in english] == []


def test_english_is_the_default(client, lived_in) -> None:
    page = _Page(client.get("/status").get_data(as_text=True))
    assert page.html_attrs == {"lang": "en", "dir": "ltr"}
    assert "Queue status" in page.texts


def test_accept_language_is_followed_when_nothing_was_chosen(client) -> None:
    html = client.get("/", headers={"Accept-Language": "he-IL, he;q=0.9, en;q=0.5"})
    assert _Page(html.get_data(as_text=True)).html_attrs == {"lang": "he", "dir": "rtl"}
    html = client.get("/", headers={"Accept-Language": "ja, es;q=0.8"})
    assert _Page(html.get_data(as_text=True)).html_attrs["lang"] == "es"


def test_the_choice_is_kept_and_uselang_still_wins(client) -> None:
    chosen = client.get("/language?language=fr&next=/status")
    assert chosen.status_code == 303
    assert chosen.headers["Location"].endswith("/status")
    headers = {"Accept-Language": "de"}
    assert _Page(client.get("/", headers=headers).get_data(as_text=True)).html_attrs == {
        "lang": "fr",
        "dir": "ltr",
    }
    html = client.get("/?uselang=he", headers=headers).get_data(as_text=True)
    assert _Page(html).html_attrs == {"lang": "he", "dir": "rtl"}
    # The selector on the page offers every language, the current one selected.
    assert '<option value="fr" lang="fr" selected>français</option>' in client.get("/").get_data(
        as_text=True
    )


@pytest.mark.parametrize("asked", ["xx", "de<script>", "../en", ""])
def test_a_language_without_messages_falls_through(client, asked) -> None:
    html = client.get(f"/?uselang={asked}", headers={"Accept-Language": "de"})
    assert _Page(html.get_data(as_text=True)).html_attrs == {"lang": "de", "dir": "ltr"}
    client.get(f"/language?language={asked}")  # not kept either
    html = client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _Page(html).html_attrs["lang"] == "es"


def test_a_fallback_language_gets_its_parents_messages(client) -> None:
    """de-at has no file of its own: German words, marked as German inside the page."""
    html = client.get("/?uselang=de-at").get_data(as_text=True)
    assert _Page(html).html_attrs == {"lang": "de-AT", "dir": "ltr"}
    assert '<span lang="de" dir="ltr">Willkommen</span>' in html


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "evil"])
def test_the_language_choice_only_goes_back_to_the_bridge(client, target) -> None:
    response = client.get("/language", query_string={"language": "de", "next": target})
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_flash_messages_are_worded_in_the_readers_language(client_as, lived_in) -> None:
    requester = client_as("Example")
    requester.get("/language?language=de")
    html = requester.get("/me").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    done = requester.post(
        "/waiver", data={"csrf_token": token, "reason": ""}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Schreib kurz, warum du einen Erlass beantragst" in done


# -- the message files -------------------------------------------------------------


def test_the_shipped_messages_pass_the_librarys_checks() -> None:
    translations, documentation, _raw = i18n.load_messages()
    assert set(translations) >= {"en", *LANGUAGES}
    i18n.check_messages(translations, documentation)  # raises on any fault


def test_every_language_is_complete_with_the_english_parameters() -> None:
    _translations, documentation, raw = i18n.load_messages()
    assert set(documentation) == set(raw["en"])
    for language in LANGUAGES:
        assert set(raw[language]) == set(raw["en"]), language
        for key, english in raw["en"].items():
            ours = set(PARAMETER.findall(raw[language][key]))
            assert ours == set(PARAMETER.findall(english)), (language, key)


def test_every_key_a_template_names_is_in_english() -> None:
    english = _files()["en"]
    templates = Path(i18n.__file__).parent / "templates"
    named = set()
    for template in templates.glob("*.html"):
        text = template.read_text("utf-8")
        named |= set(re.findall(r"message\('(ats-bridge-[a-z0-9-]*[a-z0-9])'[,)]", text))
    assert named
    assert sorted(named - set(english)) == []


def test_the_files_are_sorted_with_metadata_first() -> None:
    for path in i18n.I18N_DIR.glob("*.json"):
        keys = list(json.loads(path.read_text("utf-8")))
        assert keys[0] == "@metadata", path.name
        assert keys[1:] == sorted(keys[1:]), path.name


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("ats-bridge-nav-status", "<script>alert(1)</script>"),
        ("ats-bridge-nav-status", '<a href="https://evil.example">Queue</a>'),
        ("ats-bridge-nav-status", '<abbr onclick="steal()">Q</abbr>'),
        ("ats-bridge-no-such-key", "Unknown"),
        ("ats-bridge-me-fee", "Der Jahresbeitrag."),  # its $1 dropped
    ],
)
def test_an_unsafe_or_unknown_translation_is_refused(tmp_path, key, text) -> None:
    for path in i18n.I18N_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    german = json.loads((tmp_path / "de.json").read_text("utf-8"))
    german[key] = text
    (tmp_path / "de.json").write_text(json.dumps(german), "utf-8")
    translations, documentation, _raw = i18n.load_messages(tmp_path)
    with pytest.raises(AssertionError):
        i18n.check_messages(translations, documentation)


def test_every_state_has_a_name_and_the_wikis_symbol() -> None:
    english = _files()["en"]
    for state in State:
        assert f"ats-bridge-state-{state.value}" in english
        assert state.value in i18n.STATE_ICONS


def test_refusals_are_worded_in_the_readers_language(client, client_as) -> None:
    refused = client_as("Example").get("/admin?uselang=he")
    assert refused.status_code == 403
    assert "הדף הזה מיועד למנהלי הארגון." in _Page(refused.get_data(as_text=True)).texts
    forged = client.post("/logout?uselang=fr", data={})
    assert forged.status_code == 400
    assert any(
        t.startswith("Ce formulaire a expiré") for t in _Page(forged.get_data(as_text=True)).texts
    )


def test_a_language_with_only_the_bots_replies_is_not_offered(tmp_path) -> None:
    for path in i18n.I18N_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "it.json").write_text(json.dumps({"ats-bot-reply": "Risposta"}), "utf-8")
    translations, documentation, _raw = i18n.load_messages(tmp_path)
    assert "it" not in translations
    i18n.check_messages(translations, documentation)


# -- no English outside the message files ---------------------------------------------

# What the `lived_in` store puts on the pages: user data, never a message.
USER_DATA = (
    "Account request: Example",
    "SHA256:example",
    "a reason",
    "too soon",
    "laptop",
    "https://exampletool.tools.example.org/",
    "exampletool",
    "Example",
    "Admin Two",
    "Bob",
)
MONEY = re.compile(r"\d[\d.,]* [A-Z]{3}")
# The policy documents are the chapter's own texts, in its own language.
DOCUMENTS = ("/policies/privacy", "/terms")
# Where text is not words of the interface: dates (Babel's), the charts (their words are
# messages, checked in their own test), code, the reader's data, language names.
NOT_WORDS = {"time", "svg", "code", "textarea", "blockquote"}


class _Words(HTMLParser):
    """The page's text outside the elements in NOT_WORDS and outside `lang`-marked
    language names in the selector."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skipping: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NOT_WORDS or (tag == "option" and any(n == "lang" for n, _ in attrs)):
            self._skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.texts.append(data.strip())


def _without_keys(text: str) -> str:
    """`text` without its `(ats-…)` groups (balanced: a parameter may hold parentheses)."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if depth == 0 and text.startswith("(ats-", i):
            depth, i = 1, i + 1
            continue
        if depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
        else:
            out.append(text[i])
        i += 1
    return "".join(out)


@pytest.mark.parametrize(("who", "path"), [p for p in PAGES if p[1] not in DOCUMENTS])
def test_qqx_leaves_no_words_outside_the_message_keys(
    client, client_as, lived_in, who, path
) -> None:
    """A literal added to a template, a view or a flash shows here as words in qqx."""
    html = _get(client_as, client, who, path, "?uselang=qqx").get_data(as_text=True)
    left = []
    for text in _Words(html).texts:
        rest = MONEY.sub("", _without_keys(text))
        for data in USER_DATA:
            rest = rest.replace(data, "")
        if re.search(r"[A-Za-z]{2,}", rest):
            left.append(text)
    assert left == [], f"words outside the message files on {path}"
