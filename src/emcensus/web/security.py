"""Access token and CSRF protection, as one ASGI middleware in front of every route.

Token: when configured, every request needs it, as `Authorization: Bearer T`, or `?token=T` once
(which sets an HttpOnly cookie and, for pages, redirects to the same URL without it).
CSRF: double-submit cookie; a POST/PUT/PATCH/DELETE must echo the `emcensus_csrf` cookie in the
`X-CSRF-Token` header (pages carry it in a meta tag for scripts).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from emcensus.errors import ConfigError

TOKEN_COOKIE = "emcensus_token"
CSRF_COOKIE = "emcensus_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_token(token: str | None) -> str | None:
    """The access token, or None for none; a blank one is refused (it would guard nothing, and a
    server started with `--token ' '` on a public address would be open to anyone who guesses it)."""
    if token is not None and not token.strip():
        raise ConfigError("the access token is blank: give a real token (a long random string), or none on loopback")
    return token


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


class GuardMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, token: str | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        from_query = False
        if self.token:
            header = request.headers.get("authorization", "")
            bearer = header[7:] if header.lower().startswith("bearer ") else None
            from_query = _same(request.query_params.get("token"), self.token)
            if not (from_query or _same(bearer, self.token) or _same(request.cookies.get(TOKEN_COOKIE), self.token)):
                return JSONResponse({"error": "access token required (Authorization: Bearer, or ?token=)"}, 401,
                                    headers={"WWW-Authenticate": "Bearer"})
        csrf = request.cookies.get(CSRF_COOKIE)
        if request.method not in SAFE_METHODS and not _same(request.headers.get(CSRF_HEADER), csrf):
            return JSONResponse({"error": "missing or wrong CSRF token (X-CSRF-Token must match the emcensus_csrf cookie)"}, 403)
        request.state.csrf = csrf or secrets.token_urlsafe(24)
        if from_query and request.method == "GET" and not request.url.path.startswith("/api/"):
            response: Response = RedirectResponse(str(request.url.remove_query_params("token")), 303)
        else:
            response = await call_next(request)
        if from_query:
            response.set_cookie(TOKEN_COOKIE, self.token or "", httponly=True, samesite="strict")
        if not csrf:
            response.set_cookie(CSRF_COOKIE, request.state.csrf, samesite="strict")
        return response
