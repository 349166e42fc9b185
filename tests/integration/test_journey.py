"""From a request on the wiki to a shell, with real services only: the local MediaWiki
and the bot's cycles, `ats bridge serve` with the stand-in OAuth provider (signed in
over HTTP), a slapd provider with syncprov, `ats provision run --once`, and
`ats devhost` (a syncrepl replica, SSSD, sshd and sudo in a private mount namespace).

Veteran files an account request and a tool request naming themself as maintainer; the
bot answers; they sign in on the bridge, accept the terms and add two keys made by
`ssh-keygen`; an admin attests them and records the fee on the bridge and approves both
requests on-wiki; the bot and the worker carry them to `done`, and the bot says so on
the page. Then `ssh` with the key prints the member's uid and groups, `become TOOL id`
the tool's uid; a member who does not maintain the tool is refused with the message; a
key removed on the bridge stops opening a shell within a minute while the other still
does; once an admin suspends the member, no key logs in. The machine's own NSS and PAM
are byte-for-byte what they were."""

from __future__ import annotations

import contextlib
import time

import pytest

from membership import accounts
from tests.builders import request_wikitext
from tests.integration.conftest import WikiBot
from tests.integration.journey import LIMIT, Journey, etc_snapshot, member_ids
from tests.integration.test_clerk import bot_replies, section
from tests.waiting import wait_until

pytestmark = pytest.mark.loginhost

ACCOUNT = "Account request: Veteran"
TOOL = "vettool"
TOOL_REQUEST = f"Tool request: {TOOL}"


def _entry(journey: Journey, branch: str, name: str) -> dict[str, list[str]]:
    assert journey.provider is not None
    base = f"ou={branch},{journey.provider.base_dn}"
    attribute = "cn" if branch == "groups" else "uid"
    [found] = journey.provider.search(base, f"({attribute}={name})")
    return found


def _last_reply(journey: Journey, heading: str) -> str:
    return bot_replies(section(journey.wikibot.text(), heading))[-1]


@pytest.mark.process
def test_from_a_request_on_the_wiki_to_a_shell_and_a_tool(wikibot: WikiBot) -> None:
    before = etc_snapshot()
    journey = Journey(wikibot).start()
    ssh = journey.ssh
    try:
        ssh.key("veteran")
        ssh.key("spare")
        wikibot.file("Veteran", ACCOUNT)
        tool = request_wikitext(
            "tool",
            purpose="A bot that counts things.",
            tool=TOOL,
            license="MIT",
            source="https://example.org/vettool.git",
            maintainers="Veteran",
        )
        wikibot.file("Veteran", TOOL_REQUEST, tool)
        journey.cycle()
        assert journey.state(ACCOUNT) == "awaiting-identity"

        # The requester's gates on the bridge, and the admin's.
        requester = journey.requester_gates("Veteran", ssh.public("veteran") + " laptop")
        requester.add_key(ssh.public("spare") + " spare")
        assert journey.state(ACCOUNT) == "awaiting-approval"

        # The admin approves both on-wiki; the bot and the worker do the rest.
        wikibot.append("ChapterAdmin", ACCOUNT, ":{{ATS approve}} ~~~~")
        wikibot.append("ChapterAdmin", TOOL_REQUEST, ":{{ATS approve}} ~~~~")
        journey.cycle()
        assert journey.state(ACCOUNT) == "approved"
        # The account, then the tool that waited for its maintainer's account.
        made = journey.provision()
        assert made.count("done") == 2, made
        assert journey.state(ACCOUNT) == journey.state(TOOL_REQUEST) == "done"
        journey.cycle()
        done = _last_reply(journey, ACCOUNT)
        assert done.startswith(":{{ATS status|done}}"), done
        assert "veteran" in done and "127.0.0.1" in done
        assert _last_reply(journey, TOOL_REQUEST).startswith(":{{ATS status|done}}")

        person = _entry(journey, "people", "veteran")
        tool_user = _entry(journey, "tools", f"tools.{TOOL}")
        journey.start_host()

        # The member's shell: their uid and the tool's group; `become` is the tool.
        uid, groups = member_ids(ssh, "veteran")
        assert uid == person["uidNumber"][0]
        assert f"tools.{TOOL}" in groups.split()
        became = ssh.until("veteran", f"become {TOOL} id -u")
        assert became.returncode == 0, became.stderr
        assert became.stdout.strip() == tool_user["uidNumber"][0]

        # A member who does not maintain the tool may log in, not become it.
        ssh.key("bystander")
        wikibot.run(
            "provision",
            "account",
            "Bystander",
            "--key",
            str(ssh.folder / "bystander.key.pub"),
            env=journey.env,
        )
        assert ssh.until("bystander", "id -un").stdout.strip() == "bystander"
        refused = ssh.run("bystander", f"become {TOOL} id -u")
        assert refused.returncode == 1 and refused.stdout == ""
        assert f"you (bystander) are not a maintainer of the tool '{TOOL}'" in refused.stderr

        # A key removed on the bridge stops opening a shell within a minute.
        first = requester.key_ids()[0]
        requester.remove_key(first)
        removed = time.monotonic()
        journey.provision()
        wait_until(lambda: not ssh.logs_in("veteran"), LIMIT, interval=0.25, what="a refusal")
        print(f"\nremoved key refused after {time.monotonic() - removed:.1f} s")
        assert ssh.logs_in("veteran", key="spare")  # the other key still works

        # An admin suspends the member: no key logs in, before any session opens.
        with contextlib.closing(wikibot.store()) as store:
            assert accounts.enqueue_suspend(store, "Veteran", "membership lapsed", "ChapterAdmin")
        journey.provision()
        wait_until(
            lambda: not ssh.logs_in("veteran", key="spare"), LIMIT, interval=0.25, what="refusal"
        )
        shut = ssh.run("veteran", "true", key="spare")
        assert shut.returncode == 255 and shut.stdout == ""
    finally:
        journey.stop()
    assert etc_snapshot() == before
