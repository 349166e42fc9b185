"""What every page's template can use: the member, admin flag, money and terms rendering.

The terms of use and the chapter's policies are Markdown; they are rendered with the
`markdown` package and its `tables` extension when it is installed (raw HTML in the
source escaped; each table in Codex's scrolling wrapper, so a wide one never widens
the page), else shown escaped in a <pre>. `split_title` takes a document's own first
heading, for the page's title. The
stylesheet is the bridge's own small one, plus Wikimedia Codex's CSS when it was
installed as `bridge/static/codex.css` at set-up (never committed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from bridge.auth import current_member, is_admin, settings

try:
    import markdown
except ImportError:  # optional: the terms are then shown as plain text
    markdown = None  # type: ignore[assignment]  # the module or nothing, tested before use

STATIC = Path(__file__).parent / "static"


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


# Codex's table markup; the wrapper scrolls sideways and can be focused to do so.
TABLE_OPEN = (
    '<div class="cdx-table ats-table-scroll"><div class="cdx-table__table-wrapper" tabindex="0">'
    '<table class="cdx-table__table ats-table">'
)
TABLE_CLOSE = "</table></div></div>"


def render_markdown(text: str) -> Markup:
    if markdown is None:
        return Markup("<pre>{}</pre>").format(text)
    # Escaping first keeps any HTML in the source as text; Markdown syntax survives it.
    html = markdown.markdown(str(escape(text)), extensions=["tables"])
    # No "<table>" can come from the source (escaped above): these are Markdown's own.
    html = html.replace("<table>", TABLE_OPEN).replace("</table>", TABLE_CLOSE)
    return Markup(html)  # noqa: S704 - input escaped above


def split_title(text: str) -> tuple[str | None, str]:
    """A Markdown document's first level-1 heading (None without one) and the rest."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# "):
            return line[2:].strip().strip("#").strip(), "\n".join(lines[number + 1 :])
        if line.strip():
            break  # the document does not open with a title
    return None, text


def install(app: Flask) -> None:
    has_codex = (STATIC / "codex.css").exists()

    @app.context_processor
    def _globals() -> dict[str, Any]:
        member = current_member()
        return {
            "member": member,
            "member_is_admin": is_admin(member),
            "has_codex": has_codex,
            "fees": settings().fees,
        }

    app.jinja_env.filters["money"] = money
