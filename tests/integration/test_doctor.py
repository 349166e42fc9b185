"""`ats doctor` against the real local wiki, a real slapd and the stand-in OAuth
provider: a healthy deployment passes every check; each misconfiguration a new admin
makes shows its FAIL line with its fix, and the exit status is 1."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.devoauth import DevOAuth
from devtools.devwiki import DevWiki
from devtools.ports import free_port
from membership.store import Store
from provisioning.directory_access import set_host_account
from tests import forked_cli
from tests.integration.slapd import Slapd, provider_settings

RUN_PAGE = "Toolserver/Doctor/Run"
REQUEST_PAGE = "Toolserver/Doctor/Requests"


@pytest.fixture(scope="module")
def healthy_wiki(devwiki: DevWiki) -> DevWiki:
    devwiki.edit_as(devwiki.admin_user, REQUEST_PAGE, "Requests.\n", "request page")
    devwiki.edit_as(devwiki.admin_user, RUN_PAGE, "true", "kill switch")
    return devwiki


@pytest.fixture
def oauth() -> Iterator[DevOAuth]:
    provider = DevOAuth(callback_url="https://bridge.example/oauth/callback").start()
    yield provider
    provider.stop()


class Deployment:
    def __init__(self, wiki: DevWiki, root: Path, slapd: Slapd, oauth: DevOAuth) -> None:
        self.wiki, self.root, self.slapd, self.oauth = wiki, root, slapd, oauth
        self.values = {
            "api": wiki.api_url,
            "request_page": REQUEST_PAGE,
            "run_page": RUN_PAGE,
            "url": "https://bridge.example",
            "consumer_key": oauth.consumer_key,
            "bind_dn": slapd.root_dn,
        }
        self.env = {
            "ATS_BOT_PASSWORD": wiki.bot_password,
            "ATS_OAUTH_SECRET": oauth.consumer_secret,
            "ATS_LDAP_PASSWORD": slapd.password,
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
        }

    def doctor(self, **changes: str) -> subprocess.CompletedProcess[str]:
        values = {**self.values, **{k: v for k, v in changes.items() if k.islower()}}
        env = {**self.env, **{k: v for k, v in changes.items() if k.isupper()}}
        config = self.root / "ats.toml"
        config.write_text(
            f"""[wiki]
api = "{values["api"]}"
request_page = "{values["request_page"]}"
run_page = "{values["run_page"]}"
[bot]
username = "{self.wiki.bot_login_name}"
[store]
path = "ats.sqlite"
[bridge]
url = "{values["url"]}"
oauth_version = 1
consumer_key = "{values["consumer_key"]}"
oauth_index_url = "{self.oauth.url}/index.php"
oauth_rest_url = "{self.oauth.url}/rest.php"
trusted_proxies = 1
[provisioning]
backend = "ldap"
ldap_url = "{self.slapd.url}"
base_dn = "{self.slapd.base_dn}"
bind_dn = "{values["bind_dn"]}"
""",
            encoding="utf-8",
        )
        return forked_cli.run(
            ["--config", str(config), "doctor"], env={"PATH": "/usr/bin:/bin", **env}, timeout=120
        )

    def install_templates(self) -> None:
        config = self.root / "ats.toml"
        self.doctor()  # writes the configuration
        done = forked_cli.run(
            ["--config", str(config), "wiki", "install-templates"],
            env={"PATH": "/usr/bin:/bin", **self.env},
            timeout=180,
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def guarded() -> Iterator[Slapd]:
    """A directory with the shipped access rules, as a healthy deployment has."""
    server = Slapd.start(database_extra=provider_settings())
    yield server
    server.stop()


@pytest.fixture
def deployment(
    healthy_wiki: DevWiki, tmp_path: Path, guarded: Slapd, oauth: DevOAuth
) -> Deployment:
    setup = Deployment(healthy_wiki, tmp_path, guarded, oauth)
    setup.install_templates()
    Store(tmp_path / "ats.sqlite").close()
    return setup


def line_of(result: subprocess.CompletedProcess[str], check: str) -> tuple[str, str]:
    """The (status line, fix line) of one check in the doctor's output."""
    lines = result.stdout.splitlines()
    for n, line in enumerate(lines):
        if line[6:].startswith(f"{check}:"):
            fix = lines[n + 1].strip() if n + 1 < len(lines) else ""
            return line, fix if fix.startswith("fix:") else ""
    raise AssertionError(f"no {check!r} line in:\n{result.stdout}")


def failing(result: subprocess.CompletedProcess[str], check: str, *words: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    line, fix = line_of(result, check)
    assert line.startswith("FAIL"), result.stdout
    for word in words:
        assert word in line + fix, result.stdout
    assert fix, f"no fix line for {check}:\n{result.stdout}"
    return fix


def test_a_healthy_deployment_passes_every_check(deployment: Deployment) -> None:
    result = deployment.doctor()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "skip" not in result.stdout
    assert line_of(result, "wiki API")[0].startswith("ok    wiki API: MediaWiki 1.")
    for check in (
        "bot login",
        "request page",
        "kill switch",
        "templates",
        "bridge url",
        "OAuth consumer",
        "directory",
        "store",
        "clock",
    ):
        assert line_of(result, check)[0].startswith("ok"), result.stdout
    assert result.stdout.rstrip().endswith("all checks passed")


def test_wiki_down(deployment: Deployment) -> None:
    result = deployment.doctor(api=f"http://127.0.0.1:{free_port()}/api.php")
    fix = failing(result, "wiki API", "cannot reach", "connection refused")
    assert "[wiki] api" in fix
    assert line_of(result, "bot login")[0].startswith("skip")


def test_wrong_api_path(deployment: Deployment) -> None:
    result = deployment.doctor(api=deployment.wiki.server + "/w/api.php")
    fix = failing(result, "wiki API", "does not answer as a MediaWiki API")
    assert "full URL of the wiki's api.php" in fix


def test_wrong_bot_password(deployment: Deployment) -> None:
    result = deployment.doctor(ATS_BOT_PASSWORD="0123456789abcdef0123456789abcdef")
    fix = failing(result, "bot login", "the wiki refused")
    assert "ATS_BOT_PASSWORD" in fix and "Special:BotPasswords" in fix


def test_missing_pages(deployment: Deployment) -> None:
    result = deployment.doctor(
        request_page="Toolserver/Doctor/Nothing", run_page="Toolserver/Doctor/NoSwitch"
    )
    assert "create Toolserver/Doctor/Nothing" in failing(result, "request page", "does not exist")
    fix = failing(result, "kill switch", "does not exist", "the bot stops")
    assert "create Toolserver/Doctor/NoSwitch with the text `true`" in fix


def test_switch_off(deployment: Deployment) -> None:
    off = "Toolserver/Doctor/RunOff"
    deployment.wiki.edit_as(deployment.wiki.admin_user, off, "false", "switch off")
    fix = failing(deployment.doctor(run_page=off), "kill switch", "reads 'false'")
    assert "to read `true`" in fix


def test_default_bridge_url(deployment: Deployment) -> None:
    result = deployment.doctor(url="http://127.0.0.1:5000")
    assert "public https address" in failing(result, "bridge url", "is the default")
    plain = deployment.doctor(url="http://bridge.example")
    assert "TLS proxy" in failing(plain, "bridge url", "is not https")


def test_unknown_consumer(deployment: Deployment) -> None:
    result = deployment.doctor(consumer_key="0000aaaa0000aaaa0000aaaa0000aaaa")
    fix = failing(result, "OAuth consumer", "did not start a sign-in")
    assert "[bridge] consumer_key" in fix


def test_ldap_bind_refused(deployment: Deployment) -> None:
    result = deployment.doctor(ATS_LDAP_PASSWORD="not-the-password")
    fix = failing(result, "directory", "refused the bind", "invalidCredentials")
    assert "ATS_LDAP_PASSWORD" in fix
    missing = deployment.doctor(bind_dn="cn=nobody," + deployment.slapd.base_dn)
    failing(missing, "directory", "refused the bind")


def test_a_directory_that_tells_anyone_everything(
    deployment: Deployment, slapd: Slapd, guarded: Slapd
) -> None:
    """slapd without access rules (its default: anyone reads everything) fails the
    check: anonymous readers see entries, the login hosts' DN sees password hashes."""
    host_dn = f"cn=login-hosts,ou=services,{slapd.base_dn}"
    secret = "the-login-hosts-secret"
    for server in (slapd, guarded):
        set_host_account(server.url, server.root_dn, server.password, host_dn, secret)
    deployment.slapd = slapd
    result = deployment.doctor(ATS_HOST_LDAP_PASSWORD=secret)
    fix = failing(result, "directory", "answers an anonymous search", "password hash of")
    assert "access rules" in fix and "ldap/provider.conf" in fix
    # The same, with the shipped rules: nothing shown, the login hosts' DN included.
    deployment.slapd = guarded
    healthy = deployment.doctor(ATS_HOST_LDAP_PASSWORD=secret)
    assert line_of(healthy, "directory")[0].startswith("ok"), healthy.stdout


def test_old_schema(deployment: Deployment) -> None:
    path = deployment.root / "ats.sqlite"
    with sqlite3.connect(path) as db:
        last = db.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid DESC").fetchone()[0]
        db.execute("DELETE FROM _sqlite_migrations WHERE name = ?", [last])
    fix = failing(deployment.doctor(), "store", "old schema", last)
    assert "ats backup FILE" in fix
    with sqlite3.connect(path) as db:  # the doctor changed nothing
        names = [row[0] for row in db.execute("SELECT name FROM _sqlite_migrations")]
    assert last not in names


def test_templates_missing_or_old(deployment: Deployment) -> None:
    wiki = deployment.wiki
    title = "Template:ATS status"
    original = wiki.page_text(title)
    wiki.edit_as(wiki.admin_user, title, original + "\n<!-- an older version -->", "older")
    try:
        fix = failing(deployment.doctor(), "templates", "not this version's", title)
        assert "ats wiki install-templates" in fix
    finally:
        deployment.install_templates()
    assert line_of(deployment.doctor(), "templates")[0].startswith("ok")
