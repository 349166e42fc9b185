"""The login host's files as `provisioning.loginhost` renders them: sssd.conf parsed as
SSSD reads it, cache times within a minute, modes, every placeholder filled, and
settings that cannot work refused with a message."""

from __future__ import annotations

import configparser

import pytest

from provisioning import loginhost
from provisioning.loginhost import HostSettings, RenderError, render

SETTINGS = HostSettings(
    ldap_uri="ldap://replica.example:389",
    provider_url="ldap://provider.example:389",
    base_dn="dc=toolserver,dc=example",
    replicator_dn="cn=admin,dc=toolserver,dc=example",
    tool_home_root="/srv/tools",
    login_host="login.toolserver.example",
    rules_url="https://meta.example.org/w/index.php?title=Toolserver/Rules",
    bridge_url="https://bridge.toolserver.example",
)


def files() -> dict[str, loginhost.HostFile]:
    return {f.path: f for f in render(SETTINGS)}


def test_sssd_reads_the_replica_for_everything_and_refuses_suspended_members() -> None:
    sssd = configparser.ConfigParser(interpolation=None, strict=True)
    sssd.read_string(files()["etc/sssd/sssd.conf"].text)
    services = {s.strip() for s in sssd["sssd"]["services"].split(",")}
    assert services == {"nss", "pam", "ssh", "sudo"}
    domain = sssd[f"domain/{sssd['sssd']['domains']}"]
    assert domain["ldap_uri"] == "ldap://replica.example:389"
    assert domain["sudo_provider"] == domain["access_provider"] == domain["id_provider"] == "ldap"
    assert domain["ldap_sudo_search_base"] == "ou=sudoers,dc=toolserver,dc=example"
    assert "ou=tools,dc=toolserver,dc=example" in domain["ldap_user_search_base"]
    assert domain["ldap_user_ssh_public_key"] == "sshPublicKey"
    assert "(!(loginShell=/usr/sbin/nologin))" in domain["ldap_access_filter"]
    assert domain["ldap_access_order"] == "filter, expire"
    assert domain["ldap_account_expire_policy"] == "shadow"
    # A removed key, a suspension or a new co-maintainer is seen within a minute.
    assert int(domain["entry_cache_timeout"]) <= 60
    assert int(sssd["nss"]["memcache_timeout"]) <= 60
    assert int(domain["ldap_sudo_smart_refresh_interval"]) <= 60


def test_every_file_is_filled_in_and_has_its_mode() -> None:
    out = files()
    for item in out.values():
        assert not loginhost.PLACEHOLDER.search(item.text), item.path
    assert out["etc/sssd/sssd.conf"].mode == 0o600
    assert out["etc/sudoers.d/ats"].mode == 0o440
    assert out["usr/local/bin/become"].mode == 0o755
    assert out["ldap/consumer.conf"].mode == 0o640
    assert "root=/srv/tools\n" in out["usr/local/sbin/ats-tool-home"].text
    assert "Toolserver/Rules" in out["etc/motd"].text
    assert "login.toolserver.example" in out["etc/motd"].text
    nss = dict(
        line.split(":", 1) for line in out["etc/nsswitch.conf"].text.splitlines() if ":" in line
    )
    for database in ("passwd", "group", "shadow", "sudoers"):
        assert nss[database].split() == ["files", "sss"]
    sshd = out["etc/ssh/sshd_config.d/ats.conf"].text
    assert "AuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys %u\n" in sshd
    assert "PasswordAuthentication no\n" in sshd
    session = out["etc/pam.d/common-session"].text
    assert session.index("ats-tool-home") < session.index("pam_mkhomedir.so")
    assert "pam_systemd" not in out["etc/pam.d/common-session-noninteractive"].text
    consumer = out["ldap/consumer.conf"].text
    assert "provider=ldap://provider.example:389" in consumer
    assert "type=refreshAndPersist" in consumer and "rootpw" not in consumer
    assert "overlay syncprov" in out["ldap/provider.conf"].text
    assert "objectclass ( 1.3.6.1.4.1.15953.9.2.1" in out["ldap/sudo.schema"].text.lower()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ldap_uri": ""}, "not an ldap:// or ldaps:// URL"),
        ({"provider_url": "http://x"}, "not an ldap:// or ldaps:// URL"),
        ({"base_dn": ""}, "base_dn is needed"),
        ({"tool_home_root": "data/project"}, "plain absolute path"),
        ({"tool_home_root": "/data/$(reboot)"}, "plain absolute path"),
    ],
)
def test_settings_that_cannot_work_are_refused(change: dict[str, str], message: str) -> None:
    values = {**SETTINGS.__dict__, **change}
    with pytest.raises(RenderError, match=message):
        render(HostSettings(**values))


def test_text_from_the_config_cannot_break_out_of_the_become_script() -> None:
    values = {**SETTINGS.__dict__, "bridge_url": 'https://x/"; rm -rf / #`id` $HOME'}
    become = {f.path: f for f in render(HostSettings(**values))}["usr/local/bin/become"].text
    line = next(x for x in become.splitlines() if "not a maintainer" in x)
    assert line.count('"') == 2 and "`" not in line and "$HOME" not in line
