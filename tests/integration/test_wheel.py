"""The project as deployers install it: a wheel built from the repository and installed
into a fresh virtualenv outside the checkout carries everything the program reads at
run time (the message files, the bridge's templates and static files, the login host's
file templates, the directory's schemas, the policy defaults).

Offline: the wheel is built without build isolation (setuptools comes with the test
extras), and the fresh virtualenv borrows the dependencies of `.venv` through a plain
path entry (not the editable install, whose finder would lead back to the checkout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECKS = r"""
import sys, pathlib
import ats, bridge, policies
from policies import message_files
here = pathlib.Path(sys.prefix)
for module in (ats, bridge, policies):
    assert pathlib.Path(module.__file__).is_relative_to(here), module.__file__
assert message_files.I18N_DIR.is_relative_to(here), message_files.I18N_DIR
assert (message_files.I18N_DIR / "de.json").is_file(), message_files.I18N_DIR
from bridge import create_app
import os
os.environ.setdefault("ATS_SESSION_KEY", "k" * 32)
os.environ.setdefault("ATS_OAUTH_SECRET", "s")
app = create_app({
    "store_path": str(pathlib.Path.cwd() / "ats.sqlite"),
    "url": "http://127.0.0.1:5000",
    "wiki_api": "http://127.0.0.1:9/w/api.php",
    "consumer_key": "key",
    "secure_cookies": False,
})
client = app.test_client()
for lang in ("en", "de"):
    page = client.get(f"/?uselang={lang}")
    assert page.status_code == 200, (lang, page.status_code)
    text = page.get_data(as_text=True)
    assert f'lang="{lang}"' in text, (lang, text[:300])
english = client.get("/?uselang=en").get_data(as_text=True)
assert text != english  # the German page is German, from the installed message files
assert client.get("/static/codex.css").status_code == 200
print("pages ok")
"""


def _run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        check=False,
    )


def test_a_wheel_installed_outside_the_checkout_has_what_the_program_reads(
    tmp_path: Path,
) -> None:
    # Built from a copy: setuptools leaves its build/ folder in the tree it builds.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "var", "build", "*.egg-info", "test-artifacts", "__pycache__"
        ),
    )
    wheels = tmp_path / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(wheels), str(source)],
        source,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("american_toolserver-*.whl")

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path
    )
    # The dependencies of .venv, as a plain path: not its .pth files (the editable install).
    Path(site.stdout.strip(), "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--no-index", str(wheel)],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    helped = _run([str(venv / "bin" / "ats"), "--help"], elsewhere)
    assert helped.returncode == 0 and "usage: ats" in helped.stdout, helped.stderr

    pages = _run([str(python), "-c", CHECKS], elsewhere, OAUTHLIB_INSECURE_TRANSPORT="1")
    assert pages.returncode == 0 and "pages ok" in pages.stdout, pages.stdout + pages.stderr

    config = elsewhere / "ats.toml"
    config.write_text(
        '[wiki]\napi = "https://meta.example.org/w/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "B"\n[store]\npath = "ats.sqlite"\n'
        '[provisioning]\nbackend = "ldap"\nldap_url = "ldap://127.0.0.1:9"\n'
        'base_dn = "dc=toolserver,dc=example"\nbind_dn = "cn=admin,dc=toolserver,dc=example"\n'
    )
    rendered = _run(
        [str(venv / "bin" / "ats"), "--config", str(config), "host", "render", "--output", "out"],
        elsewhere,
    )
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    for path in (
        "etc/sssd/sssd.conf",
        "usr/local/sbin/ats-session-guard",
        "ldap/provider.conf",
        "ldap/sudo.schema",
        "etc/mysql/mariadb.conf.d/60-ats-server.cnf",
    ):
        assert (elsewhere / "out" / path).is_file(), path
    # The message files came with it: the bot's replies render from the installed copy.
    replies = _run(
        [str(python), "-c", "from bot.rules import messages; print(messages.Catalog('de').lang)"],
        elsewhere,
    )
    assert replies.stdout.strip() == "de", replies.stdout + replies.stderr
