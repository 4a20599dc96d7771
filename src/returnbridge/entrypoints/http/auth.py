"""Bearer tokens for the API: who is calling (401 when nobody is), and whether they may (403).

- 401 ``missing_token``: no ``Authorization`` header;
- 401 ``invalid_token``: not ``Bearer <token>``, or a token returnbridge never issued;
- 401 ``revoked_token``: a token that was revoked (``returnbridge tokens revoke``);
- 403 ``forbidden``: a valid token whose role may not do this; the message names the roles
  that may.

Every 401 carries ``WWW-Authenticate: Bearer`` (RFC 6750). The token itself is never logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission, Role, may, may_resolve_any, roles_with
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.entrypoints.http.problems import ApiRefusal, refusal_of
from returnbridge.services.access import Principal, TokenRefusal, authenticate
from returnbridge.store.tokens import access_transaction

log = structlog.get_logger("returnbridge.http")

bearer = HTTPBearer(
    scheme_name="bearer",
    description="An API token from `returnbridge tokens create`, sent as "
    "`Authorization: Bearer <token>`.",
    auto_error=False,  # the refusals below carry returnbridge's own codes
)

_MESSAGES = {
    TokenRefusal.INVALID: "the token is not one returnbridge issued (mistyped, or from another "
    "installation)",
    TokenRefusal.REVOKED: "the token was revoked: ask an admin for a new one",
}


def _unauthenticated(code: str, message: str, error: str | None) -> ApiRefusal:
    challenge = 'Bearer realm="returnbridge"' + (f', error="{error}"' if error else "")
    return ApiRefusal(401, code, message, {"WWW-Authenticate": challenge})


def role_list(roles: Sequence[Role]) -> str:
    names = [r.value for r in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def forbidden(principal: Principal, what: str, roles: Sequence[Role]) -> ApiRefusal:
    return ApiRefusal(
        403,
        "forbidden",
        f"{what} needs the role {role_list(roles)}; this token ({principal.name}) has the "
        f"role {principal.role}",
        roles=[r.value for r in roles],
    )


class Guard:
    """The API's dependencies: ``principal`` (any valid token) and ``require(permission)``."""

    def __init__(self, rb: App) -> None:
        self.rb = rb

    def principal(
        self,
        request: Request,
        _documented: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> Principal:
        header = request.headers.get("authorization", "").strip()
        if not header:
            raise _unauthenticated(
                "missing_token",
                "this needs an API token: send 'Authorization: Bearer <token>' "
                "(an admin creates one with `returnbridge tokens create`)",
                None,
            )
        scheme, _, presented = header.partition(" ")
        presented = presented.strip()
        if scheme.lower() != "bearer" or not presented or " " in presented:
            raise _unauthenticated(
                "invalid_token",
                "the Authorization header must be 'Bearer <token>'",
                "invalid_request",
            )
        try:
            with access_transaction(self.rb.engine) as store:
                found = authenticate(store, presented, self.rb.clock())
        except ReturnBridgeError as exc:
            raise refusal_of(exc) from exc
        if isinstance(found, TokenRefusal):
            log.info("api token refused", code=found.value, path=request.url.path)
            raise _unauthenticated(found.value, _MESSAGES[found], "invalid_token")
        return found

    def require(self, permission: Permission, what: str) -> Callable[..., Principal]:
        """A dependency: the caller's token, if its role holds ``permission``; else 403 saying
        that ``what`` (e.g. "reading exceptions") needs another role."""

        def check(principal: Principal = Depends(self.principal)) -> Principal:
            if not may(principal.role, permission):
                raise forbidden(principal, what, roles_with(permission))
            return principal

        return check

    def require_resolver(self) -> Callable[..., Principal]:
        """A dependency: the caller's token, if its role resolves exceptions of some side.
        Which codes it may resolve is checked per exception (``may_resolve``)."""

        def check(principal: Principal = Depends(self.principal)) -> Principal:
            if not may_resolve_any(principal.role):
                roles = tuple(r for r in Role if may_resolve_any(r))
                raise forbidden(principal, "resolving exceptions", roles)
            return principal

        return check
