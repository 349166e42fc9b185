"""MediaWiki's message syntax, rendered: `$1`… parameters, `{{PLURAL:$1|…}}` by the
language's CLDR plural rules (Babel), `{{GENDER:$1|…}}`, and `&#32;` for a space at
either end. Pure text in, text out: the bot's replies (`bot.rules.messages`) and the
runtime's mails (`runtime.mail`) both render their messages with `render`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from babel import Locale
from babel.numbers import format_decimal

DEFAULT_LANGUAGE = "en"
_MAGIC = re.compile(r"\{\{(PLURAL|GENDER):", re.IGNORECASE)
_PARAM = re.compile(r"\$(\d+)")
_PLURAL_ORDER = ("zero", "one", "two", "few", "many", "other")


def render(
    template: str,
    params: Sequence[object],
    lang: str = DEFAULT_LANGUAGE,
    gender: Callable[[str], str] | None = None,
) -> str:
    """One message with its parameters, PLURAL and GENDER resolved.

    The template's own markup is resolved first and the parameters substituted last,
    in one pass, so a parameter's text (a username, a block reason) is never read as
    PLURAL, GENDER or another `$n`. An integer parameter is written as a number of
    `lang` (1,234 in English, 1.234 in German). `gender(value)` answers "male",
    "female" or "unknown" for a GENDER's parameter; without it every user is unknown.
    """
    shaped = _expand(template, params, lang, gender or (lambda _: "unknown"))
    # A space at either end is written `&#32;`, as in MediaWiki's own messages, since
    # translation tools trim plain spaces there.
    shaped = shaped.replace("&#32;", " ")
    texts = [_text(p, lang) for p in params]

    def param(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return texts[n - 1] if 1 <= n <= len(texts) else match.group(0)

    return _PARAM.sub(param, shaped)


def _text(value: object, lang: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return format_decimal(value, locale=lang)
    return str(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expand(text: str, params: Sequence[object], lang: str, gender: Callable[[str], str]) -> str:
    out: list[str] = []
    pos = 0
    while (match := _MAGIC.search(text, pos)) is not None:
        end = _closing(text, match.end())
        if end is None:  # unbalanced: left as written
            break
        out.append(text[pos : match.start()])
        subject, *forms = _split(text[match.end() : end])
        value = _value(subject.strip(), params)
        if match.group(1).upper() == "PLURAL":
            chosen = _plural(value, forms, lang)
        else:
            chosen = _gender(gender(str(value)), forms)
        out.append(_expand(chosen, params, lang, gender))
        pos = end + 2
    out.append(text[pos:])
    return "".join(out)


def _closing(text: str, start: int) -> int | None:
    """Where the `}}` closing a magic word opened before `start` is, nesting counted."""
    depth, i = 0, start
    while i < len(text) - 1:
        pair = text[i : i + 2]
        if pair in ("{{", "[["):
            depth += 1
            i += 2
        elif pair in ("}}", "]]"):
            if depth == 0 and pair == "}}":
                return i
            depth -= 1
            i += 2
        else:
            i += 1
    return None


def _split(inner: str) -> list[str]:
    """The `|`-separated arguments, a `|` inside a link or template not splitting."""
    parts, depth, current, i = [], 0, [], 0
    while i < len(inner):
        pair = inner[i : i + 2]
        if pair in ("{{", "[["):
            depth += 1
            current.append(pair)
            i += 2
        elif pair in ("}}", "]]"):
            depth -= 1
            current.append(pair)
            i += 2
        elif inner[i] == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
        else:
            current.append(inner[i])
            i += 1
    parts.append("".join(current))
    return parts


def _value(subject: str, params: Sequence[object]) -> object:
    match = _PARAM.fullmatch(subject)
    if match and 1 <= int(match.group(1)) <= len(params):
        return params[int(match.group(1)) - 1]
    return subject


def _number(value: object) -> float:
    if _is_int(value) or isinstance(value, float):
        return float(value)  # type: ignore[arg-type]
    digits = re.sub(r"[^\d.-]", "", str(value).replace(",", ""))
    try:
        return float(digits)
    except ValueError:
        return 0.0


def _plural(value: object, forms: list[str], lang: str) -> str:
    if not forms:
        return ""
    number = _number(value)
    plain = []
    for form in forms:  # explicit forms first: {{PLURAL:$1|0=none|one|many}}
        head, sep, rest = form.partition("=")
        if sep and re.fullmatch(r"\d+", head.strip()):
            if float(head) == number:
                return rest
        else:
            plain.append(form)
    if not plain:
        return ""
    rule = Locale.parse(lang, sep="-").plural_form
    categories = [c for c in _PLURAL_ORDER if c in rule.tags or c == "other"]
    count = int(number) if number == int(number) else number
    index = categories.index(rule(count))
    return plain[min(index, len(plain) - 1)]


def _gender(which: str, forms: list[str]) -> str:
    if not forms:
        return ""
    index = {"male": 0, "female": 1}.get(which, 2)
    return forms[index] if index < len(forms) else forms[0]
