"""Installing a dev wiki: ``install.php`` into the wiki's folder with SQLite storage, the
project's LocalSettings.php lines, and the bot's account with its BotPassword.
"""

from __future__ import annotations

from devtools.devwiki.local import STATE_FILE, LocalWiki, random_password
from devtools.devwiki.php import MEDIAWIKI_DIR, DevWikiError, php_string, run_script

BOT_GRANTS = "basic,highvolume,editpage,createeditmovepage"


def install_mediawiki(wiki: LocalWiki) -> None:
    """install.php into ``wiki.root`` with SQLite files in ``wiki.data_dir``, then the
    settings."""
    (wiki.root / "conf").mkdir(parents=True, exist_ok=True)
    (wiki.root / "cache").mkdir(exist_ok=True)
    if wiki.config_path.exists() or wiki.db_path.exists():
        raise DevWikiError(
            f"{wiki.root} holds a half-made wiki ({STATE_FILE} missing); remove it first"
        )
    env = {k: v for k, v in wiki._env().items() if k != "MW_CONFIG_FILE"}
    arguments = (
        *("--dbtype", "sqlite", "--dbpath", str(wiki.data_dir), "--dbname", wiki.db_name),
        *("--server", wiki.server, "--scriptpath", "", "--lang", "en", "--skins", "Vector"),
        *("--pass", wiki.admin_password, "--confpath", str(wiki.config_path.parent)),
        wiki.site_name,
        wiki.admin_user,
    )
    run_script("install.php", arguments, cwd=wiki.root, env=env, timeout=300, show_args=False)
    if not wiki.config_path.exists():  # install.php exits 0 even when it cannot write it
        raise DevWikiError(f"install.php did not write {wiki.config_path}")
    with wiki.config_path.open("a", encoding="utf-8") as conf:
        conf.write(local_settings(wiki))


def local_settings(wiki: LocalWiki) -> str:
    """The lines appended to install.php's LocalSettings.php."""
    extensions = ""
    if (MEDIAWIKI_DIR / "extensions" / "ParserFunctions" / "extension.json").exists():
        extensions = "wfLoadExtension( 'ParserFunctions' );\n"
    return (
        "\n# --- added by devtools.devwiki ---\n"
        f"$wgCacheDirectory = {php_string(str(wiki.root / 'cache'))};\n"
        "$wgEnableBotPasswords = true;\n"
        "$wgRateLimits = [];\n"
        "$wgGroupPermissions['user']['noratelimit'] = true;\n"
        "$wgPasswordAttemptThrottle = [];\n"
        "$wgAccountCreationThrottle = 0;\n"
        "$wgShowExceptionDetails = true;\n"
        "# Every API request with its parameters (MediaWiki redacts passwords and\n"
        "# tokens): what benchmarks count by kind, POSTs included.\n"
        f"$wgDebugLogGroups['api'] = {php_string(str(wiki.api_log_path))};\n"
        "# A throwaway wiki: no fsync per commit (importing 4000 revisions: 19 s -> 8 s).\n"
        "$wgDBservers = [ [ 'host' => '', 'dbname' => $wgDBname, 'user' => '',\n"
        "    'password' => '', 'type' => 'sqlite', 'load' => 1, 'flags' => DBO_DEFAULT,\n"
        "    'variables' => [ 'synchronous' => 'OFF' ] ] ];\n"
        f"{extensions}"
        f"{wiki._extra_settings()}"
    )


def create_bot(wiki: LocalWiki) -> None:
    """The bot's account and its BotPassword."""
    wiki.run_maintenance("createAndPromote.php", "--bot", wiki.bot_user, random_password(24))
    wiki.run_maintenance(
        "createBotPassword.php",
        "--appid",
        wiki.bot_appid,
        "--grants",
        BOT_GRANTS,
        wiki.bot_user,
        wiki.bot_password,
    )
