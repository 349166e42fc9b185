"""What a reader meets when the bridge says no: one handler for every refusal, and the
error pages.

The rules refuse with a `policies.errors.Refusal` whose words say why; the views let it
rise, and `install` turns any of them into what the reader sees, in their language. A
refused form (a POST) is flashed as an error on the page the view named with `back_to`
— the landing page when it named none, never a page another site chose — or shown on
the page again when the view asked so with `shown_on` (status 409 when someone else
came first, a `Conflict`; 400 otherwise). What does not exist (`NotFound`) or is not the
reader's to do (`NotAllowed`) has no page to go back to: it is the error page with 404
or 403, as any refusal met on a GET is (400 for the others). `framed` puts a rule's
words inside one of the bridge's sentences ("Not recorded: …"). The store failing
(`StoreError`, a refusal of the deployment rather than of the reader) is the server's
error page, and a store kept locked past its busy timeout a 503 that says to try again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, redirect, render_template, request, url_for
from werkzeug import exceptions
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from bridge.said import Later, Said, flash_said
from membership.storefaults import StoreBusy, StoreError
from policies.errors import Conflict, NotAllowed, NotFound, Refusal

# The kinds of refusal a page answers with something else than 400, most specific first.
STATUSES: tuple[tuple[type[Refusal], type[HTTPException]], ...] = (
    (NotFound, exceptions.NotFound),
    (NotAllowed, exceptions.Forbidden),
    (Conflict, exceptions.Conflict),
)


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, error_page)
    app.register_error_handler(Refusal, refused)


def back_to(url: str) -> None:
    """Where a form refused from here on goes back to: the page it was sent from."""
    g.refused_back_to = url


def shown_on(page: Callable[[Later], str]) -> None:
    """A form refused from here on shows `page` again with the refusal in it, rather
    than going back to a page (for a form whose losing side of a race must tell so)."""
    g.refused_page = page


class Framed(Refusal):
    """A rule's refusal told inside one of the bridge's sentences, as its `reason`."""

    def __init__(self, key: str, refusal: Refusal) -> None:
        super().__init__(f"{key}: {refusal}")
        self.key = key
        self.refusal = refusal


@contextmanager
def framed(key: str) -> Iterator[None]:
    """A refusal raised inside is told as the message `key` with the refusal's words as
    its one parameter, `reason` (`ats-bridge-flash-not-recorded`: "Not recorded: …").
    The store failing is no refusal of the form, and stays what it is."""
    try:
        yield
    except StoreError:
        raise
    except Refusal as refusal:
        raise Framed(key, refusal) from refusal


def said(refusal: Refusal) -> Said:
    """What to tell the reader: the refusal's words (a message), or its English."""
    if isinstance(refusal, Framed):
        inner = refusal.refusal
        return refusal.key, {"reason": inner.words or str(inner)}
    return refusal.words or str(refusal)


def refused(refusal: Refusal) -> Response:
    if isinstance(refusal, StoreError):
        # Not the reader's doing: logged with its traceback like any fault, and answered
        # with the server's error page (a 503 saying to try again when it is busy).
        current_app.log_exception(sys.exc_info())
        return error_page(InternalServerError(original_exception=refusal))
    answer = _answer(refusal)
    status = answer.code or 400
    if request.method == "POST" and status not in (403, 404):
        page = g.get("refused_page")
        if page is not None:
            return current_app.make_response((page(Later(said(refusal))), status))
        flash_said(said(refusal), "error")
        return redirect(g.get("refused_back_to") or url_for("public.landing"))
    return current_app.make_response((_page(answer, text=Later(said(refusal))), status))


def error_page(error: HTTPException) -> Response:
    """The bridge's own page for an HTTP error, in the reader's language."""
    # Werkzeug's own English description is replaced by the bridge's message. Any
    # other exception reaches here as a 500 (Flask logged its traceback already);
    # the page says one sentence, and a store kept locked past its busy timeout is
    # a 503 that says to try again.
    stock = error.description == type(error).description
    busy = isinstance(getattr(error, "original_exception", None), StoreBusy)
    page = _page(error, stock=stock, title_key="ats-bridge-error-busy" if busy else None)
    response = current_app.make_response((page, 503 if busy else error.code or 500))
    if busy:
        response.headers["Retry-After"] = "30"
    return response


def _answer(refusal: Refusal) -> HTTPException:
    for kind, answer in STATUSES:
        if isinstance(refusal, kind):
            return answer()
    return exceptions.BadRequest()


def _page(error: HTTPException, **shown: Any) -> str:
    g.html_language_codes = []  # a page that failed half-way left its language open
    if "interface_language_code" not in g:  # failed before the language was chosen
        g.interface_language_code, g.qqx = "en", False
    return render_template("error.html", error=error, **shown)
