"""The login host's files as `provisioning.loginhost` renders them: sssd.conf parsed as
SSSD reads it, cache times within a minute, modes, every placeholder filled, and
settings that cannot work refused with a message."""

from __future__ import annotations

import configparser
import re

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
    assert "AuthorizedKeysCommand /usr/local/sbin/ats-authorized-keys %u %U\n" in sshd
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
        ({"uid_min": 500}, "range above 999"),
        ({"uid_min": 20000, "uid_max": 20000}, "range above 999"),
        ({"replicator_dn": ""}, "_dn is needed, without quotes"),
        ({"host_dn": 'cn=a",dc=x'}, "host_bind_dn must not hold quotes"),
    ],
)
def test_settings_that_cannot_work_are_refused(change: dict[str, object], message: str) -> None:
    values = {**SETTINGS.__dict__, **change}
    with pytest.raises(RenderError, match=message):
        render(HostSettings(**values))


def test_text_from_the_config_cannot_break_out_of_the_become_script() -> None:
    values = {**SETTINGS.__dict__, "bridge_url": 'https://x/"; rm -rf / #`id` $HOME'}
    become = {f.path: f for f in render(HostSettings(**values))}["usr/local/bin/become"].text
    line = next(x for x in become.splitlines() if "not a maintainer" in x)
    assert line.count('"') == 2 and "`" not in line and "$HOME" not in line


def test_the_directory_answers_nobody_anonymously_and_hosts_no_password() -> None:
    out = files()
    for path in ("ldap/provider.conf", "ldap/consumer.conf"):
        rules = re.split(r"^access to ", out[path].text, flags=re.MULTILINE)[1:]
        assert rules, path
        # Passwords first: only the worker, replication and binding touch them.
        assert rules[0].startswith("attrs=userPassword")
        assert "by anonymous auth" in rules[0] and "login-hosts" not in rules[0]
        # Who is behind a shell name, and the keys kept aside, stay with replication.
        assert rules[1].startswith('dn.subtree="ou=people,dc=toolserver,dc=example" attrs=cn,')
        assert "employeeNumber,description" in rules[1] and "login-hosts" not in rules[1]
        hosts = 'by dn.exact="cn=login-hosts,ou=services,dc=toolserver,dc=example" read'
        assert hosts in rules[2] and "sshPublicKey" in rules[2] and "sudoUser" in rules[2]
        for rule in rules:
            assert rule.rstrip().endswith("by * none"), rule
            assert "anonymous read" not in rule and "by * read" not in rule
    domain = configparser.ConfigParser(interpolation=None)
    domain.read_string(out["etc/sssd/sssd.conf"].text)
    section = domain["domain/toolserver"]
    assert section["ldap_default_bind_dn"] == "cn=login-hosts,ou=services,dc=toolserver,dc=example"
    assert "ldap_default_authtok" not in section  # the password is never rendered
    assert (section["min_id"], section["max_id"]) == ("10000", "59999")


def test_the_hosts_guards_are_rendered_with_the_directorys_range() -> None:
    values = {**SETTINGS.__dict__, "uid_min": 20000, "uid_max": 29999}
    out = {f.path: f for f in render(HostSettings(**values))}
    keys = out["usr/local/sbin/ats-authorized-keys"]
    assert keys.mode == 0o755 and "uid < 20000 || uid > 29999" in keys.text
    guard = out["usr/local/sbin/ats-session-guard"]
    assert guard.mode == 0o755 and "UID_MIN, UID_MAX = 20000, 29999" in guard.text
    compile(guard.text, "ats-session-guard", "exec")  # valid Python once filled in
    mounts = out["usr/local/sbin/ats-host-mounts"].text
    assert "TOOL_HOME_ROOT=/srv/tools\n" in mounts and "nosuid,nodev" in mounts
    for unit in ("ats-session-guard", "ats-host-mounts"):
        text = out[f"etc/systemd/system/{unit}.service"].text
        assert f"ExecStart=/usr/local/sbin/{unit}" in text
