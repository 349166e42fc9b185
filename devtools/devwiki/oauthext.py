"""The real MediaWiki OAuth extension on a dev wiki: where it is found, the LocalSettings.php
lines and keys that load it, and registering consumers through it.

The extension (REL1_39 with its PHP dependencies) lies in ``../shared/mediawiki-oauth``
beside the project checkout, or in ``$ATS_OAUTH_DIR``; it is loaded where it lies, never
copied.  That folder also holds ``mkconsumer.php``, which proposes and approves a consumer
of either OAuth version through the extension's own submit control, as the wiki's special
pages do; ``register_consumer`` runs it and returns the consumer's key and secret.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devtools.devwiki.local import LocalWiki
from devtools.devwiki.php import MEDIAWIKI_DIR, DevWikiError, php_string, run_script
from devtools.devwiki.state import read_state, update_state
from devtools.shared import SharedExtension

MKCONSUMER = "mkconsumer.php"


OAUTH = SharedExtension(
    "ATS_OAUTH_DIR", "mediawiki-oauth", ("OAuth/extension.json", MKCONSUMER), "the OAuth extension"
)


def oauth_dir() -> Path | None:
    """The folder holding ``OAuth/extension.json`` and ``mkconsumer.php``:
    ``$ATS_OAUTH_DIR`` if set, else ``../shared/mediawiki-oauth`` beside the checkout; None
    if the extension is not there."""
    return OAUTH.find()


def missing_oauth_reason() -> str:
    """One line saying where the extension was looked for (when ``oauth_dir()`` is None)."""
    return OAUTH.missing()


def default_oauth_dir() -> Path:
    """Where the extension is looked for without ``$ATS_OAUTH_DIR``."""
    return OAUTH.default()


def oauth_settings(folder: Path, key_dir: Path) -> str:
    """The LocalSettings.php lines that load the extension from ``folder`` with the OAuth
    2.0 signing keys in ``key_dir``."""
    return (
        "\n# --- added by devtools.devwiki: the real OAuth extension ---\n"
        f"wfLoadExtension( 'OAuth', {php_string(str(folder / 'OAuth' / 'extension.json'))} );\n"
        "# This wiki is its own central wiki, and plain http on loopback.\n"
        "$wgMWOAuthCentralWiki = false;\n"
        "$wgMWOAuthSecureTokenTransfer = false;\n"
        f"$wgOAuth2PrivateKey = {php_string(str(key_dir / 'oauth2.key'))};\n"
        f"$wgOAuth2PublicKey = {php_string(str(key_dir / 'oauth2.pub'))};\n"
        "$wgGroupPermissions['sysop']['mwoauthproposeconsumer'] = true;\n"
        "$wgGroupPermissions['sysop']['mwoauthupdateownconsumer'] = true;\n"
        "$wgGroupPermissions['sysop']['mwoauthmanageconsumer'] = true;\n"
        "$wgGroupPermissions['sysop']['mwoauthviewprivate'] = true;\n"
    )


def _make_keys(key_dir: Path) -> None:
    private, public = key_dir / "oauth2.key", key_dir / "oauth2.pub"
    if private.exists() and public.exists():
        return
    try:
        pem = subprocess.run(
            ["openssl", "genrsa", "2048"], capture_output=True, check=True, timeout=60
        ).stdout
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        public.write_bytes(
            subprocess.run(
                ["openssl", "rsa", "-pubout"], input=pem, capture_output=True, check=True
            ).stdout
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise DevWikiError(
            f"could not make the OAuth 2.0 signing keys with openssl: {exc}"
        ) from exc


def enable_oauth(wiki: LocalWiki) -> None:
    """Load the real extension on ``wiki`` (already installed) and create its tables.

    Idempotent: the state file remembers that it was done.  Raises ``DevWikiError`` when the
    extension is not beside the checkout.
    """
    if read_state(wiki.state_path).get("oauth"):
        return
    folder = oauth_dir()
    if folder is None:
        raise DevWikiError(missing_oauth_reason())
    _make_keys(wiki.root)
    with wiki.config_path.open("a", encoding="utf-8") as conf:
        conf.write(oauth_settings(folder, wiki.root))
    wiki.run_maintenance("update.php", "--quick")
    update_state(wiki.state_path, oauth=str(folder))


@dataclass(frozen=True)
class Consumer:
    """An approved OAuth consumer of the wiki: what a chapter copies into its config."""

    version: int
    key: str
    secret: str
    callback_url: str
    grants: tuple[str, ...]


def register_consumer(
    wiki: LocalWiki,
    *,
    version: int,
    callback_url: str,
    name: str,
    owner: str | None = None,
) -> Consumer:
    """Propose and approve an identity-only consumer (``granttype=authonly``: "User identity
    verification only, no ability to read pages or act on a user's behalf") owned by
    ``owner`` (the wiki's admin by default); ``name`` must be new on this wiki."""
    folder = oauth_dir()
    if folder is None:
        raise DevWikiError(missing_oauth_reason())
    out = run_script(
        str(folder / MKCONSUMER),
        (
            "--user",
            owner or wiki.admin_user,
            "--name",
            name,
            "--oauth",
            str(version),
            "--callbackUrl",
            callback_url,
            "--granttype",
            "authonly",
        ),
        cwd=wiki.root,
        # The script finds MediaWiki's Maintenance.php through MW_INSTALL_PATH.
        env={**wiki._env(), "MW_INSTALL_PATH": str(MEDIAWIKI_DIR)},
    )
    try:
        answer = json.loads(out.strip().splitlines()[-1])
        consumer = Consumer(
            version=int(answer["oauth"]),
            key=str(answer["key"]),
            secret=str(answer["secret"]),
            callback_url=callback_url,
            grants=tuple(answer.get("grants") or ()),
        )
    except (IndexError, KeyError, TypeError, ValueError):
        raise DevWikiError(f"{MKCONSUMER} did not print a consumer: {out.strip()!r}") from None
    if answer.get("approved") is not True:
        raise DevWikiError(f"consumer {name!r} was not approved: {answer.get('approved')!r}")
    return consumer
