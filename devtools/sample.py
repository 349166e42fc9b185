"""The demo's sample on a local wiki: its request page, the sample requests filed there as
real edits by their requesters, and the configuration file (``ats.toml``) for a dev wiki,
with a ``[bridge]`` table for a stand-in OAuth provider.  ``ats demo``, the tests and the
benchmarks write their configurations with ``write_config``.
"""

from __future__ import annotations

from pathlib import Path

from devtools.devoauth import DevOAuth
from devtools.devwiki import DevWiki

REQUEST_PAGE = "Toolserver/Requests"
RUN_PAGE = "Toolserver/Run"
ADMIN = "ChapterAdmin"
# A second chapter admin, on the bridge only (waivers take two admins): the stand-in
# OAuth provider vouches for any name, so no wiki account is needed.
SECOND_ADMIN = "SecondAdmin"
ADMINS = (ADMIN, SECOND_ADMIN)

# Who is who in the demo: the names offered at each login, and what each one shows.
PEOPLE: tuple[tuple[str, str], ...] = (
    ("Veteran", "an established editor; their account request waits for their steps"),
    ("Newcomer", "too new to be eligible: the bridge says what would change that"),
    ("Blocked Veteran", "blocked on the wiki: not eligible"),
    ("משתמש ותיק", "asked for a tool (hebrew-links), in Hebrew"),
    ("Toolsmith", "carried by the demo to a shell account and a tool (where it can run one)"),
    (ADMIN, "a chapter admin: the admins' desk, and approvals on the wiki"),
    (SECOND_ADMIN, f"a second chapter admin: confirms the waivers {ADMIN} grants"),
)

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
progress_settle = 0

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


def bridge_section(bridge_url: str, provider: DevOAuth) -> str:
    """The `[bridge]` table for a bridge at `bridge_url` whose OAuth wiki is `provider`."""
    return f"""
[bridge]
url = "{bridge_url}"
oauth_version = 2
consumer_key = "{provider.consumer_key}"
oauth_index_url = "{provider.url}/index.php"
oauth_rest_url = "{provider.url}/rest.php"
"""
