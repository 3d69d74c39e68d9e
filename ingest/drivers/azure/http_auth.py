"""Entra ID on the HTTP routes (INGEST_HTTP_AUTH=entra).

App Service Authentication ("Easy Auth", `authsettingsV2` in infra/modules/function-app.bicep)
validates the caller's Entra ID token in front of the app, strips any `X-MS-CLIENT-PRINCIPAL*`
header the caller sent, and injects its own: the caller's object id, its identity provider and
the token's claims (base64 JSON). With Entra on, a route answers 401 when those headers are
missing or do not agree, and 403 when the caller's object id is not in
INGEST_HTTP_ALLOWED_PRINCIPALS. Admission is by object id only, the key Easy Auth's
allowedPrincipals.identities checks (infra fills both from one list), so the two layers agree:
an application's client id in a token's `appid`/`azp` admits no one.

The headers are trusted only when the platform says Easy Auth is on (WEBSITE_AUTH_ENABLED=True,
set by App Service on the site): with INGEST_HTTP_AUTH=entra and Easy Auth off, half-deployed, or
the app run elsewhere, anyone could send them, so every call is refused (fail closed).

With the function key only (the default, and every local run), the headers are never read:
without Easy Auth in front, anyone can send them. The function key stays required either way
(`auth_level=FUNCTION`)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass

import azure.functions as func

from ingest.core.settings import OBJECT_ID_PATTERN, Settings

log = logging.getLogger("ingest.azure.auth")

PRINCIPAL_ID = "X-MS-CLIENT-PRINCIPAL-ID"
PRINCIPAL_IDP = "X-MS-CLIENT-PRINCIPAL-IDP"
PRINCIPAL = "X-MS-CLIENT-PRINCIPAL"
ENTRA_IDP = "aad"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
MAX_PRINCIPAL_BYTES = 64 * 1024
"""A token's claims are a few KB; a header far larger is not Easy Auth's."""


class NotAuthenticated(Exception):
    """The request does not carry the principal Easy Auth injects (401)."""


@dataclass(frozen=True)
class Caller:
    object_id: str

    def allowed(self, principals: tuple[str, ...]) -> bool:
        return self.object_id in principals


def _claims(encoded: str) -> dict[str, str]:
    """`X-MS-CLIENT-PRINCIPAL`: base64 of {"auth_typ": ..., "claims": [{"typ": ..., "val": ...}]}."""
    if len(encoded) > MAX_PRINCIPAL_BYTES:
        raise NotAuthenticated("the client principal header is too large")
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise NotAuthenticated("the client principal header is not base64 JSON") from None
    claims = document.get("claims") if isinstance(document, dict) else None
    if not isinstance(claims, list):
        raise NotAuthenticated("the client principal header has no claims")
    return {str(c.get("typ")): str(c.get("val")) for c in claims if isinstance(c, dict)}


def caller_of(req: func.HttpRequest) -> Caller:
    """Who Easy Auth says the caller is; NotAuthenticated when a header is missing, is not from
    Entra ID, or names another object id than the token's claims."""
    headers = {name.lower(): value for name, value in req.headers.items()}
    object_id = (headers.get(PRINCIPAL_ID.lower()) or "").strip().lower()
    idp = (headers.get(PRINCIPAL_IDP.lower()) or "").strip().lower()
    encoded = (headers.get(PRINCIPAL.lower()) or "").strip()
    if not (object_id and idp and encoded):
        raise NotAuthenticated("no Entra ID login: call with a bearer token for this app")
    if not OBJECT_ID_PATTERN.fullmatch(object_id):
        raise NotAuthenticated("the client principal id is not an object id")
    if idp != ENTRA_IDP:
        raise NotAuthenticated("the login is not from Entra ID")
    claims = _claims(encoded)
    claimed = next((claims[c] for c in OBJECT_ID_CLAIMS if c in claims), "").strip().lower()
    if claimed != object_id:
        raise NotAuthenticated("the client principal headers do not agree")
    return Caller(object_id)


def _refuse(message: str, status: int) -> func.HttpResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return func.HttpResponse(json.dumps({"error": message}), status_code=status,
                             mimetype="application/json", headers=headers)


def refusal(req: func.HttpRequest, settings: Settings) -> func.HttpResponse | None:
    """None when the request may go on; else the 401 or 403 answer. Header values are never
    echoed in the answer; a refused caller's object id (not a secret) is logged."""
    if settings.http_auth != "entra":
        return None
    if not settings.http_easy_auth:
        log.error("HTTP call refused (403): INGEST_HTTP_AUTH=entra but App Service Authentication is not on"
                  " in front of this app (WEBSITE_AUTH_ENABLED is not True): the principal headers cannot be trusted")
        return _refuse("Entra ID is required but App Service Authentication is not on for this app", 403)
    try:
        caller = caller_of(req)
    except NotAuthenticated as exc:
        log.warning("HTTP call refused (401): %s", exc)
        return _refuse(str(exc), 401)
    if not settings.http_allowed_principals:
        log.error("HTTP call refused (403): INGEST_HTTP_AUTH=entra and INGEST_HTTP_ALLOWED_PRINCIPALS is empty")
        return _refuse("no caller is allowed on this app", 403)
    if not caller.allowed(settings.http_allowed_principals):
        log.warning("HTTP call refused (403): principal %s is not in INGEST_HTTP_ALLOWED_PRINCIPALS", caller.object_id)
        return _refuse("this caller is not allowed", 403)
    return None
