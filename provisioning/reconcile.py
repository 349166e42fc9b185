"""The reconcile: every account the store knows, compared with the directory (or the
Unix root), drift reported one line each and, with `fix`, repaired.

What counts as drift: a member or tool missing from the directory; a key there that
the member does not have active in the store (added by hand) or an active key
missing; a login shell other than the configured one; suspended in one but not in
the other, or a key still opening a login on a suspended account; a stray or missing
member of a tool's group (a suspended maintainer is a stray member), or a tool's
`become` rule (its sudoRole or sudoers drop-in) missing or changed. The directory
is read with `Backend.observe()` (a few paged searches, not one read per account).
A fix takes the member's lease first (`Store.hold_member`), so it never
runs beside a job for the same member, reads the store again under it and
converges the account; a member whose job is running is left to that job.
Accounts in the directory the store does not know (made by hand, before this
system) are not touched.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from membership.store import Store
from provisioning.backend import TOOL_PREFIX, Backend, Desired, Observed
from provisioning.desired import Wanted, everything, for_owner

ACTOR = "provisioning"
FIX_LEASE_SECONDS = 60


@dataclass(frozen=True)
class Drift:
    login: str  # the account's login name (a tool's is tools.NAME)
    what: str
    fixed: bool = False
    error: str = ""

    @property
    def line(self) -> str:
        if self.error:
            return f"{self.login}: {self.what} (not fixed: {self.error})"
        return f"{self.login}: {self.what}" + (" (fixed)" if self.fixed else "")


def reconcile(
    store: Store,
    backend: Backend,
    *,
    fix: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[Drift]:
    """Every drift found (fixed, when `fix`); each also goes to `log` as one line."""
    log = log or (lambda line: None)
    shell = getattr(backend, "shell", "/bin/bash")
    seen = {_key(o.account.kind, o.account.name): o for o in backend.observe()}
    out: list[Drift] = []
    for wanted in everything(store):
        record = wanted.record
        observed = seen.get(_key(record.kind, record.shell_name))
        found = differences(wanted.desired, observed, record.kind, shell)
        if not found:
            continue
        login = TOOL_PREFIX + record.shell_name if record.kind == "tool" else record.shell_name
        outcome = {"fixed": False, "error": ""}
        if fix:
            outcome = _fix(store, backend, wanted, observed is None)
        for what in found:
            drift = Drift(login, what, **outcome)  # type: ignore[arg-type]
            out.append(drift)
            log(drift.line)
        if fix:
            evidence = {"drift": found, "fixed": outcome["fixed"], "error": outcome["error"]}
            action = "drift-fixed" if outcome["fixed"] else "drift-not-fixed"
            store.audit(ACTOR, action, None, shell_name=record.shell_name, **evidence)
    return out


def differences(desired: Desired, observed: Observed | None, kind: str, shell: str) -> list[str]:
    """How the account differs from what the store says, one phrase each."""
    if observed is None:
        return [f"{'tool' if kind == 'tool' else 'member'} missing from the directory"]
    account = observed.account
    if kind == "tool":
        found = [f"stray group member {m}" for m in account.members if m not in desired.members]
        found += [f"group member missing: {m}" for m in desired.members if m not in account.members]
        return found + list(observed.become_drift)
    if desired.suspended != account.suspended:
        # The keys and shell follow the suspension: that one line says what is wrong.
        where = (
            ("the store", "the directory") if desired.suspended else ("the directory", "the store")
        )
        return [f"suspended in {where[0]} but not in {where[1]}"]
    if desired.suspended:
        found = [f"key opens a login while suspended: {_short(k)}" for k in observed.live_keys]
        return found + _key_drift(account.keys, desired.keys, " (kept aside)")
    found = _key_drift(observed.live_keys, desired.keys, "")
    if account.shell != shell:
        found.append(f"login shell is {account.shell or 'empty'}, not {shell}")
    return found


def _key_drift(present: Sequence[str], wanted: Sequence[str], where: str) -> list[str]:
    found = [f"key added by hand{where}: {_short(k)}" for k in present if k not in wanted]
    found += [f"active key missing{where}: {_short(k)}" for k in wanted if k not in present]
    return found


def _fix(store: Store, backend: Backend, wanted: Wanted, missing: bool) -> dict[str, object]:
    """Converge one account under its member's lease; what came of it."""
    record = wanted.record
    holder = f"reconcile:{socket.gethostname()}:{os.getpid()}"
    lease = record.owner if record.kind == "person" else None
    if lease is not None and not store.hold_member(lease, holder, FIX_LEASE_SECONDS):
        return {"fixed": False, "error": "a job for this member is running; it converges it"}
    try:
        fresh = for_owner(store, record.owner, record.kind) or wanted
        if record.kind == "tool":
            backend.create_tool(record.shell_name, fresh.desired.members)
        elif missing:
            backend.create_person(record.owner, record.shell_name, fresh.desired.keys)
        backend.converge(record.shell_name, fresh.desired)
    except Exception as error:  # one account's failure is reported, the others go on
        return {"fixed": False, "error": str(error) or type(error).__name__}
    finally:
        if lease is not None:
            store.release_member(lease, holder)
    return {"fixed": True, "error": ""}


def _key(kind: str, name: str) -> tuple[str, str]:
    return (kind, name)


def _short(key: str) -> str:
    """A key as one short, recognisable phrase: its type, the end of its data, its comment."""
    parts = key.split()
    if len(parts) < 2:
        return key[:40]
    return " ".join([parts[0], "…" + parts[1][-12:], *parts[2:3]])
