"""MariaDB's drop-ins as `provisioning.databasefiles` renders them: parsed as MariaDB
reads an option file, each setting the server and its clients need, every placeholder
filled, and settings that cannot work refused with a message."""

from __future__ import annotations

import configparser

import pytest

from provisioning.databasefiles import DatabaseFiles, render
from provisioning.loginhost import PLACEHOLDER, RenderError


def options(text: str) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(allow_no_value=True, strict=True, interpolation=None)
    parsed.read_string(text)
    return parsed


def test_the_server_listens_where_clients_are_sent_and_is_kept_tight() -> None:
    server, client = render(DatabaseFiles(host="10.0.0.5", port=3307, per_account=20))
    assert server.path == "etc/mysql/mariadb.conf.d/60-ats-server.cnf"
    assert client.path == "etc/mysql/mariadb.conf.d/60-ats-client.cnf"
    assert server.mode == client.mode == 0o644
    mariadb = options(server.text)["mariadb"]
    assert dict(mariadb) == {
        "bind-address": "10.0.0.5",
        "port": "3307",
        "skip-name-resolve": None,
        "character-set-server": "utf8mb4",
        "collation-server": "utf8mb4_general_ci",
        "local-infile": "0",
        "secure-file-priv": "/var/lib/mysql-files",
        "max_connections": "500",
    }
    assert "Each account may hold 20" in server.text
    assert dict(options(client.text)["client"]) == {
        "host": "10.0.0.5",
        "port": "3307",
        "default-character-set": "utf8mb4",
    }
    for item in (server, client):
        assert not PLACEHOLDER.search(item.text), item.path


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (DatabaseFiles(host="db host"), "must be a host name or an address"),
        (DatabaseFiles(host="db\n[mariadb]"), "must be a host name or an address"),
        (DatabaseFiles(host="db", port=70000), "must be a TCP port"),
        (DatabaseFiles(host="db", per_account=600), "must be at most the server's own"),
        (DatabaseFiles(host="db", files_dir="files"), "must be a path"),
    ],
)
def test_settings_that_cannot_work_are_refused(settings: DatabaseFiles, said: str) -> None:
    with pytest.raises(RenderError, match=said):
        render(settings)
