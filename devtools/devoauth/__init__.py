"""A stand-in for MediaWiki's OAuth extension, for the demo, development and tests on
machines without ``../shared/mediawiki-oauth``.

``DevOAuth`` answers as the real extension (REL1_39) does for the project's identity-only
consumer — status codes, content types, ``expires_in``, grants and rights, error bodies;
``tests/integration/test_oauth_parity.py`` runs the same assertions against both.  OAuth
2.0 at ``/rest.php/oauth2/authorize`` (307 to ``/index.php?title=Special:OAuth/approve&…``,
then 302 to the callback with ``code`` and ``state``), ``/rest.php/oauth2/access_token``
(an RS256 JWT access token with float ``iat``/``nbf``/``exp``) and
``/rest.php/oauth2/resource/profile``; OAuth 1.0a at
``/index.php?title=Special:OAuth/initiate|authorize|authenticate|token|identify`` (errors
as HTTP 200 bodies; an HS256 identify JWT signed with the consumer secret, echoing the
request's ``oauth_nonce``).  The protocol
work is oauthlib's server classes (``validators``); ``consumer`` holds the one consumer, its
tokens and the users, ``provider`` the protocol side, ``answers`` one function per
endpoint, ``app`` the Flask routes, and ``server`` serves them on 127.0.0.1 from a
background thread.

Who consents is chosen in advance with ``login_as()`` (or ``decline_next()``), or on the
approve page's small form (``devoauth_user=NAME`` / ``devoauth_decline=1``) when nobody is
logged in; with ``ask_every_time`` (the demo) the form is shown at every login, with a
"log in as …" link for each of ``people``.  ``issue_jwt_with()`` makes the next identify
JWT misbehave so tests can prove the client refuses it.  On a real wiki these endpoints
live beside ``api.php``; pointing a client's ``index_url``/``rest_url`` here, with
``server`` (the JWT ``iss``) equal to ``url``, is what ``oauth_settings()`` does.  It
speaks plain http, so the process whose client talks to it must set
``OAUTHLIB_INSECURE_TRANSPORT=1`` (tests and the demo only).
"""

from devtools.devoauth.consumer import DevUser
from devtools.devoauth.server import DevOAuth

__all__ = ["DevOAuth", "DevUser"]
