"""Paying closes an open waiver request, on every path money comes in: an admin records
the payment on the admins' desk, or a treasurer imports it (`ats payments import`). Either
way the request is withdrawn and audited, the requester's page says so, and Next stops
speaking of it and names the step that is left.

(Requesters do not pay on the bridge itself: it links to the chapter's donation page,
and the payment comes back through one of these two paths.)"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ats import cli
from membership.store import Store
from tests.builders import add_request, ssh_public_key

MESSAGES = json.loads((Path(__file__).parents[2] / "i18n" / "en.json").read_text("utf-8"))
ASKED_NEXT = MESSAGES["ats-bridge-gate-fee-waiver-asked-next"]
FEE_NEXT = MESSAGES["ats-bridge-gate-fee-next"]
IDENTIFY_NEXT = MESSAGES["ats-bridge-gate-identification-next"]
WITHDRAWN = MESSAGES["ats-bridge-waiver-withdrawn"]


def page(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return html.unescape(response.get_data(as_text=True))


def csrf(client: Any, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page(client, path))
    assert found, path
    return found.group(1)


def next_step(me: str) -> str:
    found = re.search(r'<p class="ats-next">(.*?)</p>', me, re.DOTALL)
    assert found, me[:800]
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


@pytest.fixture
def asked(app: Flask, store: Store, client_as: Callable[..., Any]) -> tuple[Any, int]:
    """Example, with terms and a key done, has asked for a waiver; Next says so."""
    record = add_request(store, state="awaiting-requester")
    requester = client_as("Example")
    token = csrf(requester, "/terms")
    version = app.extensions["ats_bridge"].terms.version
    requester.post("/terms", data={"csrf_token": token, "version": version})
    requester.post("/keys", data={"csrf_token": token, "key": ssh_public_key() + " laptop"})
    requester.post("/waiver", data={"csrf_token": token, "reason": "Student this year."})
    [waiver] = store.waivers("Example")
    assert waiver.status == "requested"
    assert ASKED_NEXT in next_step(page(requester, "/me"))
    assert store.request_by_id(record.id).state == "awaiting-requester"
    return requester, waiver.id


def assert_closed(store: Store, requester: Any, waiver_id: int, actor: str) -> None:
    waiver = store.waiver(waiver_id)
    assert waiver is not None and waiver.status == "withdrawn"
    [entry] = [a for a in store.audit_log() if a.action == "waiver-withdrawn"]
    assert entry.actor == actor
    assert entry.evidence["waiver_id"] == waiver_id and entry.evidence["why"] == "paid"
    me = page(requester, "/me")
    now = next_step(me)
    assert ASKED_NEXT not in now and FEE_NEXT not in now and "waiver" not in now.lower()
    assert IDENTIFY_NEXT in now
    assert WITHDRAWN in me
    assert store.waivers("Example", status="requested") == []


def test_a_payment_on_the_admins_desk_closes_the_waiver_request(
    asked: tuple[Any, int], store: Store, client_as: Callable[..., Any]
) -> None:
    requester, waiver_id = asked
    admin = client_as("Admin One")
    token = csrf(admin, "/admin/member/Example")
    response = admin.post(
        "/admin/member/Example/payment",
        data={
            "csrf_token": token,
            "amount": "20.00",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
            "method": "bank",
            "reference": "BANK-1",
        },
        follow_redirects=True,
    )
    assert f"waiver request #{waiver_id} is withdrawn" in html.unescape(
        response.get_data(as_text=True)
    )
    assert_closed(store, requester, waiver_id, "Admin One")


def test_an_imported_payment_closes_the_waiver_request(
    asked: tuple[Any, int], store: Store, store_path: Path, tmp_path: Path, capsys: Any
) -> None:
    requester, waiver_id = asked
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\n'
        'request_page = "Toolserver/Requests"\n[bot]\nusername = "Clerk@c"\n'
        f"[store]\npath = {json.dumps(str(store_path))}\n"
    )
    export = tmp_path / "export.csv"
    export.write_text(
        "date,reference,payer_wiki_username,amount,currency,method\n"
        f"{date.today().isoformat()},TXN-9,Example,20.00,USD,card\n"
    )
    command = ["--config", str(config), "payments", "import", str(export), "--by", "Treasurer"]
    assert cli.main(command) == 0
    assert "1 imported" in capsys.readouterr().out
    assert_closed(store, requester, waiver_id, "Treasurer")


def test_a_payment_short_of_the_fee_leaves_the_waiver_request_open(
    asked: tuple[Any, int], store: Store, client_as: Callable[..., Any]
) -> None:
    requester, waiver_id = asked
    admin = client_as("Admin One")
    token = csrf(admin, "/admin/member/Example")
    admin.post(
        "/admin/member/Example/payment",
        data={
            "csrf_token": token,
            "amount": "5.00",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
            "method": "bank",
            "reference": "BANK-2",
        },
    )
    waiver = store.waiver(waiver_id)
    assert waiver is not None and waiver.status == "requested"
    assert ASKED_NEXT in next_step(page(requester, "/me"))
