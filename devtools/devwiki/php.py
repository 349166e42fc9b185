"""Running Debian's MediaWiki with PHP: where MediaWiki lies, the ``php`` binary, its
maintenance scripts, PHP string literals, and the error every part of the dev wiki raises.

A maintenance script is a PHP process of its own, which compiles much of MediaWiki
before it does anything (about half of its CPU time for a one-page ``edit.php``). The
scripts keep what PHP compiled in OPcache's file cache, in a folder of the user's own
cache (``~/.cache/american-toolserver/php-opcache``), so the next script reads it
instead; PHP checks each file's timestamp, as for any cached script. The web server
(``php -S``) keeps its OPcache in memory already.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from policies.errors import Refusal

MEDIAWIKI_DIR = Path("/usr/share/mediawiki")


class DevWikiError(Refusal, RuntimeError):
    """The local wiki could not be installed, started, stopped or driven."""


def php() -> str:
    """The path of the ``php`` command."""
    found = shutil.which("php")
    if found is None:
        raise DevWikiError(
            "php is not installed (need Debian's php-cli, php-sqlite3, php-intl, php-mbstring, "
            "php-xml and mediawiki packages; see LOCALWIKI.md)"
        )
    return found


def check_prerequisites() -> None:
    """Raise ``DevWikiError`` unless PHP and MediaWiki are installed."""
    php()
    if not (MEDIAWIKI_DIR / "maintenance" / "install.php").exists():
        raise DevWikiError(f"MediaWiki is not installed at {MEDIAWIKI_DIR} (apt-get mediawiki)")


def php_string(value: str) -> str:
    """``value`` as a single-quoted PHP string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def opcache_options() -> list[str]:
    """``php`` options that keep compiled scripts in the user's file cache; none when that
    folder cannot be made or is not the user's alone (a cache others can write to would
    run their code)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "american-toolserver" / "php-opcache"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.lstat()
    except OSError:
        return []
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.getuid()
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        return []
    return [
        "-d",
        "opcache.enable_cli=1",
        "-d",
        f"opcache.file_cache={folder}",
        "-d",
        "opcache.file_cache_only=1",
    ]


def maintenance_path(script: str) -> Path:
    """``maintenance/<script>`` of MediaWiki, or ``script`` itself when it is absolute (an
    extension's)."""
    return Path(script) if Path(script).is_absolute() else MEDIAWIKI_DIR / "maintenance" / script


def run_script(
    script: str,
    args: tuple[str, ...],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin: str | None = None,
    timeout: float = 600,
    show_args: bool = True,
) -> str:
    """Run a maintenance script with ``php``; its stdout, or ``DevWikiError`` with its
    output when it fails (naming its arguments unless ``show_args`` is false: they may hold
    a password)."""
    path = maintenance_path(script)
    if not path.exists():
        raise DevWikiError(f"no maintenance script {path}")
    try:
        done = subprocess.run(
            [php(), *opcache_options(), str(path), *args],
            cwd=cwd,
            env=env,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DevWikiError(f"{script} timed out after {exc.timeout} s") from exc
    if done.returncode != 0:
        named = " ".join((script, *args)) if show_args else script
        raise DevWikiError(
            f"{named} failed with exit code {done.returncode}:\n"
            f"{done.stderr.strip()}\n{done.stdout.strip()}".rstrip()
        )
    return done.stdout
