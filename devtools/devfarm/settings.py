"""What the farm writes for MediaWiki: each wiki's LocalSettings.php lines that make it one
wiki of a CentralAuth farm, and a maintenance script that creates or attaches a whole batch
of accounts in one php process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devtools.devfarm.central import DevFarmError
from devtools.devfarm.personas import META, SITE_NAMES, WIKIS
from devtools.devwiki.local import LocalWiki
from devtools.devwiki.php import php_string

CENTRAL_DB = "centralauth"
USERS_SCRIPT = "farmUsers.php"


def farm_settings(db_name: str, ports: Mapping[str, int], extension_dir: Path) -> str:
    """The LocalSettings.php lines of the farm's wiki ``db_name``; ``ports`` names every
    wiki's port."""
    servers = ", ".join(f"'{name}' => 'http://127.0.0.1:{port}'" for name, port in ports.items())
    sites = ", ".join(f"'{name}' => '{SITE_NAMES[name]}'" for name in WIKIS)
    extension = extension_dir / "CentralAuth" / "extension.json"
    return (
        "\n# --- added by devtools.devfarm: one wiki of a CentralAuth farm ---\n"
        f"$wgLocalDatabases = [ {', '.join(repr(n) for n in WIKIS)} ];\n"
        "$wgConf->wikis = $wgLocalDatabases;\n"
        "$wgConf->suffixes = [ 'wiki' ];\n"
        "$wgConf->settings = [\n"
        f"    'wgServer' => [ {servers} ],\n"
        f"    'wgCanonicalServer' => [ {servers} ],\n"
        "    'wgScriptPath' => [ 'default' => '' ],\n"
        "    'wgArticlePath' => [ 'default' => '/index.php/$1' ],\n"
        f"    'wgSitename' => [ {sites} ],\n"
        "    'wgLanguageCode' => [ 'default' => 'en' ],\n"
        "];\n"
        f"wfLoadExtension( 'CentralAuth', {php_string(str(extension))} );\n"
        f"$wgCentralAuthDatabase = '{CENTRAL_DB}';\n"
        "$wgCentralAuthAutoMigrate = true;\n"
        "$wgCentralAuthAutoMigrateNonGlobalAccounts = true;\n"
        "$wgCentralAuthCookies = true;\n"
        "# BotPasswords are global, as on Wikimedia's wikis: one table, metawiki's.\n"
        f"$wgBotPasswordsDatabase = '{META}';\n"
        "# Cookies ignore the port: names of this farm's own keep two farms apart.\n"
        f"$wgCookiePrefix = '{db_name}{ports[db_name]}';\n"
        f"$wgCentralAuthCookiePrefix = 'centralauth{ports[META]}_';\n"
        "# Throwaway accounts: 30000 PBKDF2 rounds cost 0.1 s for each one made.\n"
        "$wgPasswordConfig['pbkdf2']['cost'] = '1000';\n"
    )


def run_users_script(script: Path, wiki: LocalWiki, mode: str, users: list[dict[str, Any]]) -> None:
    """Create (on the home wiki) or attach (elsewhere) a batch of accounts in one php, with
    the script ``USERS_PHP`` written to ``script``."""
    if not users:
        return
    if not script.exists():
        script.write_text(USERS_PHP, encoding="utf-8")
    out = wiki.run_maintenance(str(script), mode, stdin=json.dumps(users))
    if "ok" not in out.split():
        raise DevFarmError(f"{script.name} {mode} on {wiki.db_name} failed: {out.strip()}")


# A maintenance script for batches: createAndPromote.php and CentralAuth's
# createLocalAccount.php cost one php process (~0.5 s) per account; this does a whole
# batch, read as JSON from stdin, in one.  "create" makes the account the way
# createAndPromote.php does (CentralAuth's hook makes and attaches the global account);
# "attach" makes the local account of an existing global one.  Existing accounts are
# left as they are (apart from groups), so a batch can be run again.
USERS_PHP = r"""<?php
require_once getenv( 'MW_INSTALL_PATH' ) . '/maintenance/Maintenance.php';

use MediaWiki\Auth\AuthManager;
use MediaWiki\Extension\CentralAuth\CentralAuthServices;
use MediaWiki\MediaWikiServices;

class FarmUsers extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->addArg( 'mode', 'create or attach' );
	}

	public function execute() {
		$mode = $this->getArg( 0 );
		$users = json_decode( stream_get_contents( STDIN ), true );
		$services = MediaWikiServices::getInstance();
		$groups = $services->getUserGroupManager();
		foreach ( $users as $spec ) {
			$user = $services->getUserFactory()->newFromName( $spec['name'] );
			if ( !$user ) {
				$this->fatalError( "invalid username {$spec['name']}" );
			}
			if ( $user->idForName() === 0 ) {
				if ( $mode === 'create' ) {
					$status = $services->getAuthManager()->autoCreateUser(
						$user, AuthManager::AUTOCREATE_SOURCE_MAINT, false
					);
					if ( !$status->isGood() ) {
						$this->fail( $spec, Status::wrap( $status ) );
					}
					$status = $user->changeAuthenticationData( [
						'username' => $user->getName(),
						'password' => $spec['password'],
						'retype' => $spec['password'],
					] );
					if ( !$status->isGood() ) {
						$this->fail( $spec, Status::wrap( $status ) );
					}
				} else {
					$status = CentralAuthServices::getForcedLocalCreationService()
						->attemptAutoCreateLocalUserFromName( $spec['name'] );
					if ( !$status->isGood() ) {
						$this->fail( $spec, Status::wrap( $status ) );
					}
				}
				$user = $services->getUserFactory()->newFromName( $spec['name'] );
				SiteStatsUpdate::factory( [ 'users' => 1 ] )->doUpdate();
			}
			if ( !empty( $spec['sysop'] ) ) {
				$groups->addUserToMultipleGroups( $user, [ 'sysop' ] );
			}
		}
		$this->output( "ok\n" );
	}

	private function fail( array $spec, Status $status ) {
		$this->fatalError( "{$spec['name']}: " . $status->getWikiText( false, false, 'en' ) );
	}
}

$maintClass = FarmUsers::class;
require_once RUN_MAINTENANCE_IF_MAIN;
"""
