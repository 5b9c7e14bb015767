"""Request authentication and permission guards for the node's API.

A request is authenticated by ``Authorization: Bearer <token>`` (scripts) or by
the ``rhip_session`` cookie (the pages). Guards check the role matrix in
``_access``; record-type checks happen in the handlers, which know the type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from ._access import DEFAULT_PURPOSE, Permission, allowed
from ._audit import record_access
from ._auth import SESSION_HOURS, AuthError, Staff, resolve_token
from ._db import Database

__all__ = ["SESSION_COOKIE", "TokenAuthMiddleware", "require", "session_cookie"]

SESSION_COOKIE = "rhip_session"


def session_cookie(token: str | None) -> Cookie:
    """The browser's session cookie for ``token`` (None: the cookie that logs it out)."""
    if token is None:
        return Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        httponly=True,
        samesite="strict",
        max_age=SESSION_HOURS * 3600,
        path="/",
    )


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        db: Database = connection.app.state.db
        header = connection.headers.get("authorization", "")
        token: str | None = None
        kind: str | None = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise NotAuthorizedException("Authorization header must be 'Bearer <token>'")
            token = value.strip()
        elif connection.cookies.get(SESSION_COOKIE):
            token, kind = connection.cookies[SESSION_COOKIE], "session"
        if token is None:
            raise NotAuthorizedException("log in, or send 'Authorization: Bearer <token>' (rhip node token)")
        try:
            staff = resolve_token(db, token, kind=kind)
        except AuthError as exc:
            raise NotAuthorizedException(str(exc)) from None
        return AuthenticationResult(user=staff, auth=token)


def require(
    *permissions: Permission,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]:
    """A guard letting through only roles granted every one of ``permissions``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        staff: Staff = connection.user
        missing = [p for p in permissions if not allowed(staff.role, p)]
        if missing:
            # Refused attempts are part of the access record too.
            params = connection.path_params
            record_access(
                connection.app.state.db,
                user=staff.name,
                role=staff.role.value,
                action="denied:" + ",".join(m.value for m in missing),
                reason=DEFAULT_PURPOSE[staff.role],
                resident_id=params.get("resident_id"),
                record_id=params.get("record_id"),
                detail={"method": connection.scope.get("method", ""), "route": connection.scope["path"]},
            )
            raise PermissionDeniedException(
                f"role {staff.role.value} may not {', '.join(m.value for m in missing)}"
            )

    return guard
