"""ats-session-guard's verdicts (the rendered script, loaded as a module), on plain data:
which processes of a login host end, and why. The real thing, on a dev login host with
real sessions, is tests/integration/test_loginhost_holds.py."""

from __future__ import annotations

import types
from typing import Any

import pytest

from provisioning.loginhost import HostSettings, render

UNSET = 4294967295
ALICE, BOB, CAROL, TOOL, OTHER_TOOL, ALICE_GROUP = 10000, 10001, 10002, 10003, 10004, 10000


@pytest.fixture(scope="module")
def guard() -> Any:
    settings = HostSettings("ldap://r:1", "ldap://p:2", "dc=t,dc=e", "cn=admin,dc=t,dc=e")
    text = {f.path: f.text for f in render(settings)}["usr/local/sbin/ats-session-guard"]
    module = types.ModuleType("ats_session_guard")
    exec(compile(text, "ats-session-guard", "exec"), module.__dict__)  # noqa: S102 - our own script
    return module


def person(name: str, number: int, *, login_shell: str = "/bin/bash", expire: str = "") -> dict:
    entry = {"uid": [name], "uidnumber": [str(number)], "loginshell": [login_shell]}
    if expire:
        entry["shadowexpire"] = [expire]
    return entry


ACCOUNTS = {
    ALICE: person("alice", ALICE),
    BOB: person("bob", BOB),
    CAROL: person("carol", CAROL, login_shell="/usr/sbin/nologin", expire="1"),
    TOOL: person("tools.mytool", TOOL),
    OTHER_TOOL: person("tools.other", OTHER_TOOL),
}
GROUPS = {
    TOOL: {"cn": ["tools.mytool"], "memberuid": ["alice"]},  # bob was removed
    OTHER_TOOL: {"cn": ["tools.other"], "memberuid": ["bob"]},
}


@pytest.mark.parametrize(
    ("process", "why"),
    [
        # A maintainer's session holding the tool's group, and what they run as the tool.
        (({ALICE}, {ALICE_GROUP, TOOL}, ALICE), None),
        (({TOOL}, {TOOL}, ALICE), None),
        # Bob's session began while he maintained mytool: it holds the group still.
        (({BOB}, {BOB, TOOL, OTHER_TOOL}, BOB), "bob no longer maintains tools.mytool"),
        # ... and what he started as the tool, from his login.
        (({TOOL}, {TOOL}, BOB), "bob no longer maintains tools.mytool"),
        # A setuid copy of the tool's shell run by Bob (were it on a suid mount).
        (({BOB, TOOL}, {BOB}, BOB), "bob no longer maintains tools.mytool"),
        # His own tool, and his session without the old group: left alone.
        (({OTHER_TOOL}, {OTHER_TOOL}, BOB), None),
        (({BOB}, {BOB, OTHER_TOOL}, BOB), None),
        # A suspended member: everything of theirs, and everything from their login.
        (({CAROL}, {CAROL}, CAROL), "carol is suspended"),
        (({OTHER_TOOL}, {OTHER_TOOL}, CAROL), "carol is suspended"),
        # A tool's own job or service (no login behind it) runs on.
        (({TOOL}, {TOOL}, UNSET), None),
        # Local accounts outside the range are not the guard's.
        (({1000}, {1000}, 1000), None),
    ],
)
def test_what_ends_and_why(guard: Any, process: tuple, why: str | None) -> None:
    assert guard.verdict(process, ACCOUNTS, GROUPS) == why


def test_an_account_missing_from_the_directory_ends_only_when_two_looks_agree(
    guard: Any,
) -> None:
    process = ({10042}, {10042}, 10042)
    assert guard.verdict(process, ACCOUNTS, GROUPS) is None  # a replica refilling, maybe
    gone = frozenset({10042})
    assert (
        guard.verdict(process, ACCOUNTS, GROUPS, gone) == "uid 10042 is no longer in the directory"
    )


def test_an_expiry_in_the_future_is_no_suspension(guard: Any) -> None:
    later = person("dave", 10005, expire="99999")
    assert not guard.suspended(later)
    assert guard.suspended(person("erin", 10006, expire="1"))
    assert not guard.suspended(person("fred", 10007, expire="-1"))


def test_the_directorys_answer_is_read_as_ldif(guard: Any) -> None:
    ldif = (
        "dn: uid=alice,ou=people,dc=t,dc=e\nobjectClass: posixAccount\nuid: alice\n"
        "uidNumber: 10000\nloginShell: /bin/bash\n\n"
        "dn: cn=tools.mytool,ou=groups,dc=t,dc=e\nobjectClass: posixGroup\n"
        "cn:: dG9vbHMubXl0b29s\ngidNumber: 10003\nmemberUid: alice\n"
    )
    alice, group = guard.parse(ldif)
    assert alice["uidnumber"] == ["10000"] and group["cn"] == ["tools.mytool"]
