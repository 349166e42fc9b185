"""Loading the TOML configuration (contract §8): the minimal file, and a clear error for each
mistake."""

# ruff: noqa: E501 - the minimal file of the spec is quoted verbatim, long comments included

from __future__ import annotations

from pathlib import Path

import pytest

from ats.config import SCHEMA, SECRETS, ConfigError, describe, load_config, secret
from policies.eligibility import policy_keys

# The minimal file of contract §8 (docs/contract.md), verbatim.
MINIMAL = """\
[wiki]
api = "http://127.0.0.1:8080/api.php"
request_page = "Toolserver/Requests"
[bot]
username = "ClerkBot"          # password in ATS_BOT_PASSWORD (a BotPassword "ClerkBot@clerk" works)
[store]
path = "var/ats.sqlite"
[policy]
admins = ["AdminUser"]
min_edits = 500

[bridge]
url = "http://127.0.0.1:5000"      # where the bridge is reached; the OAuth callback is url + "/oauth/callback"
oauth_version = 2                  # 2 or 1 (1.0a)
consumer_key = "…"                 # secret in ATS_OAUTH_SECRET; session key in ATS_SESSION_KEY
# wiki OAuth endpoints derive from [wiki] api (index.php / rest.php beside it)

[provisioning]
backend = "ldap"                   # ldap | unix | dry-run
ldap_url = "ldap://127.0.0.1:3389"
base_dn = "dc=toolserver,dc=example"
bind_dn = "cn=admin,dc=toolserver,dc=example"   # password in ATS_LDAP_PASSWORD
"""


def test_the_contract_quotes_the_minimal_file_as_it_is() -> None:
    contract = (Path(__file__).parents[2] / "docs" / "contract.md").read_text()
    assert f"```toml\n{MINIMAL}```" in contract


REQUIRED_ONLY = """\
[wiki]
api = "http://127.0.0.1:8080/w/api.php"
request_page = "Toolserver/Requests"
[bot]
username = "ClerkBot@clerk"
"""


def write(tmp_path: Path, text: str, name: str = "ats.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_the_minimal_file_of_the_spec_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.wiki.api == "http://127.0.0.1:8080/api.php"
    assert config.wiki.request_page == "Toolserver/Requests"
    assert config.bot.username == "ClerkBot"
    assert config.store_path == tmp_path / "var" / "ats.sqlite"
    assert config.policy.admins == ("AdminUser",)
    assert config.policy.min_edits == 500
    assert config.bridge.url == "http://127.0.0.1:5000"
    assert config.bridge.oauth_version == 2
    assert config.bridge.consumer_key == "…"
    assert config.provisioning.backend == "ldap"
    assert config.provisioning.bind_dn == "cn=admin,dc=toolserver,dc=example"
    assert config.bot_workdir == tmp_path / "var" / "pywikibot"


def test_defaults_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, REQUIRED_ONLY))
    assert config.wiki.archive_after_days == 7
    assert config.wiki.request_prefixes == ("Account request:", "Tool request:")
    assert config.bot.edit_interval == 10.0
    assert config.provisioning.backend == "dry-run"
    assert config.policy.min_edits == 500


@pytest.mark.parametrize(
    ("line", "section", "key"),
    [
        ('api = "http://127.0.0.1:8080/w/api.php"\n', "[wiki]", "api"),
        ('request_page = "Toolserver/Requests"\n', "[wiki]", "request_page"),
        ('username = "ClerkBot@clerk"\n', "[bot]", "username"),
    ],
)
def test_a_missing_required_key_is_named(tmp_path: Path, line: str, section: str, key: str) -> None:
    message = error_of(tmp_path, REQUIRED_ONLY.replace(line, ""))
    assert f"{section} {key} is missing" in message


def test_a_missing_required_section_names_its_key(tmp_path: Path) -> None:
    text = REQUIRED_ONLY.replace('[bot]\nusername = "ClerkBot@clerk"\n', "")
    assert "[bot] username is missing" in error_of(tmp_path, text)


def test_unknown_section(tmp_path: Path) -> None:
    message = error_of(tmp_path, REQUIRED_ONLY + "[wikki]\nx = 1\n")
    assert "unknown section [wikki]" in message
    assert "did you mean 'wiki'?" in message


def test_unknown_key_with_a_hint(tmp_path: Path) -> None:
    message = error_of(tmp_path, REQUIRED_ONLY.replace("[bot]", 'apii = "x"\n[bot]'))
    assert "[wiki] unknown key 'apii'; did you mean 'api'?" in message


def test_unknown_key_without_a_close_match_lists_the_known_ones(tmp_path: Path) -> None:
    message = error_of(tmp_path, REQUIRED_ONLY + "[store]\nzzzzzz = 1\n")
    assert "[store] unknown key 'zzzzzz'; known: path" in message


def with_keys(section: str, lines: str, text: str = REQUIRED_ONLY) -> str:
    """`text` with `lines` added to [section] (appended as a new table if absent)."""
    header = f"[{section}]\n"
    if header in text:
        return text.replace(header, header + lines + "\n", 1)
    return text + header + lines + "\n"


@pytest.mark.parametrize(
    ("section", "line", "expected"),
    [
        ("store", "path = 5", "[store] path must be a string, not 5"),
        ("bridge", "oauth_version = true", "[bridge] oauth_version must be a whole number"),
        ("bridge", "oauth_version = 2.0", "[bridge] oauth_version must be a whole number"),
        ("bridge", "oauth_version = 3", "[bridge] oauth_version must be 1 or 2"),
        (
            "bridge",
            'oauth_index_url = "meta.wikimedia.org/w/index.php"',
            "[bridge] oauth_index_url must be the full URL of the wiki's index.php",
        ),
        (
            "bridge",
            'oauth_rest_url = "https://meta.wikimedia.org/w/api.php"',
            "[bridge] oauth_rest_url must be the full URL of the wiki's rest.php",
        ),
        ("bot", 'edit_interval = "10"', "[bot] edit_interval must be a whole number or a number"),
        ("bot", "maxlag = false", "[bot] maxlag must be a whole number, not False"),
        ("wiki", 'request_prefixes = "Account request:"', "[wiki] request_prefixes must be a list"),
        ("wiki", "archive_after_days = -1", "[wiki] archive_after_days must not be negative"),
        ("provisioning", 'backend = "ssh"', "[provisioning] backend must be ldap, unix or dry-run"),
        ("provisioning", "lease_seconds = 1", "[provisioning] lease_seconds must be at least 5"),
        (
            "provisioning",
            "outage_retry_seconds = 0",
            "[provisioning] outage_retry_seconds must be at least 1",
        ),
        ("provisioning", 'home_mode = "0855"', "[provisioning] home_mode must be an octal mode"),
        ("provisioning", 'home_mode = "1777"', "[provisioning] home_mode must be an octal mode"),
        ("provisioning", "home_mode = 488", "[provisioning] home_mode must be a string"),
        (
            "provisioning",
            "reconcile_seconds = -1",
            "[provisioning] reconcile_seconds must not be negative (got -1)",
        ),
        ("databases", "interval = 90", "[databases] interval must be at most 30 seconds"),
        ("databases", "interval = 0", "[databases] interval must be at least 1"),
        ("databases", 'client_host = "db host"', "[databases] client_host must be a name"),
        ("databases", "client_port = 0", "[databases] client_port must be at least 1"),
        ("databases", "max_connections = -1", "[databases] max_connections must not be negative"),
        ("databases", 'admin_password = "x"', "[databases] unknown key 'admin_password'"),
    ],
)
def test_wrong_types_and_values(tmp_path: Path, section: str, line: str, expected: str) -> None:
    assert expected in error_of(tmp_path, with_keys(section, line))


MAIL = 'relay = "mail.example"\nsender = "tools@toolserver.example"\nrecipient_domain = "toolserver.example"'


def test_mail_is_off_unless_a_relay_is_set(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, REQUIRED_ONLY)).mail.relay == ""
    mail = load_config(write(tmp_path, with_keys("mail", MAIL))).mail
    assert (mail.relay, mail.port, mail.starttls, mail.timeout) == ("mail.example", 25, False, 30.0)
    assert (mail.sender, mail.recipient_domain) == (
        "tools@toolserver.example",
        "toolserver.example",
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (MAIL.replace('sender = "tools@toolserver.example"', ""), "[mail] sender must be set"),
        (
            MAIL.replace('recipient_domain = "toolserver.example"', ""),
            "[mail] recipient_domain must be set",
        ),
        (MAIL.replace("tools@toolserver.example", "Tools <t@x.example>"), "[mail] sender must be"),
        (MAIL.replace("tools@toolserver.example", "toolserver.example"), "[mail] sender must be"),
        (MAIL.replace('= "toolserver.example"', '= "a@b.example"'), "recipient_domain must be"),
        (MAIL + '\nusername = "ats"', "[mail] username is set without starttls"),
        (MAIL + "\nport = 0", "[mail] port must be at least 1"),
        (MAIL + '\npassword = "x"', "[mail] unknown key 'password'"),
    ],
)
def test_mail_settings_that_cannot_work_are_refused(
    tmp_path: Path, lines: str, expected: str
) -> None:
    assert expected in error_of(tmp_path, with_keys("mail", lines))


def test_a_relay_login_over_starttls_is_taken(tmp_path: Path) -> None:
    lines = MAIL + '\nusername = "ats"\nstarttls = true\nport = 587'
    mail = load_config(write(tmp_path, with_keys("mail", lines))).mail
    assert (mail.username, mail.starttls, mail.port) == ("ats", True, 587)


def test_a_section_must_be_a_table(tmp_path: Path) -> None:
    assert "[store] must be a table of keys" in error_of(tmp_path, 'store = "x"\n' + REQUIRED_ONLY)


def test_empty_request_page(tmp_path: Path) -> None:
    text = REQUIRED_ONLY.replace('"Toolserver/Requests"', '"  "')
    assert "[wiki] request_page must not be empty" in error_of(tmp_path, text)


@pytest.mark.parametrize(
    "api",
    [
        "http://127.0.0.1:8080/index.php",
        "http://127.0.0.1:8080/w/",
        "http://127.0.0.1:8080/w/notapi.php",
        "127.0.0.1:8080/w/api.php",
        "ftp://127.0.0.1/w/api.php",
        "http:///w/api.php",
        "http://127.0.0.1/w/api.php?action=query",
    ],
)
def test_api_must_be_the_url_of_api_php(tmp_path: Path, api: str) -> None:
    text = REQUIRED_ONLY.replace("http://127.0.0.1:8080/w/api.php", api)
    message = error_of(tmp_path, text)
    assert "[wiki] api must be the full URL of api.php" in message
    assert repr(api) in message


def test_https_api_is_accepted(tmp_path: Path) -> None:
    text = REQUIRED_ONLY.replace(
        "http://127.0.0.1:8080/w/api.php", "https://meta.wikimedia.org/w/api.php"
    )
    assert load_config(write(tmp_path, text)).wiki.api.startswith("https://meta")


def test_relative_paths_are_resolved_against_the_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc" / "ats"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = with_keys("store", 'path = "../db/ats.sqlite"', with_keys("bot", 'workdir = "pwb"'))
    config = load_config(write(folder, text))
    assert config.store_path == tmp_path / "etc" / "db" / "ats.sqlite"
    assert config.bot_workdir == folder / "pwb"
    # A relative --config path is also taken from the file's folder.
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("etc/ats/ats.toml"))
    assert config.store_path == tmp_path / "etc" / "db" / "ats.sqlite"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "ats.sqlite"
    config = load_config(write(tmp_path, REQUIRED_ONLY + f'[store]\npath = "{target}"\n'))
    assert config.store_path == target


def test_invalid_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, REQUIRED_ONLY + "[bot\n")
    assert "not valid TOML" in message
    assert "line 6" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such configuration file"


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert "cannot read" in str(caught.value)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("min_edits = true", "[policy] policy key 'min_edits' must be a whole number"),
        ('admins = "AdminUser"', "[policy] policy key 'admins' must be a list of usernames"),
        ("min_editz = 5", "[policy] unknown policy key 'min_editz'"),
    ],
)
def test_policy_errors_are_prefixed(tmp_path: Path, policy: str, expected: str) -> None:
    assert expected in error_of(tmp_path, REQUIRED_ONLY + f"[policy]\n{policy}\n")


def test_each_secret_is_read_from_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.setenv(name, f"value of {name}")
    assert {name: secret(name) for name in SECRETS} == {
        name: f"value of {name}" for name in SECRETS
    }


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_secret_is_named(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("ATS_OAUTH_SECRET", raising=False)
    else:
        monkeypatch.setenv("ATS_OAUTH_SECRET", value)
    with pytest.raises(ConfigError) as caught:
        secret("ATS_OAUTH_SECRET")
    assert "ATS_OAUTH_SECRET is not set" in str(caught.value)
    assert "OAuth consumer secret" in str(caught.value)


def test_describe_lists_every_key() -> None:
    text = describe()
    for section, keys in SCHEMA.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"  {key} " in text
    assert "[policy]" in text
    for key in policy_keys():
        assert f"  {key} " in text
    assert "api" in text and "required" in text


def test_the_tool_databases_default_to_the_servers_own_socket(tmp_path: Path) -> None:
    plain = load_config(write(tmp_path, REQUIRED_ONLY)).databases
    assert (plain.admin_socket, plain.admin_host, plain.admin_user) == (
        "/run/mysqld/mysqld.sock",
        "",
        "root",
    )
    assert (plain.client_host, plain.client_port, plain.interval) == ("127.0.0.1", 3306, 5.0)
    given = with_keys("databases", 'admin_socket = "run/db.sock"\nclient_host = "db.example"')
    databases = load_config(write(tmp_path, given)).databases
    assert databases.admin_socket == str((tmp_path / "run" / "db.sock").resolve())
    assert databases.client_host == "db.example"
