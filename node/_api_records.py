"""Clinical records: read one, its versions, correct it, mark it entered-in-error."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

import schemas
from schemas import FieldError, RecordInvalid

from ._access import Permission, writable_types
from ._api_support import Ctx
from ._auth import Staff
from ._web_auth import require

__all__ = ["RecordController"]

Req = Request[Staff, Any, Any]


def _reason(data: JSONBody[dict[str, Any]]) -> str:
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise RecordInvalid([FieldError("reason", "is required: say why")])
    if len(reason) > 500:
        raise RecordInvalid([FieldError("reason", "must be at most 500 characters")])
    return reason


class RecordController(Controller):
    path = "/api/v1"
    tags = ("records",)

    @get("/record-types", guards=[require(Permission.READ_CODES)], sync_to_thread=True)
    def record_types(self, request: Req) -> dict[str, Any]:
        """Every record type, its file-tree place, and whether the caller may read or write it."""
        ctx = Ctx(request)
        readable, writable = ctx.readable(), writable_types(ctx.staff.role)
        return {
            "record_types": [
                {
                    "name": rt.name,
                    "version": rt.version,
                    "category": rt.category.value,
                    "subcategory": rt.subcategory,
                    "kind": rt.kind.value,
                    "title_zh": rt.title_zh,
                    "title_en": rt.title_en,
                    "date_field": rt.date_field,
                    "can_read": rt.name in readable,
                    "can_write": rt.name in writable,
                    "json_schema": rt.model.model_json_schema(),
                }
                for rt in schemas.record_types()
            ]
        }

    @get("/records/{record_id:str}", guards=[require(Permission.READ_RECORDS)], sync_to_thread=True)
    def read(self, request: Req, record_id: FromPath[str]) -> dict[str, Any]:
        ctx = Ctx(request)
        env = ctx.store.record(record_id)
        if env.type not in ctx.readable():
            ctx.deny(
                "read:record",
                f"role {ctx.staff.role.value} may not read {env.type} records",
                resident_id=env.resident_id,
                record_id=record_id,
            )
        ctx.audit("read:record", resident_id=env.resident_id, record_id=record_id)
        out: dict[str, Any] = env.as_dict()
        return out

    @get("/records/{record_id:str}/versions", guards=[require(Permission.READ_RECORDS)], sync_to_thread=True)
    def versions(self, request: Req, record_id: FromPath[str]) -> dict[str, Any]:
        ctx = Ctx(request)
        env = ctx.store.record(record_id)
        if env.type not in ctx.readable():
            ctx.deny(
                "read:versions",
                f"role {ctx.staff.role.value} may not read {env.type} records",
                resident_id=env.resident_id,
                record_id=record_id,
            )
        ctx.audit("read:versions", resident_id=env.resident_id, record_id=record_id)
        return {"fact_id": env.fact_id, "versions": [v.as_dict() for v in ctx.store.versions(env.fact_id)]}

    def _check_write(self, ctx: Ctx, record_id: FromPath[str], action: str) -> None:
        env = ctx.store.record(record_id)
        if env.type not in writable_types(ctx.staff.role):
            ctx.deny(
                action,
                f"role {ctx.staff.role.value} may not change {env.type} records",
                resident_id=env.resident_id,
                record_id=record_id,
            )

    @post(
        "/records/{record_id:str}/corrections",
        guards=[require(Permission.CORRECT_RECORDS)],
        sync_to_thread=True,
    )
    def correct(
        self, request: Req, record_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """A corrected version: ``{"data": {...full corrected record...}, "reason": "..."}``."""
        ctx = Ctx(request)
        self._check_write(ctx, record_id, "correct")
        body = data.get("data")
        if not isinstance(body, dict):
            raise RecordInvalid([FieldError("data", "is required (the corrected record as an object)")])
        env = ctx.store.correct(record_id, body, user=ctx.staff.name, reason=_reason(data))
        ctx.audit(
            "correct",
            resident_id=env.resident_id,
            record_id=env.id,
            detail={"supersedes": record_id},
            reason="care",
        )
        return Response(env.as_dict(), status_code=201)

    @post(
        "/records/{record_id:str}/entered-in-error",
        guards=[require(Permission.CORRECT_RECORDS)],
        sync_to_thread=True,
    )
    def entered_in_error(
        self, request: Req, record_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Mark a record entered-in-error: ``{"reason": "..."}``. The record stays in its history."""
        ctx = Ctx(request)
        self._check_write(ctx, record_id, "entered-in-error")
        env = ctx.store.mark_entered_in_error(record_id, user=ctx.staff.name, reason=_reason(data))
        ctx.audit(
            "entered-in-error",
            resident_id=env.resident_id,
            record_id=env.id,
            detail={"supersedes": record_id},
            reason="care",
        )
        return Response(env.as_dict(), status_code=201)
