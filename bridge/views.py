"""What every page's template can use: the member, admin flag, money and terms rendering.

The terms of use are Markdown; they are rendered with the `markdown` package when it
is installed (raw HTML in the source escaped), else shown escaped in a <pre>. The
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


def render_markdown(text: str) -> Markup:
    if markdown is None:
        return Markup("<pre>{}</pre>").format(text)
    # Escaping first keeps any HTML in the source as text; Markdown syntax survives it.
    return Markup(markdown.markdown(str(escape(text))))  # noqa: S704 - input escaped above


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
