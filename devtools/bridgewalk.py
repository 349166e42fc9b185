"""A requester's and an admin's steps on a running bridge, over plain HTTP.

`Visitor` is a cookie jar (`requests.Session`) that signs in through the bridge's
`/login`, following every redirect through the OAuth provider's consent page (the
stand-in `devtools.devoauth` consents for the user it was told is logged in), then
posts the bridge's own forms with their CSRF token, as a browser would: accept the
terms, add or remove an SSH key, record an identification or a payment. Used by the
end-to-end test, the journey benchmark and the demo's shell; each step checks the
bridge's answer and raises `WalkError` with one line when it is not what was asked.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote, urljoin

import requests

REDIRECTS = (301, 302, 303, 307, 308)


class WalkError(RuntimeError):
    """A step on the bridge did not do what it was asked (one line)."""


class Visitor:
    def __init__(self, bridge_url: str, timeout: float = 30) -> None:
        self.url = bridge_url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout

    def get(self, url: str) -> requests.Response:
        """GET `url` (absolute, or a path of the bridge), following redirects."""
        url = urljoin(self.url + "/", url)
        response = self.http.get(url, allow_redirects=False, timeout=self.timeout)
        for _ in range(10):
            if response.status_code not in REDIRECTS:
                return response
            url = urljoin(response.url, response.headers["Location"])
            response = self.http.get(url, allow_redirects=False, timeout=self.timeout)
        raise WalkError(f"too many redirects from {url}")

    def sign_in(self, username: str) -> None:
        """Sign in through the bridge's /login (the provider must consent as `username`)."""
        page = self.get("/login")
        if f"<strong>{username}</strong>" not in page.text:
            raise WalkError(f"signing in as {username} ended on {page.url} ({page.status_code})")

    def post(self, path: str, form_page: str, **fields: str) -> requests.Response:
        """POST the form at `path` with the CSRF token read from `form_page`."""
        page = self.get(form_page)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if token is None:
            raise WalkError(f"no form on {form_page} ({page.status_code})")
        response = self.http.post(
            self.url + path,
            data={"csrf_token": token.group(1), **fields},
            allow_redirects=False,
            timeout=self.timeout,
        )
        if response.status_code not in REDIRECTS:
            raise WalkError(f"POST {path} answered {response.status_code}")
        return self.get(urljoin(response.url, response.headers["Location"]))

    # -- the requester -----------------------------------------------------------

    def accept_terms(self) -> None:
        page = self.get("/terms")
        version = re.search(r'name="version" value="([^"]+)"', page.text)
        if version is None:
            raise WalkError("the terms page has no form to accept them")
        self.post("/terms", "/terms", version=version.group(1))

    def add_key(self, line: str) -> None:
        page = self.post("/keys", "/me", key=line)
        if line.split()[1] not in page.text and "SHA256:" not in page.text:
            raise WalkError("the bridge did not list the key it was given")

    def key_ids(self) -> list[int]:
        """The ids of the keys /me lists, in its order."""
        found = re.findall(r'action="/keys/(\d+)/remove"', self.get("/me").text)
        return [int(key_id) for key_id in found]

    def remove_key(self, key_id: int) -> None:
        self.post(f"/keys/{key_id}/remove", "/me")
        if key_id in self.key_ids():
            raise WalkError(f"key {key_id} is still listed after its removal")

    # -- an admin ----------------------------------------------------------------

    def attest(self, member: str, method: str = "video call") -> None:
        page = f"/admin/member/{quote(member)}"
        self.post(f"{page}/identification", page, method=method)

    def record_payment(self, member: str, amount: str, currency: str, reference: str) -> None:
        page = f"/admin/member/{quote(member)}"
        self.post(
            f"{page}/payment",
            page,
            amount=amount,
            currency=currency,
            paid_on=date.today().isoformat(),
            method="bank transfer",
            reference=reference,
        )
