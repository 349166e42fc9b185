"""`~/replica.my.cnf`: the account's database credentials, as ToolsDB writes them (pure).

The file is a MariaDB option file with one `[client]` group — `user`, `password`,
`host`, `port` — so `mariadb --defaults-file=~/replica.my.cnf` and every client library
that reads option files connect with it. `parse` reads back what `text` writes (and
tolerates what a person might have done to it: comments, quotes, spaces, other groups),
and never raises on a file it cannot read: that file simply holds no credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_NAME = "replica.my.cnf"
MODE = 0o400
MAX_SIZE = 64 * 1024  # a credentials file is a few lines; anything larger is not ours


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    host: str
    port: int

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"Credentials(user={self.user!r}, host={self.host!r}, port={self.port})"


def text(credentials: Credentials) -> str:
    return (
        "[client]\n"
        f"user = {credentials.user}\n"
        f"password = {credentials.password}\n"
        f"host = {credentials.host}\n"
        f"port = {credentials.port}\n"
    )


def parse(content: str) -> Credentials | None:
    """The credentials of the `[client]` group, or None when it lacks any of the four."""
    group = ""
    found: dict[str, str] = {}
    for raw in content.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip().lower()
            continue
        if group != "client" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().lower().replace("_", "-")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key] = value
    try:
        port = int(found["port"])
        return Credentials(found["user"], found["password"], found["host"], port)
    except (KeyError, ValueError):
        return None
