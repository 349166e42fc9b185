"""How long private facts are kept, as data (bundled `retention.toml`); see privacy.md.

`RetentionPolicy` holds one period in days per kind of fact; `load_retention` reads the
bundled file with optional overrides and refuses unknown keys and anything but a whole,
non-negative number of days. Enforcing it is `membership.retention.purge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.eligibility import PolicyError
from policies.tomlcheck import load_bundled, setting

_DAYS = "a whole number of days"


@dataclass(frozen=True)
class RetentionPolicy:
    waiver_reason_days: int = setting(90, minimum=0, wanted=_DAYS)
    identification_method_days: int = setting(30, minimum=0, wanted=_DAYS)
    closed_request_days: int = setting(180, minimum=0, wanted=_DAYS)
    login_attempt_days: int = setting(1, minimum=0, wanted=_DAYS)
    session_days_after_expiry: int = setting(0, minimum=0, wanted=_DAYS)
    user_cache_days: int = setting(30, minimum=0, wanted=_DAYS)


def load_retention(overrides: Mapping[str, Any] | None = None) -> RetentionPolicy:
    return load_bundled(
        RetentionPolicy, "retention.toml", overrides, noun="retention", error=PolicyError
    )
