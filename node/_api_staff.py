"""Sessions, the node's status, code lists, and the admin's accounts and audit log."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

import schemas
from schemas import FieldError, RecordInvalid

from ._access import PERMISSIONS, Permission
from ._api_support import Ctx
from ._audit import audit_entries
from ._auth import (
    AuthError,
    Staff,
    add_user,
    authenticate,
    issue_token,
    list_users,
    revoke_token,
    set_active,
    set_password,
)
from ._db import Database
from ._web_auth import require, session_cookie

__all__ = ["AdminController", "CodeController", "SessionController", "StatusController"]

Req = Request[Staff, Any, Any]


def _str_field(data: dict[str, Any], name: FromPath[str]) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise RecordInvalid([FieldError(name, "is required")])
    return value


class SessionController(Controller):
    path = "/api/v1/auth"
    tags = ("auth",)

    @post("/login", exclude_from_auth=True, sync_to_thread=True, status_code=200)
    def login(
        self, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Log in with ``{"user", "password"}``; sets the session cookie and returns the session token."""
        db: Database = request.app.state.db
        staff = authenticate(db, _str_field(data, "user"), _str_field(data, "password"))
        token = issue_token(db, staff.name, kind="session")
        cookie = session_cookie(token)
        return Response({"user": staff.name, "role": staff.role.value, "token": token}, cookies=[cookie])

    @post("/logout", sync_to_thread=True, status_code=200)
    def logout(self, request: Req) -> Response[dict[str, Any]]:
        revoke_token(request.app.state.db, request.auth)
        return Response({"logged_out": True}, cookies=[session_cookie(None)])

    @get("/me", sync_to_thread=False)
    def me(self, request: Req) -> dict[str, Any]:
        staff = request.user
        return {
            "user": staff.name,
            "role": staff.role.value,
            "display_name": staff.display_name,
            "permissions": sorted(p.value for p in PERMISSIONS[staff.role]),
        }


class StatusController(Controller):
    path = "/api/v1/status"
    tags = ("node",)

    @get("/", sync_to_thread=True)
    def status(self, request: Req) -> dict[str, Any]:
        store = request.app.state.store
        return {
            "node_id": store.node_id,
            "clinic": request.app.state.clinic,
            "name": request.app.state.name,
            **store.counts(),
        }


class CodeController(Controller):
    path = "/api/v1/codes"
    tags = ("codes",)

    @get("/", guards=[require(Permission.READ_CODES)], sync_to_thread=False)
    def lists(self) -> dict[str, Any]:
        return {
            "code_lists": [
                {"name": n, "title": schemas.code_list(n).title, "size": len(schemas.code_list(n))}
                for n in schemas.code_list_names()
            ]
        }

    @get("/{name:str}", guards=[require(Permission.READ_CODES)], sync_to_thread=False)
    def search(
        self,
        name: FromPath[str],
        q: FromQuery[str] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 20,
    ) -> dict[str, Any]:
        """Search a code list by code prefix or Chinese or English name: ``/api/v1/codes/icd10?q=高血压``."""
        if name not in schemas.code_list_names():
            raise RecordInvalid([FieldError("name", f"{name!r} is not a code list")])
        codes = schemas.code_list(name)
        return {
            "name": name,
            "title": codes.title,
            "codes": [c.as_json() for c in codes.search(q, limit=limit)],
        }


class AdminController(Controller):
    path = "/api/v1"
    tags = ("admin",)

    @get("/users", guards=[require(Permission.MANAGE_USERS)], sync_to_thread=True)
    def users(self, request: Req) -> dict[str, Any]:
        return {"users": list_users(request.app.state.db)}

    @post("/users", guards=[require(Permission.MANAGE_USERS)], sync_to_thread=True)
    def add(self, request: Req, data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        """Create a staff account: ``{"user", "role", "password", "display_name"?}``."""
        ctx = Ctx(request)
        try:
            staff = add_user(
                ctx.db,
                _str_field(data, "user"),
                _str_field(data, "role"),
                _str_field(data, "password"),
                display_name=data.get("display_name"),
            )
        except AuthError as exc:
            field, _, message = str(exc).partition(": ")
            raise RecordInvalid([FieldError(field, message)]) from None
        ctx.audit("users:add", detail={"user": staff.name, "role": staff.role.value}, reason="administration")
        return Response({"user": staff.name, "role": staff.role.value}, status_code=201)

    @patch("/users/{name:str}", guards=[require(Permission.MANAGE_USERS)], sync_to_thread=True)
    def change(self, request: Req, name: FromPath[str], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
        """Deactivate/reactivate (``{"active": false}``) or reset a password (``{"password": "..."}``)."""
        ctx = Ctx(request)
        try:
            if "active" in data:
                if not isinstance(data["active"], bool):
                    raise RecordInvalid([FieldError("active", "must be true or false")])
                set_active(ctx.db, name, data["active"])
            if "password" in data:
                set_password(ctx.db, name, _str_field(data, "password"))
        except AuthError as exc:
            field, _, message = str(exc).partition(": ")
            raise RecordInvalid([FieldError(field, message)]) from None
        ctx.audit("users:change", detail={"user": name, "fields": sorted(data)}, reason="administration")
        return {"user": name, "changed": sorted(data)}

    @get("/audit", guards=[require(Permission.READ_AUDIT)], sync_to_thread=True)
    def audit(
        self,
        request: Req,
        resident_id: FromQuery[str | None] = None,
        user: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 200,
    ) -> dict[str, Any]:
        return {
            "entries": audit_entries(request.app.state.db, resident_id=resident_id, user=user, limit=limit)
        }
