"""How to pay, on the requester's page: the chapter's donation page linked in the
reader's language when `donation_url` is set, the bridge's own words without it, and a
chapter's own `how_to_pay` text in their place when it gives one."""

from __future__ import annotations

import html
from typing import Any

import pytest

from policies.fees import load_fees
from tests.builders import add_request

DONATE = "https://donate.example.org/toolserver"


@pytest.fixture
def app_settings(app_settings: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    return {**app_settings, "fees": load_fees(getattr(request, "param", {}))}


def fee_section(client: Any, query: str = "") -> str:
    response = client.get("/me" + query)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return html.unescape(page.split('<section id="fee">', 1)[1].split("</section>", 1)[0])


@pytest.mark.parametrize("app_settings", [{"donation_url": DONATE}], indirect=True)
def test_the_donation_page_is_linked_in_the_readers_language(store, client_as) -> None:
    add_request(store, state="awaiting-requester")
    requester = client_as("Example")
    english = fee_section(requester)
    assert f'href="{DONATE}"' in english and "the chapter's donation page</a>" in english
    german = fee_section(requester, "?uselang=de")
    assert f'href="{DONATE}"' in german and "Spendenseite" in german


def test_without_a_donation_page_the_words_stand_alone(store, client_as) -> None:
    add_request(store, state="awaiting-requester")
    section = fee_section(client_as("Example"))
    assert "the chapter's donation page" in section and "<a " not in section


@pytest.mark.parametrize(
    "app_settings",
    [{"donation_url": DONATE, "how_to_pay": "Pay at the chapter's office."}],
    indirect=True,
)
def test_a_chapters_own_text_takes_their_place(store, client_as) -> None:
    add_request(store, state="awaiting-requester")
    section = fee_section(client_as("Example"), "?uselang=de")
    assert "Pay at the chapter's office." in section and DONATE not in section
