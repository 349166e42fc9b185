"""The LDAP backend against a real slapd: entries, idempotence, suspension, escaping,
and uid numbers that two workers racing each other never share."""

from __future__ import annotations

import threading

import ldap3
import pytest

from provisioning.backend import NameTakenError, NoSuchAccountError
from provisioning.ldap import LdapBackend
from provisioning.names import NamingError
from tests.integration.slapd import Slapd

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2dFh0eKJb3yQb2m9o2fWn8i0pXc5Q0v8ZpYk3wTnqz"


def backend(slapd: Slapd, **options: object) -> LdapBackend:
    return LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password, **options)  # type: ignore[arg-type]


def entries(slapd: Slapd, filter: str = "(objectClass=*)") -> dict[str, dict[str, list[str]]]:
    return {e["dn"][0]: e for e in slapd.search(slapd.base_dn, filter)}


def test_a_person_is_made_once_with_units_group_and_keys(slapd: Slapd) -> None:
    ldap = backend(slapd)
    account = ldap.create_person("Jane Doe", "jane-doe", [KEY])
    assert (account.name, account.owner, account.keys) == ("jane-doe", "Jane Doe", (KEY,))
    found = entries(slapd)
    base = slapd.base_dn
    for ou in ("people", "groups", "tools"):
        assert f"ou={ou},{base}" in found
    person = found[f"uid=jane-doe,ou=people,{base}"]
    assert set(person["objectClass"]) >= {
        "inetOrgPerson",
        "posixAccount",
        "shadowAccount",
        "ldapPublicKey",
    }
    assert person["employeeNumber"] == ["Jane Doe"] and person["cn"] == ["Jane Doe"]
    assert person["sshPublicKey"] == [KEY]
    assert person["homeDirectory"] == ["/home/jane-doe"]
    assert person["uidNumber"] == person["gidNumber"] == [str(account.uid)]
    group = found[f"cn=jane-doe,ou=groups,{base}"]
    assert group["gidNumber"] == [str(account.uid)]

    again = backend(slapd).create_person("Jane Doe", "jane-doe", [KEY])
    assert again == account
    assert entries(slapd).keys() == found.keys()  # nothing duplicated
    assert len(entries(slapd, "(uid=jane-doe)")) == 1


def test_keys_converge_and_the_units_need_not_exist_first(slapd: Slapd) -> None:
    ldap = backend(slapd)
    ldap.create_person("Jane Doe", "jane-doe", [])
    person = entries(slapd)[f"uid=jane-doe,ou=people,{slapd.base_dn}"]
    assert "sshPublicKey" not in person and "ldapPublicKey" not in person["objectClass"]
    ldap.set_keys("jane-doe", [KEY, KEY2])
    assert sorted(entries(slapd, "(uid=jane-doe)").popitem()[1]["sshPublicKey"]) == sorted(
        [KEY, KEY2]
    )
    ldap.create_person("Jane Doe", "jane-doe", [KEY2])  # a re-run with the current keys
    assert entries(slapd, "(uid=jane-doe)").popitem()[1]["sshPublicKey"] == [KEY2]


def test_suspend_and_restore(slapd: Slapd) -> None:
    ldap = backend(slapd)
    ldap.create_person("Jane Doe", "jane-doe", [KEY])
    ldap.suspend("jane-doe")
    ldap.suspend("jane-doe")  # idempotent
    person = entries(slapd, "(uid=jane-doe)").popitem()[1]
    assert person["loginShell"] == ["/usr/sbin/nologin"]
    assert person["shadowExpire"] == ["1"]
    assert "sshPublicKey" not in person
    assert f"ats-suspended-key: {KEY}" in person["description"]
    assert ldap.describe("jane-doe").suspended  # type: ignore[union-attr]

    ldap.set_keys("jane-doe", [KEY2])  # a key change while suspended is kept for later
    assert "sshPublicKey" not in entries(slapd, "(uid=jane-doe)").popitem()[1]

    ldap.restore("jane-doe")
    ldap.restore("jane-doe")
    person = entries(slapd, "(uid=jane-doe)").popitem()[1]
    assert person["loginShell"] == ["/bin/bash"]
    assert person["sshPublicKey"] == [KEY2]
    assert "shadowExpire" not in person and "description" not in person
    with pytest.raises(NoSuchAccountError):
        ldap.suspend("nobody-here")


def test_a_tool_is_a_group_and_a_service_user(slapd: Slapd) -> None:
    ldap = backend(slapd)
    ldap.create_person("Jane Doe", "jane-doe", [KEY])
    ldap.create_person("Bob", "bob", [KEY2])
    tool = ldap.create_tool("citation-bot", ["jane-doe"])
    base = slapd.base_dn
    found = entries(slapd)
    group = found[f"cn=tools.citation-bot,ou=groups,{base}"]
    user = found[f"uid=tools.citation-bot,ou=tools,{base}"]
    assert group["memberUid"] == ["jane-doe"]
    assert group["gidNumber"] == user["uidNumber"] == user["gidNumber"] == [str(tool.uid)]
    assert user["homeDirectory"] == ["/data/project/citation-bot"]
    again = ldap.create_tool("citation-bot", ["jane-doe", "bob"])
    assert again.uid == tool.uid and again.members == ("bob", "jane-doe")
    # the group, the service user and the sudoRole that is `become`
    assert len(entries(slapd, "(cn=tools.citation-bot)")) == 3


def test_a_name_held_by_another_wiki_user_is_refused(slapd: Slapd) -> None:
    ldap = backend(slapd)
    ldap.create_person("Jürgen", "jurgen", [KEY])
    with pytest.raises(NameTakenError, match="already held by 'Jürgen'.*explicitly"):
        ldap.create_person("Jurgen", "jurgen", [KEY2])
    with pytest.raises(NameTakenError, match="already has the shell account 'jurgen'"):
        ldap.create_person("Jürgen", "jurgen2", [KEY])
    person = entries(slapd, "(uid=jurgen)").popitem()[1]
    assert person["employeeNumber"] == ["Jürgen"] and person["sshPublicKey"] == [KEY]


HOSTILE = [
    "*",
    "*)(uid=*",
    "x)(|(objectClass=*",
    'a*b(c)d\\e,f=g+h<i>j#k;l"m',
    "uid=admin,ou=people,dc=toolserver,dc=example",
    " leading and trailing ",
    "#hash",
]


@pytest.mark.parametrize("wiki_user", HOSTILE)
def test_hostile_wiki_usernames_are_stored_as_text(slapd: Slapd, wiki_user: str) -> None:
    ldap = backend(slapd)
    ldap.create_person("Innocent", "innocent", [KEY])
    account = ldap.create_person(wiki_user, "victim-name", [KEY2])
    assert account.owner == wiki_user
    person = entries(slapd, "(uid=victim-name)").popitem()[1]
    assert person["employeeNumber"] == [wiki_user]
    # The filter built from the username matches that user only, not everyone.
    with pytest.raises(NameTakenError, match="victim-name"):
        ldap.create_person(wiki_user, "another-name", [KEY2])
    assert ldap.create_person("Innocent", "innocent", [KEY]).owner == "Innocent"
    people = entries(slapd, "(objectClass=posixAccount)")
    assert sorted(p["uid"][0] for p in people.values()) == ["innocent", "victim-name"]


@pytest.mark.parametrize("name", ["*", "a,ou=tools", "x)(uid=*", "../etc", "root", "Jane"])
def test_hostile_shell_names_never_reach_the_directory(slapd: Slapd, name: str) -> None:
    ldap = backend(slapd)
    before = entries(slapd)
    for call in (
        lambda: ldap.create_person("Someone", name, [KEY]),
        lambda: ldap.create_tool(name, []),
        lambda: ldap.create_tool("fine-tool", [name]),
        lambda: ldap.suspend(name),
        lambda: ldap.describe(name),
    ):
        with pytest.raises(NamingError):
            call()
    assert entries(slapd) == before


def test_dn_components_are_escaped(slapd: Slapd) -> None:
    ldap = backend(slapd)
    assert ldap.person_dn("a,b=c+d") == r"uid=a\,b\=c\+d,ou=people," + slapd.base_dn
    assert ldap.group_dn("#x") == r"cn=\#x,ou=groups," + slapd.base_dn


def test_two_workers_never_share_a_number(slapd: Slapd) -> None:
    per_worker = 50
    made: dict[int, list[int]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        ldap = backend(slapd)  # each worker its own connection
        try:
            for n in range(per_worker):
                name = f"w{index}-user{n}"
                made[index].append(ldap.create_person(f"W{index} User{n}", name, [KEY]).uid)
            made[index].append(ldap.create_tool(f"w{index}-tool", []).uid)
        except BaseException as error:
            errors.append(error)
        finally:
            ldap.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    numbers = made[0] + made[1]
    assert len(numbers) == len(set(numbers)) == 2 * (per_worker + 1)
    in_directory = [
        int(e["uidNumber"][0]) for e in entries(slapd, "(objectClass=posixAccount)").values()
    ]
    assert len(in_directory) == len(set(in_directory)) == 2 * (per_worker + 1)


def test_numbers_already_used_by_hand_are_skipped(slapd: Slapd) -> None:
    conn = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
    ldap = backend(slapd, id_range=(20000, 20010))
    ldap.create_person("First", "first", [])
    assert ldap.describe("first").uid == 20000  # type: ignore[union-attr]
    conn.add(
        f"cn=handmade,ou=groups,{slapd.base_dn}",
        attributes={"objectClass": ["posixGroup"], "cn": "handmade", "gidNumber": 20001},
    )
    assert conn.result["result"] == 0
    assert ldap.create_person("Second", "second", []).uid == 20002


def test_the_range_running_out_is_a_clear_error(slapd: Slapd) -> None:
    ldap = backend(slapd, id_range=(30000, 30000))
    ldap.create_person("First", "first", [])
    with pytest.raises(Exception, match="id range 30000-30000 is used up"):
        ldap.create_person("Second", "second", [])
