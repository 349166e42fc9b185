"""`ats demo`: the whole job on a throwaway local wiki.

Starts (creating it if needed) a local MediaWiki with seeded users, writes a
configuration for it, installs the on-wiki templates, files sample requests as real
edits by their requesters, runs one clerk cycle and prints what happened, then keeps
the wiki up until interrupted. Running it again reuses the same wiki and store: the
second cycle finds nothing new to say.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import quote

from ats.config import load_config
from ats.devwiki import DevWiki

REQUEST_PAGE = "Toolserver/Requests"
RUN_PAGE = "Toolserver/Run"
ADMIN = "ChapterAdmin"

PAGE_HEADER = """This page is where established Wikimedians ask for an account on the \
chapter's shared server. File one request per section; the clerk bot answers within \
seconds.

{{ATS file request}}
"""

SAMPLES: list[tuple[str, str, str]] = [
    (
        "Veteran",
        "Account request: Veteran",
        """{{ATS request
 | type     = account
 | purpose  = Running my citation-cleanup scripts and a small report generator.
}}
I have been editing since 2020. ~~~~""",
    ),
    (
        "Newcomer",
        "Account request: Newcomer",
        """{{ATS request
 | type     = account
 | purpose  = I want to learn how bots work.
}}
~~~~""",
    ),
    (
        "Blocked Veteran",
        "Account request: Blocked Veteran",
        """{{ATS request
 | type     = account
 | purpose  = Hosting my maintenance bot.
}}
~~~~""",
    ),
    (
        "משתמש ותיק",
        "Tool request: hebrew-links",
        """{{ATS request
 | type        = tool
 | purpose     = Finds broken interlanguage links on Hebrew Wikipedia.
 | tool        = hebrew-links
 | license     = GPL-3.0-or-later
 | source      = https://example.org/hebrew-links.git
 | maintainers = משתמש ותיק
}}""",
    ),
    (
        "Ярослава",
        "Tool request: словник",
        """{{ATS request
 | type        = tool
 | purpose     = A dictionary lookup tool.
 | tool        = Slovnyk Tool
 | license     = CC-BY-NC-4.0
}}
~~~~""",
    ),
]


def write_config(
    wiki: DevWiki,
    root: Path,
    *,
    admins: tuple[str, ...] = (ADMIN,),
    request_page: str = REQUEST_PAGE,
    wiki_settings: str = "",
    extra: str = "",
) -> Path:
    """A configuration file for `wiki`, with its store in `root`.

    `wiki_settings` are more `[wiki]` lines; `extra` is appended after `[policy]`.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / "ats.toml"
    admin_list = ", ".join(f'"{a}"' for a in admins)
    path.write_text(
        f"""# Generated for the local development wiki at {wiki.server}.
[wiki]
api = "{wiki.api_url}"
request_page = "{request_page}"
run_page = "{RUN_PAGE}"
{wiki_settings}
[bot]
username = "{wiki.bot_login_name}"
edit_interval = 0

[store]
path = "ats.sqlite"

[policy]
admins = [{admin_list}]
{extra}""",
        encoding="utf-8",
    )
    return path


def seed_requests(wiki: DevWiki) -> bool:
    """File the sample requests (each one a real edit by its requester), once."""
    marker = wiki.root / "demo-requests-filed"
    if marker.exists():
        return False
    wiki.edit_as(wiki.admin_user, REQUEST_PAGE, PAGE_HEADER, "Request page for the server")
    for user, heading, body in SAMPLES:
        text = wiki.page_text(REQUEST_PAGE).rstrip("\n") + f"\n\n== {heading} ==\n{body}\n"
        wiki.edit_as(user, REQUEST_PAGE, text, f"/* {heading} */ new section")
    marker.write_text("yes\n")
    return True


def run(root: Path, *, port: int | None = None, wait: bool = True) -> int:
    from ats import wiring

    wiki = DevWiki.create(root / "wiki", port)
    print(f"starting the local wiki in {wiki.root} ...", flush=True)
    wiki.start()
    wiki.seed()
    config = load_config(write_config(wiki, root))
    os.environ["ATS_BOT_PASSWORD"] = wiki.bot_password
    installed = wiring.install_templates(config)
    print(f"templates installed: {len(installed)} pages")
    if seed_requests(wiki):
        print(f"filed {len(SAMPLES)} sample requests as their requesters")
    report = wiring.clerk(config).run_once()
    page_url = f"{wiki.server}/index.php?title={quote(REQUEST_PAGE)}"
    print()
    print(f"request page: {page_url}")
    print(f"bot cycle:    {report.summary()}")
    from membership.store import Store

    store = Store(config.store_path)
    for record in store.requests(REQUEST_PAGE):
        behalf = f" (for {record.subject})" if record.on_behalf else ""
        print(f"  {record.state:18} {record.key} — filed by {record.requester}{behalf}")
    print(f"store:        {config.store_path}")
    print(
        f"config:       {config.path} (bot password: export ATS_BOT_PASSWORD from "
        f"{wiki.state_path})"
    )
    if not wait:
        wiki.stop()
        return 0
    print("\nThe wiki stays up until you press Ctrl-C.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping the wiki ...")
    finally:
        wiki.stop()
    return 0
