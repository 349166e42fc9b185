"""The clerk's settings: which page it keeps, as whom, and by which rules.

One frozen dataclass read by every part of a cycle (the clerk, judging, deciding,
planning, page_history); it imports none of them, so they can all import it. The
composition root (`ats.wiring`) builds it from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.rules.page import DEFAULT_VOCABULARY, Vocabulary
from policies.eligibility import EligibilityPolicy


@dataclass(frozen=True)
class ClerkSettings:
    page: str
    bot_user: str
    bridge_url: str
    policy: EligibilityPolicy
    run_page: str = ""
    vocab: Vocabulary = DEFAULT_VOCABULARY
    user_cache: timedelta = timedelta(hours=24)
    conflict_retries: int = 3
    expire_after_days: int = 60
    archive_after_days: int = 7
    backlog_days: int = 7
    login_host: str = ""
    edit_interval: float = 0.0  # seconds between two saves, counted from the store's last
    progress_settle: float = 0.0  # seconds the requester's bridge steps rest before a reply
    content_lang: str = ""  # the wiki's content language (siteinfo), read on first use
