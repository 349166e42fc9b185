"""Edit histories in the past, as data: who edits how much and when, and the XML export
(schema 0.11) that ``importDump.php`` turns into real revisions.  Pure: no wiki is touched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
PAGES_PER_USER = 8


@dataclass(frozen=True)
class Persona:
    """A seeded account and the shape of its past edits."""

    name: str
    age_days: int
    edits: int
    recent_edits: int  # edits within the last 55 days
    quiet_days: int = 0  # no edit in this many days before now (for dormant users)
    sysop: bool = False
    blocked: bool = False
    recent_days: int = 55  # the recent edits are spread over this many days before now


def mw_timestamp(when: datetime) -> str:
    """MediaWiki's database timestamp, ``YYYYMMDDHHMMSS`` in UTC."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def iso(when: datetime) -> str:
    """ISO 8601 in UTC, whole seconds, as the export format and the state files write it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """The instant ``iso`` wrote."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def base36_sha1(text: str) -> str:
    """MediaWiki's rev_sha1: SHA-1 of the text in base 36, zero-padded to 31 characters."""
    value = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)  # noqa: S324 - not security
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out.rjust(31, "0")


def spread(start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` instants evenly spread over [start, end], whole seconds."""
    if count <= 0:
        return []
    if count == 1:
        return [end.replace(microsecond=0)]
    step = (end - start) / (count - 1)
    return [(start + step * i).replace(microsecond=0) for i in range(count)]


def edit_times(persona: Persona, now: datetime) -> list[datetime]:
    """When each of ``persona``'s edits was made, oldest first, relative to ``now``."""
    registered = now - timedelta(days=persona.age_days)
    first = registered + timedelta(hours=1)
    recent_start = max(first, now - timedelta(days=persona.recent_days))
    recent = spread(recent_start, now - timedelta(hours=1), persona.recent_edits)
    old_count = persona.edits - persona.recent_edits
    old_end = now - timedelta(days=max(61, persona.quiet_days))
    old = spread(first, old_end, old_count)
    return old + recent


def export_xml(personas: tuple[Persona, ...], now: datetime, *, sitename: str, dbname: str) -> str:
    """An XML export (schema 0.11) of every persona's past edits to Sandbox/<name>/<n>."""
    parts = [
        f'<mediawiki xmlns="{EXPORT_NS}" version="0.11" xml:lang="en">\n'
        "  <siteinfo>\n"
        f"    <sitename>{sitename}</sitename>\n"
        f"    <dbname>{dbname}</dbname>\n"
        "    <case>first-letter</case>\n"
        "    <namespaces>\n"
        '      <namespace key="0" case="first-letter" />\n'
        "    </namespaces>\n"
        "  </siteinfo>\n"
    ]
    for persona in personas:
        pages: dict[int, list[tuple[int, datetime]]] = {}
        for index, when in enumerate(edit_times(persona, now)):
            pages.setdefault(index % PAGES_PER_USER + 1, []).append((index + 1, when))
        user = escape(persona.name)
        for page_no, revisions in pages.items():
            parts.append(
                "  <page>\n"
                f"    <title>{escape(f'Sandbox/{persona.name}/{page_no}')}</title>\n"
                "    <ns>0</ns>\n"
            )
            for number, when in revisions:
                text = (
                    f"Edit {number} of {persona.edits} by [[User:{persona.name}]] at {iso(when)}."
                )
                parts.append(
                    "    <revision>\n"
                    f"      <timestamp>{iso(when)}</timestamp>\n"
                    f"      <contributor><username>{user}</username></contributor>\n"
                    f"      <comment>{escape(f'Seed edit {number}')}</comment>\n"
                    "      <model>wikitext</model>\n"
                    "      <format>text/x-wiki</format>\n"
                    f"      <text bytes={quoteattr(str(len(text.encode())))}"
                    f' xml:space="preserve">{escape(text)}</text>\n'
                    f"      <sha1>{base36_sha1(text)}</sha1>\n"
                    "    </revision>\n"
                )
            parts.append("  </page>\n")
    parts.append("</mediawiki>\n")
    return "".join(parts)
