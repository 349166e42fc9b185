"""The wiki connection: the site, the login, the one error family, the API plumbing.

`open_site` configures pywikibot from the `[wiki] api` URL alone (no user-config.py, a
private working folder for cookies and caches, the password handed over in memory and
never written to disk) and `login` logs in. Every pywikibot or network failure leaves
the package as one `WikiError` subclass with a one-line message (`faults`); `ask` is
the one raw API query the other modules of `bot.wiki` make, with `continued` and
`paged` following continuations. pywikibot is imported here, lazily, and nowhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from policies.errors import Refusal

BATCH = 50  # MediaWiki's limit for titles/users/revids per query without apihighlimits
USER_AGENT = "AmericanToolserver-clerk/0.1 (account requests clerk)"


class WikiError(Refusal, RuntimeError):
    """The wiki refused or could not be reached; the message says what happened."""


class EditConflict(WikiError):
    """Someone else saved the page after we read it."""


class WikiUnreachable(WikiError):
    """No answer: connection refused or reset, no such host, or a timeout."""


class WikiServerError(WikiError):
    """The wiki's server answered with an HTTP 5xx error, again and again."""


class WikiReadOnly(WikiError):
    """The wiki is in read-only mode ($wgReadOnly, database maintenance)."""


class WikiLagged(WikiError):
    """The wiki's replication lag stayed above `maxlag` after every retry."""


class LoginFailed(WikiError):
    """The bot's login was refused."""


# How long a silent wiki may take, in seconds: to accept the connection, then between two
# bytes of an answer. A refused connection fails at once; 5xx answers are retried.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
SERVER_ERROR_RETRIES = 2


def open_site(api_url: str, workdir: Path, login_name: str, *, maxlag: int = 5) -> Any:
    """A pywikibot site for `api_url`, configured in code; nothing is read from ~/.

    pywikibot's own throttle is made inert: it multiplies its delays by the number of
    processes listed in its `throttle.ctrl` file, where killed processes stay for ten
    minutes, so a few restarts would slow every read and save. The pause between saves
    is the clerk's own (`[bot] edit_interval`, counted from the last save the store
    knows); a server's Retry-After is still honoured.
    """
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # pywikibot only accepts PYWIKIBOT_DIR when it holds a user-config.py; an empty
    # one marks the folder (PYWIKIBOT_NO_USER_CONFIG=2 keeps it from being read).
    marker = workdir / "user-config.py"
    if not marker.exists():
        marker.write_text("# pywikibot is configured in code by American Toolserver.\n")
    os.environ.setdefault("PYWIKIBOT_NO_USER_CONFIG", "2")
    # The configured folder wins over an inherited PYWIKIBOT_DIR: cookies are per bot.
    os.environ["PYWIKIBOT_DIR"] = str(workdir.resolve())
    import pywikibot
    from pywikibot import config

    # pywikibot fixes its folder when first imported, and a caller may have imported
    # it already (for its exception classes): its cookies, caches and throttle.ctrl
    # would land in the current directory, shared with every other bot started there.
    config.base_dir = str(workdir.resolve())
    _quiet_pywikibot()
    family = "ats" + hashlib.sha1(api_url.encode()).hexdigest()[:8]  # noqa: S324 - a name
    config.family_files[family] = api_url
    config.put_throttle = 0
    config.minthrottle = 0
    config.write_maxlag = maxlag
    config.max_retries = 3
    config.retry_wait = 2
    config.retry_max = 30
    config.socket_timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    config.user_agent_description = USER_AGENT
    config.usernames[family][family] = login_name.partition("@")[0]
    config.noisysleep = 600.0  # do not print ordinary throttling waits
    with faults(f"opening the wiki at {api_url}"):
        # The site class that fails fast (see _FailFast); building it already asks the wiki.
        site = pywikibot.Site(family, family, interface=_site_class())
    _inert_throttle(site.throttle)
    return site


_DEBUG = {"on": False}


def debug_logging(on: bool = True) -> None:
    """Let pywikibot print everything it logs (`ats --debug`); by default it prints nothing."""
    _DEBUG["on"] = on


def _inert_throttle(throttle: Any) -> None:
    """No delay but the server's Retry-After, whatever throttle.ctrl lists.

    `Throttle.get_delay` is `max(mindelay, retry_after, delay) * process_multiplicity`
    and recounts the processes every `checkdelay` seconds: count this one only, never
    recount, and keep both delays at zero.
    """
    throttle.set_delays(delay=0, writedelay=0, absolute=True)
    throttle.mindelay = throttle.maxdelay = throttle.delay = throttle.writedelay = 0
    throttle.process_multiplicity = 1
    throttle.checkdelay = float("inf")


def _quiet_pywikibot() -> None:
    """Keep pywikibot's own output off the terminal unless debugging.

    pywikibot logs chatter (\"Logging in to ...\"), retries, and whole tracebacks of
    errors it is about to raise; this adapter turns each failure into one WikiError
    whose message says what happened, so its log would only repeat it at length.
    """
    import logging

    from pywikibot import bot as pwb_bot

    pwb_bot.init_handlers()
    if _DEBUG["on"]:
        return
    for handler in logging.getLogger("pywiki").handlers:
        handler.setLevel(logging.CRITICAL + 1)


def login(site: Any, login_name: str, password: str) -> str:
    """Log in (reusing saved cookies when they are still good); returns the username."""
    from pywikibot import login as pwb_login
    from pywikibot.exceptions import APIError, NoUsernameError

    user = login_name.partition("@")[0]
    with faults(f"logging in as {login_name}"):
        with contextlib.suppress(APIError, NoUsernameError):
            site.login(cookie_only=True)
        if site.logged_in() and site.user() == user:
            return user
        manager = pwb_login.ClientLoginManager(site=site, user=user, password=password)
        manager.login_name = login_name
        try:
            ok = manager.login(retry=False)
        except (APIError, NoUsernameError) as error:
            raise LoginFailed(f"login as {login_name} failed: {error}") from None
        if not ok:
            raise LoginFailed(
                f"login as {login_name} failed: check [bot] username and ATS_BOT_PASSWORD "
                "(a BotPassword login name looks like Name@appid)"
            )
        del site.userinfo
        site.login(cookie_only=True)
        if not site.logged_in():
            raise LoginFailed(f"login as {login_name} did not stick (cookies refused?)")
        return user


def ask(site: Any, **params: Any) -> dict[str, Any]:
    params.setdefault("formatversion", 2)
    with faults(f"the wiki's answer to {params.get('action', 'query')}"):
        return site.simple_request(**params).submit()


def paged(query: Callable[..., dict[str, Any]], params: dict[str, Any]) -> Iterator[dict]:
    params = dict(params)
    while True:
        data = query(**params)
        yield data
        if "continue" not in data:
            return
        params.update(data["continue"])


def submit_write(site: Any, request: dict[str, Any], *, conflict: str | None) -> dict[str, Any]:
    """Submit a write request; with `conflict` (the title written), the API's conflict
    errors raise EditConflict. Other refusals go on to `faults`."""
    from pywikibot.exceptions import APIError

    try:
        return site.simple_request(**request).submit()
    except APIError as error:
        if conflict is not None and error.code in (
            "editconflict",
            "articleexists",
            "pagedeleted",
            "missingtitle",
        ):
            raise EditConflict(f"{conflict} was edited while the bot was working") from None
        raise


# -- plumbing ----------------------------------------------------------------


def continued(site: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return paged(partial(ask, site), params)


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def transient_errors() -> tuple[type[BaseException], ...]:
    """pywikibot's own error base, for callers that must survive any wiki failure."""
    import requests
    from pywikibot.exceptions import Error

    return (WikiError, Error, requests.RequestException)


# -- faults ------------------------------------------------------------------------
# Every pywikibot or network failure leaves this module as one WikiError subclass whose
# message is a single line saying what happened. pywikibot's own retry loop is cut
# short where waiting cannot help: a refused connection fails at once, a silent wiki
# after CONNECT_TIMEOUT / READ_TIMEOUT seconds, a read-only wiki at its first refusal.

_CLASSES: dict[str, Any] = {}


def _site_class() -> type:
    """pywikibot's APISite, making its requests through the fail-fast request classes."""
    if "site" not in _CLASSES:
        from pywikibot.data import api
        from pywikibot.site import APISite

        methods = {"_http_request": _http_request, "_internal_api_error": _internal_api_error}
        plain = type("FailFastRequest", (api.Request,), methods)
        cached = type("FailFastCachedRequest", (api.CachedRequest,), methods)

        def request_class(kwargs: dict[str, Any]) -> type:
            return cached if kwargs.get("expiry") is not None else plain

        _CLASSES["site"] = type(
            "FailFastSite", (APISite,), {"_request_class": staticmethod(request_class)}
        )
    return _CLASSES["site"]


def _http_request(
    self: Any, use_get: bool, uri: str, data: Any, headers: Any, paramstring: str
) -> tuple[Any, bool]:
    """`api.Request._http_request` without its retries for failures waiting cannot mend."""
    import requests
    from pywikibot.comms import http
    from pywikibot.exceptions import Client414Error, FatalServerError, ServerError

    where = _api_url(self.site)
    try:
        response = http.request(
            self.site, uri=uri, method="GET" if use_get else "POST", data=data, headers=headers
        )
    except Client414Error:
        if use_get:  # the URL was too long for a GET: the same request as a POST
            return None, False
        raise
    except FatalServerError as error:
        raise WikiUnreachable(f"cannot reach the wiki at {where}: {_reason(error)}") from error
    except ServerError as error:
        cause = error.args[0] if error.args else None
        if isinstance(cause, requests.Timeout):
            waited = CONNECT_TIMEOUT if isinstance(cause, requests.ConnectTimeout) else READ_TIMEOUT
            raise WikiUnreachable(
                f"the wiki at {where} did not answer within {waited:.0f} s"
            ) from error
        self._ats_server_errors = getattr(self, "_ats_server_errors", 0) + 1
        if self._ats_server_errors > SERVER_ERROR_RETRIES:
            raise WikiServerError(
                f"the wiki at {where} failed {self._ats_server_errors} times in a row "
                f"({_reason(error)}); try again later"
            ) from error
        self.wait()
        return None, use_get
    except (requests.RequestException, OSError) as error:
        raise WikiUnreachable(f"cannot reach the wiki at {where}: {_reason(error)}") from error
    return response, use_get


def _internal_api_error(self: Any, code: str, error: dict[str, Any], result: Any) -> bool:
    """A read-only wiki is said at once; pywikibot would retry it until a timeout.

    Raised as WikiReadOnly, not as pywikibot's APIError: its login swallows those.
    """
    from pywikibot.data import api

    if code == "readonly":
        raise _read_only(error.get("readonlyreason") or error.get("info"))
    return api.Request._internal_api_error(self, code, error, result)


def _read_only(reason: str | None) -> WikiReadOnly:
    said = _line(reason or "") or "no reason given"
    return WikiReadOnly(f"the wiki is read-only, so nothing can be saved: {said}")


@contextlib.contextmanager
def faults(doing: str) -> Iterator[None]:
    """Turn whatever pywikibot or the network raises into a one-line WikiError."""
    try:
        yield
    except WikiError:
        raise
    except Exception as error:
        classified = _classify(error, doing)
        if classified is None:
            raise
        raise classified from error


def _classify(error: Exception, doing: str) -> WikiError | None:
    import requests
    from pywikibot import config
    from pywikibot.exceptions import APIError, ApiTimeoutError, Error, MaxlagTimeoutError

    if isinstance(error, APIError):
        if error.code == "readonly":
            return _read_only(error.other.get("readonlyreason") or error.info)
        if error.code == "maxlag":
            return WikiLagged(f"{doing}: the wiki is lagged ({_line(error.info)}); try later")
        if error.code in ("assertuserfailed", "assertbotfailed", "assertnameduserfailed"):
            return LoginFailed(f"{doing}: the bot is no longer logged in ({error.code})")
        return WikiError(f"{doing} failed: the wiki refused it ({error.code}: {_line(error.info)})")
    if isinstance(error, MaxlagTimeoutError):
        return WikiLagged(
            f"{doing}: the wiki's replication lag stayed above maxlag "
            f"({config.write_maxlag} s) after {config.max_retries} tries; try again later"
        )
    if isinstance(error, ApiTimeoutError):
        return WikiUnreachable(f"{doing}: the wiki gave no usable answer after repeated tries")
    if isinstance(error, requests.RequestException | OSError):
        return WikiUnreachable(f"{doing}: cannot reach the wiki: {_reason(error)}")
    if isinstance(error, Error):
        return WikiError(f"{doing} failed: {_line(str(error))}")
    return None


def _api_url(site: Any) -> str:
    try:
        return str(site.base_url(site.apipath()))
    except Exception:  # noqa: BLE001 - only a name for the message
        return "its address"


def _reason(error: BaseException) -> str:
    """The useful part of a network error's message, e.g. "connection refused"."""
    text = str(error)
    errno = re.search(r"\[Errno (-?\d+)\] ([^'\")]+)", text)
    if errno:
        return errno.group(2).strip().rstrip(".").lower()
    for marker, said in (
        ("RemoteDisconnected", "it closed the connection without answering"),
        ("Connection aborted", "it closed the connection without answering"),
        ("Connection reset", "the connection was reset"),
        ("certificate verify failed", "its TLS certificate could not be verified"),
    ):
        if marker in text:
            return said
    return _line(text) or type(error).__name__


def _line(text: str) -> str:
    """The first line of `text`, at most 300 characters."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return first if len(first) <= 300 else first[:297] + "..."
