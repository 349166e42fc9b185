"""A tool's maintainers, and the changes its maintainers make to them.

A tool's maintainers are those set directly (`ats provision tool`, or a change made
here; the store's `tool_maintainers`) or else the wiki users of its latest done tool
request (`membership.gates.tool_maintainers`, which the tool gates check too). A
maintainer adds a co-maintainer — a member in good standing: one who holds a shell
account that is not suspended and whose standing the daily re-check has not flagged —
or removes one, never leaving the tool without a maintainer in good
standing; a maintainer whose own account is suspended changes nothing. Each change is one
write transaction: the check against the set read inside it, the new set, one audit
entry (`tool-maintainer-added` / `tool-maintainer-removed`: who, the tool, whom) and
one provisioning job about the tool (kind `maintainers`, `member` the tool's service
user `tools.NAME`, a name no wiki user can have), which brings the tool's group — and
so its `become` — to the store's set. A change already made (the same person added
twice, from two tabs) is refused before anything is written, so repeating it queues
nothing and changes nothing. A refusal is a `MaintainerError` whose `Words` name its
message (`ats-tool-*` in `i18n/`), so the bridge says it in the reader's language; an
unknown tool is also a `NotFound`, and a change by someone with no say over the tool a
`NotAllowed`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from membership.gates import tool_maintainers
from membership.records import AccountRecord, AuditEntry, JobRecord, RequestRecord
from membership.standing import FLAGGED, standing_of
from membership.states import State
from membership.store import Query, Store
from policies.errors import NotAllowed, NotFound, Refusal
from policies.usernames import UsernameError, canonical_username, valid_username
from policies.words import Words

TOOL_PREFIX = "tools."  # the tool's service user, and the member its jobs are about
JOB_KIND = "maintainers"
ADDED, REMOVED = "tool-maintainer-added", "tool-maintainer-removed"
HISTORY = (ADDED, REMOVED, "tool-converged", "tool-maintainers-set")


class MaintainerError(Refusal, ValueError):
    """A change refused; its `Words` say why."""


class UnknownTool(MaintainerError, NotFound):
    """There is no tool by that name."""


class NoSay(MaintainerError, NotAllowed):
    """The person asking may not change the tool's maintainers."""


@dataclass(frozen=True)
class Change:
    tool: str
    action: str  # ADDED | REMOVED
    whom: str
    maintainers: tuple[str, ...]  # the set after the change
    job: JobRecord


def job_member(tool: str) -> str:
    """Whom the tool's maintainers job is about: its service user."""
    return TOOL_PREFIX + tool


def tool_of_job(member: str) -> str | None:
    """The tool a maintainers job is about, from its `member`; None for a person."""
    return member[len(TOOL_PREFIX) :] if member.startswith(TOOL_PREFIX) else None


def maintainers_of(
    store: Store,
    tool: str,
    requests: Sequence[RequestRecord] | None = None,
    direct: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[str, ...]:
    """The wiki users who maintain the tool, suspended or not (see the module docstring).
    Looking at many tools, pass the done tool requests (`tool_requests`) and the sets made
    directly (`store.tool_maintainer_sets()`), read once for all of them."""
    made_directly = store.tool_maintainers_set(tool) if direct is None else direct.get(tool)
    if made_directly is not None:
        return made_directly
    return _made_by_request(tool, tool_requests(store) if requests is None else requests)


def _made_by_request(tool: str, requests: Sequence[RequestRecord]) -> tuple[str, ...]:
    """The wiki users of the tool's latest done tool request (of `requests`), if any."""
    made = [r for r in requests if r.fields.get("tool", "").strip() == tool]
    if not made:
        return ()
    return tool_maintainers(max(made, key=lambda r: r.id))


def tool_requests(store: Store) -> list[RequestRecord]:
    return store.requests(state=str(State.DONE), type="tool")


def tool_requests_query(store: Store) -> Query[list[RequestRecord]]:
    """`tool_requests`, as a query to read with others (`Store.read`)."""
    return store.requests_query(state=str(State.DONE), type="tool")


def tools_maintained(store: Store, wiki_user: str) -> list[tuple[AccountRecord, tuple[str, ...]]]:
    """The tools `wiki_user` maintains, each with its maintainers."""
    return maintained_among(
        wiki_user, store.accounts("tool"), tool_requests(store), store.tool_maintainer_sets()
    )


def maintained_among(
    wiki_user: str,
    tools: Sequence[AccountRecord],
    requests: Sequence[RequestRecord],
    direct: Mapping[str, tuple[str, ...]],
) -> list[tuple[AccountRecord, tuple[str, ...]]]:
    """`tools_maintained` from what was read: the tools' accounts, the done tool requests
    (`tool_requests`) and the sets made directly (`store.tool_maintainer_sets()`)."""
    wiki_user = canonical_username(wiki_user)
    out = []
    for record in tools:
        tool = record.shell_name
        made_directly = direct.get(tool)
        people = made_directly if made_directly is not None else _made_by_request(tool, requests)
        if wiki_user in people:
            out.append((record, people))
    return out


def inactive_tools(store: Store, only: Collection[str] | None = None) -> dict[str, str]:
    """The tools that may not act now, each with why (shown to its maintainers: an
    admin's reason stays with the admins): a tool the chapter's admins disabled, and a
    tool none of whose maintainers is a member in good standing (all suspended, or none
    holds an account). `only`: look at these tools alone."""
    requests = tool_requests(store)
    direct = store.tool_maintainer_sets()
    people = {account.owner: account for account in store.accounts("person")}
    inactive = {}
    for account in store.accounts("tool"):
        tool = account.owner
        if only is not None and tool not in only:
            continue
        if account.suspended:
            inactive[tool] = "the tool is disabled by the chapter's admins"
            continue
        maintainers = maintainers_of(store, tool, requests, direct)
        standing = [people.get(person) for person in maintainers]
        if maintainers and not any(member and not member.suspended for member in standing):
            inactive[tool] = "none of the tool's maintainers is a member in good standing"
    return inactive


def tool_account(store: Store, tool: str) -> AccountRecord:
    record = store.account_of(tool, "tool")
    if record is None:
        raise UnknownTool(Words(f"There is no tool named {tool}.", "ats-tool-unknown", tool=tool))
    return record


def history(store: Store, tool: str) -> list[AuditEntry]:
    """The audit entries about the tool's maintainers, oldest first."""
    return store.audit_about("tool", tool, HISTORY)


def add(store: Store, tool: str, actor: str, whom: str) -> Change:
    """`actor` (a maintainer) makes `whom` a co-maintainer of `tool`."""
    return _change(store, tool, actor, whom, ADDED)


def remove(store: Store, tool: str, actor: str, whom: str) -> Change:
    """`actor` (a maintainer) removes `whom` (who may be themself) from `tool`."""
    return _change(store, tool, actor, whom, REMOVED)


def _change(store: Store, tool: str, actor: str, whom: str, action: str) -> Change:
    actor = canonical_username(actor)
    try:
        whom = valid_username(whom.strip())
    except UsernameError:
        raise MaintainerError(_not_a_member(whom.strip())) from None
    with store.transaction():  # read and written under one write lock: two tabs, one change
        tool_account(store, tool)
        now = maintainers_of(store, tool)
        if actor not in now:
            raise not_a_maintainer(tool)
        held = store.account_of(actor)
        if held is None or held.suspended:  # a suspended maintainer keeps no say either
            raise NoSay(
                Words(
                    f"Your account is suspended: you cannot change the maintainers of {tool} "
                    "until it is restored.",
                    "ats-tool-actor-suspended",
                    tool=tool,
                )
            )
        if action == ADDED:
            _check_joiner(store, tool, whom, now)
            after = tuple(sorted({*now, whom}))
        else:
            if whom not in now:
                raise MaintainerError(
                    Words(
                        f"{whom} is not a maintainer of {tool} (someone may have removed them "
                        "already).",
                        "ats-tool-not-listed",
                        name=whom,
                        tool=tool,
                    )
                )
            if len(now) == 1:
                raise MaintainerError(
                    Words(
                        f"{tool} needs at least one maintainer: add another before you remove "
                        "this one.",
                        "ats-tool-last-maintainer",
                        tool=tool,
                    )
                )
            after = tuple(p for p in now if p != whom)
            if not any(_in_good_standing(store, p) for p in after):
                raise MaintainerError(
                    Words(
                        f"{tool} needs at least one maintainer in good standing: add a member "
                        "in good standing before you remove this one.",
                        "ats-tool-last-active-maintainer",
                        tool=tool,
                    )
                )
        store.set_tool_maintainers(tool, after, actor)
        job, _ = store.enqueue_member_job(job_member(tool), JOB_KIND, {"tool": tool})
        store.audit(actor, action, tool=tool, whom=whom, maintainers=list(after), job=job.id)
    return Change(tool, action, whom, after, job)


def _check_joiner(store: Store, tool: str, whom: str, now: Sequence[str]) -> None:
    if whom in now:
        raise MaintainerError(
            Words(
                f"{whom} is already a maintainer of {tool}.",
                "ats-tool-already",
                name=whom,
                tool=tool,
            )
        )
    account = store.account_of(whom)
    if account is None:
        raise MaintainerError(_not_a_member(whom))
    if account.suspended:
        raise MaintainerError(
            Words(
                f"The account of {whom} is suspended: only a member in good standing can be "
                "a co-maintainer.",
                "ats-tool-suspended",
                name=whom,
            )
        )
    standing = standing_of(store, whom)
    if standing is not None and standing.state == FLAGGED:
        raise MaintainerError(
            Words(
                f"{whom} is not in good standing (a lock or block is with the admins): they "
                "cannot be a co-maintainer now.",
                "ats-tool-not-in-good-standing",
                name=whom,
            )
        )


def not_a_maintainer(tool: str) -> NoSay:
    """The refusal of anyone but the tool's maintainers (the admins may look, not change)."""
    return NoSay(
        Words(
            f"Only the maintainers of {tool} can change its maintainers.",
            "ats-tool-not-maintainer",
            tool=tool,
        )
    )


def _not_a_member(name: str) -> Words:
    return Words(
        f"{name} is not a member: only a wiki user who holds a shell account can be a "
        "co-maintainer.",
        "ats-tool-not-a-member",
        name=name,
    )


def _in_good_standing(store: Store, wiki_user: str) -> bool:
    """Holds a shell account that is not suspended, and is not flagged by the re-check."""
    account = store.account_of(wiki_user)
    if account is None or account.suspended:
        return False
    standing = standing_of(store, wiki_user)
    return standing is None or standing.state != FLAGGED
