"""A sentence in English that also knows its message: key and parameters.

The rules write their refusals in English, which the command line prints as they are.
The bridge shows the same refusals to readers of other languages, so each one carries
the key of its message in `i18n/*.json` and the values of that message's parameters;
the bridge puts it into the reader's words. A parameter may itself be `Words` (a
sentence naming a payment or an action inside another). Being a `str`, `Words` goes
anywhere the English text went before; a refusal (`policies.errors.Refusal`) whose
message is `Words` is told in the reader's language.
"""

from __future__ import annotations

from typing import Self


class Words(str):
    """English text, with the message key and parameters that say it in any language."""

    key: str
    params: dict[str, object]

    def __new__(cls, english: str, key: str, **params: object) -> Self:
        words = super().__new__(cls, english)
        words.key = key
        words.params = params
        return words
