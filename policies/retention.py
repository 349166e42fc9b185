"""How long private facts are kept, as data (bundled `retention.toml`); see privacy.md.

`RetentionPolicy` holds one period in days per kind of fact; `load_retention` reads the
bundled file with optional overrides and refuses unknown keys and anything but a whole,
non-negative number of days. Enforcing it is `membership.retention.purge`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from policies.eligibility import PolicyError


@dataclass(frozen=True)
class RetentionPolicy:
    waiver_reason_days: int = 90
    identification_method_days: int = 30
    closed_request_days: int = 180
    login_attempt_days: int = 1
    session_days_after_expiry: int = 0
    user_cache_days: int = 30


def load_retention(overrides: dict[str, Any] | None = None) -> RetentionPolicy:
    text = resources.files(__package__).joinpath("retention.toml").read_text("utf-8")
    values = tomllib.loads(text)
    values.update(overrides or {})
    known = [f.name for f in fields(RetentionPolicy)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PolicyError(f"unknown retention key {unknown[0]!r}; known keys: {', '.join(known)}")
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(
                f"retention key {key!r} must be a whole number of days, not {value!r}"
            )
    return RetentionPolicy(**values)
