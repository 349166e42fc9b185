"""One kind of error a person can meet: every fault the command line tells in one line
is a `policies.errors.Refusal`, and any refusal is told so — no list of classes to keep
up to date; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import argparse

import pytest

from ats.failures import fail, known_failure
from bot.clerk import ClerkError
from bot.rules.readings import ParseError
from bot.wiki import WikiError
from bridge.oauth_settings import OAuthError
from devtools.devwiki import DevWikiError
from membership.lease import LeaseHeld, LeaseLost
from membership.ledger import LedgerError
from membership.maintainers import MaintainerError, NoSay, UnknownTool
from membership.obligations import ObligationError
from membership.outflows import Overtaken, Refused
from membership.records import DuplicateKeyError, DuplicatePaymentError, OpenWaiverError
from membership.storefaults import StoreError
from membership.suspensions import SuspensionRefused
from membership.waivers import WaiverRuleError
from policies.errors import Conflict, NotAllowed, NotFound, Refusal
from policies.money import MoneyError
from policies.sshkeys import SSHKeyError
from policies.tomlcheck import TableError
from policies.usernames import UsernameError
from policies.words import Words
from provisioning.backend import ProvisioningError
from provisioning.names import NamingError
from tests.builders import add_request


@pytest.mark.parametrize(
    "kind",
    [
        ClerkError,
        ParseError,
        WikiError,
        DevWikiError,
        LeaseLost,
        StoreError,
        SSHKeyError,
        ProvisioningError,
        NamingError,
        MoneyError,
        UsernameError,
        TableError,
        LedgerError,
        DuplicateKeyError,
        ObligationError,
        WaiverRuleError,
        Refused,
        Overtaken,
        SuspensionRefused,
        MaintainerError,
        UnknownTool,
        NoSay,
        OAuthError,
    ],
)
def test_what_a_person_causes_is_a_refusal_told_in_one_line(
    kind: type[Exception], capsys: pytest.CaptureFixture[str]
) -> None:
    assert issubclass(kind, Refusal)
    error = kind("the directory cannot be reached:\n  start it")
    assert known_failure(error, None) is error
    args = argparse.Namespace(debug=False)
    assert fail(args, error, 1) == 1
    assert capsys.readouterr().err == "ats: the directory cannot be reached: start it\n"


def test_a_refusal_in_words_is_told_in_its_english(capsys: pytest.CaptureFixture[str]) -> None:
    said = Words("There is no tool named\n  mytool.", "ats-tool-unknown", tool="mytool")
    error = UnknownTool(said)
    assert error.words is said and isinstance(error, NotFound)
    assert Refusal("plain English").words is None
    assert fail(argparse.Namespace(debug=False), error, 1) == 1
    assert capsys.readouterr().err == "ats: There is no tool named mytool.\n"


def test_the_rules_refuse_with_the_kinds_the_bridge_maps_to_pages() -> None:
    assert issubclass(UnknownTool, NotFound) and issubclass(NoSay, NotAllowed)
    assert issubclass(Overtaken, Conflict) and issubclass(Overtaken, Refused)


def test_what_the_stores_indexes_refuse_is_told_in_words(store) -> None:
    payment = store.record_payment(
        "Example",
        amount=2000,
        currency="USD",
        paid_on="2026-11-02",
        method="card",
        reference="REF-1",
        recorded_by="Admin Two",
    )
    add_request(store, state="awaiting-requester")
    waiver = store.request_waiver("Example", "a reason")
    duplicate, open_ = DuplicatePaymentError(payment), OpenWaiverError(waiver)
    assert known_failure(duplicate, None) is duplicate and known_failure(open_, None) is open_
    assert str(duplicate).startswith(
        f"reference REF-1 is already recorded as payment #{payment.id}"
    )
    assert duplicate.words is not None and duplicate.words.key == "ats-payment-duplicate-reference"
    assert open_.words is not None and open_.words.params == {"id": waiver.id}


def test_a_clerk_waiting_for_the_lease_is_refused_too() -> None:
    assert issubclass(LeaseHeld, Refusal)


def test_a_new_refusal_needs_no_list(capsys: pytest.CaptureFixture[str]) -> None:
    class Invented(Refusal):
        pass

    assert known_failure(Invented("no"), None) is not None


def test_anything_else_is_a_bug() -> None:
    assert known_failure(KeyError("x"), None) is None
    assert known_failure(ValueError("x"), None) is None
