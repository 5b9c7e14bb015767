"""Residents: desk search, registration, demographics, history, the health file tree, visits."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

import schemas
from schemas import FieldError, RecordInvalid

from ._access import Permission, writable_types
from ._api_support import Ctx
from ._auth import Staff
from ._tree import file_tree
from ._web_auth import require

__all__ = ["ResidentController"]

Req = Request[Staff, Any, Any]


def _envelope_json(env: Any) -> dict[str, Any]:
    out: dict[str, Any] = env.as_dict()
    return out


class ResidentController(Controller):
    path = "/api/v1/residents"
    tags = ("residents",)

    @get("/", guards=[require(Permission.SEARCH)], sync_to_thread=True)
    def search(
        self,
        request: Req,
        q: Annotated[
            str,
            QueryParameter(
                description="name (汉字), pinyin, pinyin initials, ID number, card number or phone"
            ),
        ],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        """Desk search. Audited as one search (the query itself is kept only in the audit log)."""
        ctx = Ctx(request)
        results = ctx.store.search(q, limit=limit)
        ctx.audit("search", detail={"query": q, "results": len(results)})
        return {"query": q, "results": results}

    @post("/", guards=[require(Permission.REGISTER)], sync_to_thread=True)
    def register(self, request: Req, data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        """Register a resident. Likely duplicates already on this node are returned and flagged."""
        ctx = Ctx(request)
        reg = ctx.store.register_resident(data, user=ctx.staff.name)
        ctx.audit("register", resident_id=reg.envelope.id, reason="registration")
        body = {
            "resident": ctx.store.resident(reg.envelope.id),
            "duplicates": [d.as_json() for d in reg.duplicates],
        }
        return Response(body, status_code=201)

    @get("/{resident_id:str}", guards=[require(Permission.READ_DEMOGRAPHICS)], sync_to_thread=True)
    def read(self, request: Req, resident_id: FromPath[str]) -> dict[str, Any]:
        ctx = Ctx(request)
        resident = ctx.store.resident(resident_id)
        ctx.audit("read:demographics", resident_id=resident_id)
        return resident

    @patch("/{resident_id:str}", guards=[require(Permission.UPDATE_DEMOGRAPHICS)], sync_to_thread=True)
    def update(
        self, request: Req, resident_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        """Change demographic fields; ``null`` clears a field. History keeps every earlier value."""
        ctx = Ctx(request)
        env = ctx.store.update_resident(resident_id, data, user=ctx.staff.name)
        changed = list(env.changed or ()) if env else []
        ctx.audit("update:demographics", resident_id=resident_id, detail={"fields": changed})
        return {
            "changed": changed,
            "resident": ctx.store.resident(resident_id),
        }

    @get("/{resident_id:str}/history", guards=[require(Permission.READ_DEMOGRAPHICS)], sync_to_thread=True)
    def history(self, request: Req, resident_id: FromPath[str]) -> dict[str, Any]:
        ctx = Ctx(request)
        ctx.store.resident(resident_id)
        ctx.audit("read:history", resident_id=resident_id)
        return {"resident_id": resident_id, "fields": ctx.store.field_history(resident_id)}

    @get("/{resident_id:str}/duplicates", guards=[require(Permission.READ_DEMOGRAPHICS)], sync_to_thread=True)
    def duplicates(self, request: Req, resident_id: FromPath[str]) -> dict[str, Any]:
        ctx = Ctx(request)
        ctx.store.resident(resident_id)
        ctx.audit("read:duplicates", resident_id=resident_id)
        return {"resident_id": resident_id, "duplicates": ctx.store.duplicate_flags(resident_id)}

    @get("/{resident_id:str}/file-tree", guards=[require(Permission.READ_DEMOGRAPHICS)], sync_to_thread=True)
    def tree(
        self, request: Req, resident_id: FromPath[str], include_entered_in_error: FromQuery[bool] = False
    ) -> dict[str, Any]:
        """The lifelong health file tree, limited to the record types the caller's role may read."""
        ctx = Ctx(request)
        reason = ctx.reason
        tree = file_tree(
            ctx.store, resident_id, readable=ctx.readable(), include_entered_in_error=include_entered_in_error
        )
        ctx.audit("read:file-tree", resident_id=resident_id, reason=reason)
        for mother_id in tree["mother_records_read"]:
            ctx.audit(
                "read:prenatal-via-child", resident_id=mother_id, detail={"child": resident_id}, reason=reason
            )
        return tree

    @get("/{resident_id:str}/records", guards=[require(Permission.READ_RECORDS)], sync_to_thread=True)
    def records(
        self, request: Req, resident_id: FromPath[str], type: FromQuery[str | None] = None
    ) -> dict[str, Any]:
        ctx = Ctx(request)
        readable = ctx.readable()
        if type is not None and type not in readable:
            ctx.deny(
                "read:records",
                f"role {ctx.staff.role.value} may not read {type} records",
                resident_id=resident_id,
            )
        ctx.store.resident(resident_id)
        types = [type] if type else sorted(readable)
        envs = ctx.store.records_of(resident_id, types=types)
        ctx.audit("read:records", resident_id=resident_id, detail={"type": type} if type else None)
        return {"resident_id": resident_id, "records": [_envelope_json(e) for e in envs]}

    @post("/{resident_id:str}/records", guards=[require(Permission.WRITE_RECORDS)], sync_to_thread=True)
    def add_record(
        self, request: Req, resident_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Record a clinical fact: ``{"type": "...", "data": {...}}``."""
        ctx = Ctx(request)
        type_ = data.get("type")
        body = data.get("data")
        errors = []
        if not isinstance(type_, str) or not type_:
            errors.append(FieldError("type", "is required (a record type name)"))
        if not isinstance(body, dict):
            errors.append(FieldError("data", "is required (the record's fields as an object)"))
        if errors:
            raise RecordInvalid(errors)
        assert isinstance(type_, str) and isinstance(body, dict)
        schemas.record_type(type_)  # an unknown type is the caller's typo (422), not a permission (403)
        if type_ not in writable_types(ctx.staff.role):
            ctx.deny("write", f"role {ctx.staff.role.value} may not record {type_}", resident_id=resident_id)
        env = ctx.store.add_record(resident_id, type_, body, user=ctx.staff.name)
        ctx.audit("write", resident_id=resident_id, record_id=env.id, detail={"type": type_}, reason="care")
        return Response(_envelope_json(env), status_code=201)

    @post("/{resident_id:str}/visits", guards=[require(Permission.WRITE_RECORDS)], sync_to_thread=True)
    def visit(
        self, request: Req, resident_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """A whole outpatient visit in one transaction: ``{"encounter": {...}, "prescriptions": [...]}``."""
        ctx = Ctx(request)
        encounter = data.get("encounter")
        prescriptions = data.get("prescriptions", [])
        if not isinstance(encounter, dict):
            raise RecordInvalid(
                [FieldError("encounter", "is required (the encounter's fields as an object)")]
            )
        if not isinstance(prescriptions, list) or not all(isinstance(p, dict) for p in prescriptions):
            raise RecordInvalid([FieldError("prescriptions", "must be a list of prescription objects")])
        allowed_types = writable_types(ctx.staff.role)
        for t in ("encounter", *(["prescription"] if prescriptions else [])):
            if t not in allowed_types:
                ctx.deny("write", f"role {ctx.staff.role.value} may not record {t}", resident_id=resident_id)
        with ctx.store.transaction() as w:
            try:
                enc = w.add_record(resident_id, "encounter", encounter, user=ctx.staff.name)
            except RecordInvalid as exc:
                raise RecordInvalid(
                    [FieldError(f"encounter.{e.field}".rstrip("."), e.message) for e in exc.errors],
                    record_type="encounter",
                ) from None
            rx = []
            for i, p in enumerate(prescriptions):
                try:
                    rx.append(
                        w.add_record(
                            resident_id, "prescription", {**p, "encounter_id": enc.id}, user=ctx.staff.name
                        )
                    )
                except RecordInvalid as exc:
                    raise RecordInvalid(
                        [
                            FieldError(f"prescriptions.{i}.{e.field}".rstrip("."), e.message)
                            for e in exc.errors
                        ],
                        record_type="prescription",
                    ) from None
        ctx.audit("write", resident_id=resident_id, record_id=enc.id, detail={"type": "visit"}, reason="care")
        return Response(
            {"encounter": _envelope_json(enc), "prescriptions": [_envelope_json(r) for r in rx]},
            status_code=201,
        )
