"""One check's outcome (ok, failed with its fix, or skipped) and what the checks share."""

from __future__ import annotations

from dataclasses import dataclass

TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: skipped, because a check it needs failed
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        shown = [f"{mark}  {self.name}: {self.detail}"]
        if self.ok is False and self.fix:
            shown.append(f"      fix: {self.fix}")
        return shown


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def skipped(name: str, because: str) -> Check:
    return Check(name, None, because)


def reason(error: BaseException) -> str:
    """A connection error in a few words, for one line of the report."""
    text = str(error)
    for known in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
    ):
        if known in text:
            return known.lower()
    return text.split(":")[-1].strip(" )'>") or type(error).__name__
