"""The rules' refusals and the desk's job names reach the reader in their language.

Each refusal is provoked for real through the bridge (a bad SSH key, a second waiver
request, a duplicate payment reference, an admin deciding their own waiver, a transfer
the fund's rules refuse, a proposer confirming their own transfer, a tool's last
maintainer removing themself, an admin restoring an account that is not suspended) and
read in German
(the session's language) and in qqx, where only `(ats-…)` keys may show. The English
the command line prints for the same rules is checked in the rules' own tests.
"""

from __future__ import annotations

import html as markup
import re
from datetime import date

import pytest

from membership.store import Store
from tests.builders import add_request, ssh_public_key

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ID = re.compile(r'name="form_id" value="([^"]+)"')


def _token(visitor, path: str) -> str:
    found = TOKEN.search(visitor.get(path).get_data(as_text=True))
    assert found, f"no form on {path}"
    return found.group(1)


def _speaking(visitor, language: str):
    """`visitor`, with `language` chosen on the bridge (kept in the session), or with
    `?uselang=qqx` on every request."""
    if language != "qqx":
        visitor.get(f"/language?language={language}")
        return visitor, ""
    return visitor, "?uselang=qqx"


def _alerts(html: str) -> list[str]:
    """The text of every error message on the page, tags removed."""
    found = re.findall(
        r'role="alert">\s*<div class="cdx-message__content">(.*?)</div>', html, re.DOTALL
    )
    return [markup.unescape(re.sub(r"<[^>]+>", "", text)).strip() for text in found]


def _only_keys(text: str) -> None:
    """In qqx a message is `(key: name=value, …)`: no English words outside the keys and
    the parameters' names, other than the reader's data."""
    assert text.startswith("(ats-"), text
    # A date is Babel's words, not a message (qqx has no calendar of its own); inside
    # another message's parameter its quotes are escaped.
    rest = re.sub(r"date=\\*'.*?\\*'", "", text)
    rest = re.sub(r"\(ats-[a-z0-9-]+:?|\b[a-z_]+=", "", rest)
    for data in ("Example", "Admin One", "Admin Two", "REF-1", "USD", "ssh-dss"):
        rest = rest.replace(data, "")
    assert not re.search(r"[A-Za-z]{3,}", rest), text


@pytest.fixture
def requester_store(store: Store) -> Store:
    add_request(store, state="awaiting-requester")
    return store


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_bad_ssh_key_is_refused_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    visitor, query = _speaking(client_as("Example"), language)
    token = _token(visitor, "/me")
    visitor.post(
        f"/keys{query}", data={"csrf_token": token, "key": "ssh-dss AAAAB3NzaC1kc3MAAACBAP"}
    )
    page = visitor.get(f"/me{query}").get_data(as_text=True)
    [said] = _alerts(page)
    if language == "de":
        assert said.startswith("DSA-Schlüssel sind veraltet und werden abgelehnt. Erzeuge")
        assert "<code>ssh-keygen -t ed25519</code>" in page
    else:
        assert said.startswith("(ats-bridge-sshkey-dsa: how=")
        assert "(ats-bridge-sshkey-how-to)" in said
        _only_keys(said)


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_second_waiver_request_is_refused_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    waiver = requester_store.request_waiver("Example", "a reason")
    visitor, query = _speaking(client_as("Example"), language)
    token = _token(visitor, "/me")
    visitor.post(f"/waiver{query}", data={"csrf_token": token, "reason": "again"})
    [said] = _alerts(visitor.get(f"/me{query}").get_data(as_text=True))
    if language == "de":
        assert said == (
            f"Du hast bereits einen Erlass beantragt (Antrag #{waiver.id}); "
            "die Admins werden ihn beantworten."
        )
    else:
        assert said == f"(ats-obligation-asked: id={waiver.id})"


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_duplicate_reference_names_the_payment_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    first = requester_store.record_payment(
        "Example",
        amount=2000,
        currency="USD",
        paid_on=date(2026, 11, 2).isoformat(),
        method="card",
        reference="REF-1",
        recorded_by="Admin Two",
    )
    visitor, query = _speaking(client_as("Admin One"), language)
    page = "/admin/member/Example"
    token = _token(visitor, page)
    visitor.post(
        f"{page}/payment{query}",
        data={
            "csrf_token": token,
            "amount": "20.00",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
            "method": "card",
            "reference": "REF-1",
        },
    )
    [said] = _alerts(visitor.get(f"{page}{query}").get_data(as_text=True))
    if language == "de":
        assert said == (
            "Nicht erfasst: Referenz REF-1 ist bereits erfasst als Zahlung "
            f"#{first.id} (Example, 20.00 USD bezahlt am 2. November 2026, erfasst von "
            "Admin Two)."
        )
    else:
        assert said.startswith("(ats-bridge-flash-not-recorded: reason=")
        assert "(ats-payment-duplicate-reference: reference=" in said
        assert f"(ats-payment-described: id={first.id}, " in said
        _only_keys(said)


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_waiver_the_rules_refuse_is_refused_in_the_readers_language(
    client_as, store, language
) -> None:
    own = store.request_waiver("Admin One", "between jobs")
    visitor, query = _speaking(client_as("Admin One"), language)
    token = _token(visitor, "/admin")
    visitor.post(f"/admin/waiver/{own.id}{query}", data={"csrf_token": token, "action": "grant"})
    [said] = _alerts(visitor.get(f"/admin/member/Admin%20One{query}").get_data(as_text=True))
    if language == "de":
        assert said == (
            "Niemand darf über den eigenen Erlass entscheiden; bitte eine andere Admin-Person."
        )
    else:
        assert said == "(ats-waiver-rule-own)"


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_fund_action_refused_reads_in_the_readers_language(client_as, store, language) -> None:
    visitor, query = _speaking(client_as("Admin One"), language)
    html = visitor.get("/admin/fund").get_data(as_text=True)
    refused = visitor.post(
        f"/admin/fund/transfer{query}",
        data={
            "csrf_token": TOKEN.search(html).group(1),
            "form_id": FORM_ID.search(html).group(1),
            "amount": "5.00",
        },
    )
    assert refused.status_code == 400
    [said] = _alerts(refused.get_data(as_text=True))
    if language == "de":
        assert said == (
            "Nur 0.00 USD Überschuss darf in den Fonds fließen, nicht 5.00 USD: "
            "das Betriebsgeld beträgt 0.00 USD."
        )
    else:
        assert said == (
            "(ats-outflow-surplus: available='0.00 USD', amount='5.00 USD', operating='0.00 USD')"
        )


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_waiting_transfer_is_described_and_its_proposer_refused_in_the_readers_language(
    client_as, store, language
) -> None:
    for n in range(8):  # income enough for a surplus above the second-admin threshold
        store.record_payment(
            f"Member {n}",
            amount=20000,
            currency="USD",
            paid_on=date.today().isoformat(),
            method="card",
            reference=f"R-{n}",
            recorded_by="Admin Two",
        )
    visitor, query = _speaking(client_as("Admin One"), language)
    html = visitor.get("/admin/fund").get_data(as_text=True)
    sent = visitor.post(
        f"/admin/fund/transfer{query}",
        data={
            "csrf_token": TOKEN.search(html).group(1),
            "form_id": FORM_ID.search(html).group(1),
            "amount": "150.00",
        },
        follow_redirects=True,
    )
    assert sent.status_code == 200
    [action] = store.fund_actions(status="proposed")
    page = visitor.get(f"/admin/fund{query}").get_data(as_text=True)
    refused = visitor.post(
        f"/admin/fund/action/{action.id}/confirm{query}",
        data={"csrf_token": TOKEN.search(page).group(1)},
    )
    assert refused.status_code == 400
    [said] = _alerts(refused.get_data(as_text=True))
    if language == "de":
        assert (
            "Übertragung von 150.00 USD in den Erlassfonds, vorgeschlagen von Admin One, "
            "wartet auf eine zweite Admin-Person." in page
        )
        assert said == (
            "Du hast dies vorgeschlagen (Übertragung); eine zweite Admin-Person muss es bestätigen."
        )
    else:
        text = markup.unescape(page)
        assert "(ats-outflow-described-waiting: what=" in text
        assert "(ats-outflow-what-transfer: amount='150.00 USD')" in text
        assert said.startswith("(ats-outflow-proposer: kind=")
        assert "(ats-outflow-kind-transfer)" in said
        _only_keys(said)


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_job_kinds_and_states_are_named_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    requester_store.enqueue_member_job("Example", "keys", {"shell_name": "example"})
    visitor, query = _speaking(client_as("Admin One"), language)
    html = visitor.get(f"/admin/member/Example{query}").get_data(as_text=True)
    [row] = [r for r in re.findall(r"<tr><td>#\d+ .*?</tr>", html)]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]
    if language == "de":
        assert cells[0].endswith(" SSH-Schlüssel")
        assert cells[1] == "in der Warteschlange"
    else:
        assert cells[0].endswith(" (ats-bridge-job-kind-keys)")
        assert cells[1] == "(ats-bridge-job-state-queued)"


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_an_amount_that_is_no_amount_is_refused_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    visitor, query = _speaking(client_as("Admin One"), language)
    page = "/admin/member/Example"
    visitor.post(
        f"{page}/payment{query}",
        data={
            "csrf_token": _token(visitor, page),
            "amount": "20,5.0",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
        },
    )
    [said] = _alerts(visitor.get(f"{page}{query}").get_data(as_text=True))
    if language == "de":
        assert said == "Nicht erfasst: '20,5.0' ist kein Betrag wie 20.00."
    else:
        assert said.startswith("(ats-bridge-flash-not-recorded: reason=")
        assert "(ats-bridge-money-not-amount: text=" in said


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_key_already_on_the_account_is_refused_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    key = ssh_public_key("laptop")
    visitor, query = _speaking(client_as("Example"), language)
    for _ in range(2):
        visitor.post(f"/keys{query}", data={"csrf_token": _token(visitor, "/me"), "key": key})
    [said] = _alerts(visitor.get(f"/me{query}").get_data(as_text=True))
    [stored] = requester_store.ssh_keys("Example")
    if language == "de":
        assert said == (
            f"Nicht hinzugefügt: der Schlüssel {stored.fingerprint} ist bereits in deinem "
            "Benutzerkonto."
        )
    else:
        assert said.startswith("(ats-bridge-flash-key-not-added: reason=")
        assert f"(ats-sshkey-duplicate: fingerprint='{stored.fingerprint}')" in said


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_change_to_a_tools_maintainers_is_refused_in_the_readers_language(
    client_as, store, language
) -> None:
    store.record_account("example", "person", "Example", 2000)
    store.record_account("exampletool", "tool", "exampletool", 3000)
    store.set_tool_maintainers("exampletool", ["Example"], "test")
    visitor, query = _speaking(client_as("Example"), language)
    page = "/tool/exampletool"
    visitor.post(
        f"{page}/remove{query}", data={"csrf_token": _token(visitor, page), "username": "Example"}
    )
    [said] = _alerts(visitor.get(f"{page}{query}").get_data(as_text=True))
    if language == "de":
        assert said.startswith("exampletool braucht mindestens einen Maintainer")
    else:
        assert said == "(ats-tool-last-maintainer: tool='exampletool')"
    assert store.tool_maintainers_set("exampletool") == ("Example",)


@pytest.mark.parametrize("language", ["de", "qqx"])
def test_a_suspension_refused_reads_in_the_readers_language(
    client_as, requester_store, language
) -> None:
    requester_store.record_account("example", "person", "Example", 2000)
    visitor, query = _speaking(client_as("Admin One"), language)
    page = "/admin/member/Example"
    visitor.post(
        f"{page}/suspension{query}",
        data={"csrf_token": _token(visitor, page), "action": "restore"},
    )
    [said] = _alerts(visitor.get(f"{page}{query}").get_data(as_text=True))
    if language == "de":
        assert said == "Das Konto von Example ist nicht gesperrt; nichts wurde geändert."
    else:
        assert said == "(ats-suspension-not-suspended: username='Example')"
