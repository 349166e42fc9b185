"""The pywikibot adapter: every call the bot makes to a wiki goes through this package.

Functions take the site as their first argument and return plain values (dataclasses
of this package or of `policies.eligibility`), so the clerk never sees pywikibot. The
package is split by concern, and callers use it through this facade (`wiki.save`,
`wiki.WikiError`): `site` (the site, the login, errors and the API plumbing: the only
module that imports pywikibot), `pages` (reading and saving pages and their history),
`users` (account look-ups, local and CentralAuth) and `changes` (recent changes for
the watcher). Requests are raw API queries shaped for cost: one query reads the
request page and the kill-switch page together; user look-ups are batched 50 at a time.
"""

from __future__ import annotations

from bot.wiki.changes import (
    RecentChange,
    RecentChanges,
    WatchedTitle,
    latest_change,
    recent_changes,
    watched_titles,
)
from bot.wiki.pages import (
    PageRead,
    PageRevision,
    RevisionMeta,
    Saved,
    append_section,
    bot_edit,
    create_or_replace,
    history,
    latest_revid,
    read_pages,
    revision_texts,
    save,
)
from bot.wiki.site import (
    BATCH,
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    SERVER_ERROR_RETRIES,
    USER_AGENT,
    EditConflict,
    LoginFailed,
    WikiError,
    WikiLagged,
    WikiReadOnly,
    WikiServerError,
    WikiUnreachable,
    debug_logging,
    login,
    open_site,
    transient_errors,
)
from bot.wiki.users import (
    content_language,
    global_user,
    has_central_auth,
    local_users,
    parse_global_user,
    parse_local_user,
    recent_counts,
    script_path,
    user_groups,
    wiki_id,
    wiki_label,
)

__all__ = [
    "BATCH",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "SERVER_ERROR_RETRIES",
    "USER_AGENT",
    "EditConflict",
    "LoginFailed",
    "PageRead",
    "PageRevision",
    "RecentChange",
    "RecentChanges",
    "RevisionMeta",
    "Saved",
    "WatchedTitle",
    "WikiError",
    "WikiLagged",
    "WikiReadOnly",
    "WikiServerError",
    "WikiUnreachable",
    "append_section",
    "bot_edit",
    "content_language",
    "create_or_replace",
    "debug_logging",
    "global_user",
    "has_central_auth",
    "history",
    "latest_change",
    "latest_revid",
    "local_users",
    "login",
    "open_site",
    "parse_global_user",
    "parse_local_user",
    "read_pages",
    "recent_changes",
    "recent_counts",
    "revision_texts",
    "save",
    "script_path",
    "transient_errors",
    "user_groups",
    "watched_titles",
    "wiki_id",
    "wiki_label",
]
