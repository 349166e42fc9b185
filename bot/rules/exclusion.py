"""The {{bots}} / {{nobots}} exclusion convention, checked on a page's text.

Pure. `{{nobots}}` and `{{bots|deny=all}}` / `{{bots|allow=none}}` stop every bot;
`{{bots|deny=A,B}}` stops the named ones; `{{bots|allow=A}}` lets only the named ones
edit. Only live templates count (not inside comments or <nowiki>).
"""

from __future__ import annotations

import mwparserfromhell

from policies.usernames import canonical_username


def bot_may_edit(text: str, username: str) -> bool:
    if "bots" not in text.lower():
        return True
    me = canonical_username(username)
    for template in mwparserfromhell.parse(text).filter_templates(recursive=True):
        name = canonical_username(str(template.name))
        if name == "Nobots":
            return False
        if name != "Bots":
            continue
        for param in template.params:
            key = str(param.name).strip().lower()
            names = {canonical_username(n) for n in str(param.value).split(",") if n.strip()}
            if key == "deny" and ("All" in names or me in names):
                return False
            if key == "allow" and ("None" in names or ("All" not in names and me not in names)):
                return False
    return True
