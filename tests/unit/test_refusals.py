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
from devtools.devwiki import DevWikiError
from membership.lease import LeaseHeld, LeaseLost
from membership.storefaults import StoreError
from policies.errors import Refusal
from policies.sshkeys import SSHKeyError
from provisioning.backend import ProvisioningError
from provisioning.names import NamingError


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


def test_a_clerk_waiting_for_the_lease_is_refused_too() -> None:
    assert issubclass(LeaseHeld, Refusal)


def test_a_new_refusal_needs_no_list(capsys: pytest.CaptureFixture[str]) -> None:
    class Invented(Refusal):
        pass

    assert known_failure(Invented("no"), None) is not None


def test_anything_else_is_a_bug() -> None:
    assert known_failure(KeyError("x"), None) is None
    assert known_failure(ValueError("x"), None) is None
