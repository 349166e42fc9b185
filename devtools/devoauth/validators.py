"""What oauthlib's server classes ask of the stand-in provider, answered from its one
``Consumer``: which client, callback, scopes and signature methods are valid, and where
codes, tokens, verifiers and nonces are kept.  MediaWiki's own answers, as observed on a
1.39 wiki, decide each case.
"""

from __future__ import annotations

import secrets
import time
from types import SimpleNamespace

from oauthlib import oauth1, oauth2

from devtools.devoauth.consumer import ACCESS_TOKEN_SECONDS, CONSUMER_GRANTS, Consumer


class OAuth2Validator(oauth2.RequestValidator):
    def __init__(self, consumer: Consumer) -> None:
        self.c = consumer

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return client_id == self.c.key

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return self.c.callback_ok(redirect_uri)

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        return self.c.callback_url

    def validate_response_type(self, client_id, response_type, client, request, *args, **kw):
        return response_type == "code"

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return set(scopes) <= set(CONSUMER_GRANTS)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return list(CONSUMER_GRANTS)

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.c.codes[code["code"]] = {
            "client_id": client_id,
            "user": request.user,
            "scopes": list(request.scopes),
            "redirect_uri": request.redirect_uri,
            "challenge": request.code_challenge,
            "method": request.code_challenge_method,
        }

    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        ok = request.client_id == self.c.key and secrets.compare_digest(
            str(request.client_secret or ""), self.c.secret
        )
        request.client = SimpleNamespace(client_id=request.client_id) if ok else None
        return ok

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        grant = self.c.codes.get(code)
        if grant is None or grant["client_id"] != client_id:
            return False
        request.user, request.scopes = grant["user"], grant["scopes"]
        return True

    def get_code_challenge(self, code, request):
        return self.c.codes.get(code, {}).get("challenge")

    def get_code_challenge_method(self, code, request):
        return self.c.codes.get(code, {}).get("method")

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *a, **kw):
        return self.c.codes.get(code, {}).get("redirect_uri") == redirect_uri

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type == "authorization_code"

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.c.codes.pop(code, None)
        self.c.spent_codes.add(code)

    def save_bearer_token(self, token, request, *args, **kwargs):
        expires = time.time() + ACCESS_TOKEN_SECONDS
        self.c.bearer[token["access_token"]] = (request.user, expires)

    def validate_bearer_token(self, token, scopes, request):
        user, expires = self.c.bearer.get(token or "", (None, 0.0))
        request.user = user
        return user is not None and expires > time.time()


class OAuth1Validator(oauth1.RequestValidator):
    enforce_ssl = False
    client_key_length = request_token_length = access_token_length = (16, 64)
    nonce_length = verifier_length = (8, 64)
    dummy_client = "0" * 32
    dummy_request_token = dummy_access_token = "0" * 32

    def __init__(self, consumer: Consumer) -> None:
        super().__init__()
        self.c = consumer
        self._nonces: set[tuple[str, ...]] = set()

    @property
    def allowed_signature_methods(self):
        return (oauth1.SIGNATURE_HMAC_SHA1,)

    def get_client_secret(self, client_key, request):
        return self.c.secret if client_key == self.c.key else "dummy"

    def get_request_token_secret(self, client_key, token, request):
        return self.c.request_tokens.get(token, {}).get("secret", "dummy")

    def get_access_token_secret(self, client_key, token, request):
        return self.c.access_tokens.get(token, {}).get("secret", "dummy")

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def get_redirect_uri(self, token, request):
        callback = self.c.request_tokens[token]["callback"]
        return self.c.callback_url if callback == "oob" else callback

    def invalidate_request_token(self, client_key, request_token, request):
        self.c.request_tokens.pop(request_token, None)

    def validate_client_key(self, client_key, request):
        return client_key == self.c.key

    def validate_request_token(self, client_key, token, request):
        return token in self.c.request_tokens

    def validate_access_token(self, client_key, token, request):
        return token in self.c.access_tokens

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ):
        key = (client_key, timestamp, nonce, request_token or "", access_token or "")
        if key in self._nonces:
            return False
        self._nonces.add(key)
        return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        # MediaWiki: "oob", or a URL under the registered callback when the consumer
        # allows callbacks as a prefix.
        cb = self.c.callback_url
        return redirect_uri == "oob" or bool(
            self.c.callback_is_prefix and redirect_uri.startswith(cb)
        )

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def validate_verifier(self, client_key, token, verifier, request):
        record = self.c.request_tokens.get(token, {})
        return bool(record.get("verifier")) and secrets.compare_digest(record["verifier"], verifier)

    def verify_request_token(self, token, request):
        return token in self.c.request_tokens

    def verify_realms(self, token, realms, request):
        return True

    def save_request_token(self, token, request):
        self.c.request_tokens[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "callback": request.redirect_uri,
        }

    def save_verifier(self, token, verifier, request):
        self.c.request_tokens[token]["verifier"] = verifier["oauth_verifier"]

    def save_access_token(self, token, request):
        user = self.c.request_tokens[request.resource_owner_key]["user"]
        self.c.access_tokens[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "user": user,
        }
