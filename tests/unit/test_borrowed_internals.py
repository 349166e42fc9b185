"""The private parts of pywikibot and toolforge-i18n that the code leans on, with the
shapes it expects: a dependency release that renames or reshapes one fails here, in
CI, not in production.

`bot/wiki/site.py` subclasses pywikibot's request and site classes, overriding
`_http_request`, `_internal_api_error` and `_request_class`, and quiets its throttle
through attributes; `bridge/i18n.py` feeds toolforge-i18n's `_language_info` module its
language data (offline) and calls `mw2py` and `check_all_translations` from its private
modules. Each is checked by name and by signature; the bridge's and the bot's use is
tested end to end elsewhere.
"""

from __future__ import annotations

import inspect

import pytest


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_pywikibots_request_methods_keep_the_overridden_signatures() -> None:
    from pywikibot.data import api

    assert _parameters(api.Request._http_request) == [
        "self",
        "use_get",
        "uri",
        "data",
        "headers",
        "paramstring",
    ]
    assert _parameters(api.Request._internal_api_error) == ["self", "code", "error", "result"]
    assert issubclass(api.CachedRequest, api.Request)


def test_pywikibots_site_chooses_its_request_class_as_overridden() -> None:
    from pywikibot.site import APISite

    chooser = inspect.getattr_static(APISite, "_request_class")
    assert isinstance(chooser, staticmethod)
    assert _parameters(APISite._request_class) == ["kwargs"]


def test_pywikibots_throttle_has_the_attributes_made_inert() -> None:
    from pywikibot.throttle import Throttle

    assert _parameters(Throttle.set_delays) == ["self", "delay", "writedelay", "absolute"]
    source = inspect.getsource(Throttle)
    for attribute in (
        "mindelay",
        "maxdelay",
        "delay",
        "writedelay",
        "process_multiplicity",
        "checkdelay",
    ):
        assert f"self.{attribute}" in source, attribute


def test_pywikibots_http_request_takes_what_the_fail_fast_request_passes() -> None:
    from pywikibot.comms import http

    parameters = inspect.signature(http.request).parameters
    assert list(parameters)[:3] == ["site", "uri", "headers"]
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def test_toolforge_i18n_language_info_is_the_module_state_fed_offline() -> None:
    from toolforge_i18n import _language_info

    assert isinstance(_language_info._language_info, dict | type(None))
    assert hasattr(_language_info, "_by_bcp47")


@pytest.mark.parametrize(
    ("module", "name", "parameters"),
    [
        ("toolforge_i18n._translations", "mw2py", ["mw", "locale", "variables"]),
        (
            "toolforge_i18n._translations_checks",
            "check_all_translations",
            ["translations_config", "translations", "documentation"],
        ),
    ],
)
def test_toolforge_i18n_private_functions_keep_their_signatures(
    module: str, name: str, parameters: list[str]
) -> None:
    import importlib

    function = getattr(importlib.import_module(module), name)
    assert _parameters(function) == parameters
