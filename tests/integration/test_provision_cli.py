"""`ats provision account` as an admin runs it, against a real slapd: converges."""

from __future__ import annotations

import contextlib
from pathlib import Path

from membership import accounts
from membership.store import Store
from tests.builders import ssh_public_key
from tests.integration.slapd import Slapd, ats, ats_config


def test_provision_account_converges(slapd: Slapd, tmp_path: Path) -> None:
    key = ssh_public_key()
    (tmp_path / "id.pub").write_text(key + " laptop\n")
    (tmp_path / "private").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    config = ats_config(tmp_path, slapd)
    first = ats(
        config,
        "provision",
        "account",
        "Old Member",
        "--key",
        str(tmp_path / "id.pub"),
        password=slapd.password,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("old-member: uid ")
    again = ats(
        config,
        "provision",
        "account",
        "Old Member",
        "--key",
        str(tmp_path / "id.pub"),
        password=slapd.password,
    )
    assert again.returncode == 0 and again.stdout == first.stdout
    people = slapd.search(slapd.base_dn, "(uid=old-member)")
    assert len(people) == 1
    assert people[0]["sshPublicKey"] == [key]  # the comment is not published

    # The key is the member's in the store too, so a later keys job (a key added on the
    # bridge, say) keeps it instead of converging the account to the store's keys alone.
    with contextlib.closing(Store(tmp_path / "ats.sqlite")) as store:
        assert [record.key for record in store.ssh_keys("Old Member")] == [key]
        accounts.keys_changed(store, "Old Member")
    ran = ats(config, "provision", "run", "--once", password=slapd.password)
    assert ran.returncode == 0, ran.stderr
    assert slapd.search(slapd.base_dn, "(uid=old-member)")[0]["sshPublicKey"] == [key]

    refused = ats(
        config,
        "provision",
        "account",
        "Someone",
        "--key",
        str(tmp_path / "private"),
        password=slapd.password,
    )
    assert refused.returncode == 2 and "private" in refused.stderr.lower()
    assert "Traceback" not in refused.stderr
    nopass = ats(config, "provision", "account", "Someone", password="")
    assert nopass.returncode == 2 and "ATS_LDAP_PASSWORD is not set" in nopass.stderr
