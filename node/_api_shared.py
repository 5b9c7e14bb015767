"""Shared records at the clinic: a visiting resident's summary from the hub, breaking the glass on
withheld records, and the residents other clinics referred here.

Rules:
1. The summary and break-glass need the hub online: they are fetched on
   demand, never stored. Offline (or not enrolled) the answer says so clearly
   (503 ``unreachable``, 409 ``not-enrolled``); the card's own data and the
   local record still work.
2. Both need a stated reason; each is written to this node's audit log (and
   the hub's access log) before the data is shown. Breaking the glass is for
   doctors only and the hub raises it to the operator.
3. Shared records are read-only here and show the clinic they came from;
   records released by breaking the glass are marked ``break_glass``.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from ._access import Permission
from ._api_support import MAX_REASON, Ctx
from ._auth import Staff
from ._remote import clinic_directory
from ._rows import RECORD_COLUMNS, NotFound, envelope_of
from ._sync import SyncClient
from ._sync_errors import HubRefused, HubUnreachable, SyncError
from ._tree import shared_file_tree, source_of
from ._web_auth import require

__all__ = ["SharedController", "hub_clinics"]

Req = Request[Staff, Any, Any]

_SUMMARY_LISTS = ("allergies", "conditions", "medications", "encounters", "labs")


def _problem(status: int, reason: str, detail: str, field: str | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status_code": status, "detail": detail, "reason": reason}
    if field is not None:
        body["errors"] = [{"field": field, "message": detail}]
    return Response(body, status_code=status)


def _text(data: dict[str, Any], name: str, limit: int) -> str | Response[dict[str, Any]]:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        return _problem(400, "malformed", f"{name} is required (1-{limit} characters)", name)
    return value.strip()


def hub_clinics(answer: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The hub's node directory in an answer: node id → ``{"clinic", "name"}``."""
    given = answer.get("clinics")
    if not isinstance(given, dict):
        return {}
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in given.items() if isinstance(v, dict)}


def _client(request: Req) -> SyncClient | Response[dict[str, Any]]:
    client: SyncClient | None = getattr(request.app.state, "sync", None)
    if client is None:
        return _problem(
            409,
            "not-enrolled",
            "this node is not enrolled with a hub, so it cannot fetch shared records; "
            "run `rhip node enroll --home DIR --hub URL --token T`, then restart the node",
        )
    return client


def _hub_failed(exc: SyncError, what: str) -> Response[dict[str, Any]]:
    if isinstance(exc, HubUnreachable):
        return _problem(
            503,
            "unreachable",
            f"the hub does not answer, and {what} needs it online ({exc}); "
            "the card and this clinic's own record still work: try again when the link is back",
        )
    if isinstance(exc, HubRefused) and exc.status_code in (400, 404, 409):
        field = "resident" if exc.status_code in (404, 409) else None
        return _problem(exc.status_code, exc.reason, str(exc), field)
    return _problem(502, exc.reason, f"the hub's answer could not be used: {exc}")


class SharedController(Controller):
    path = "/api/v1"
    tags = ("shared records",)

    @post("/shared/summary", guards=[require(Permission.READ_RECORDS)], sync_to_thread=True, status_code=200)
    def summary(self, request: Req, data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        """A visiting resident's shared summary from the hub, by the card or identity number read at the
        desk: ``{"resident": "<number>", "reason": "..."}``. Audited here and at the hub."""
        ctx = Ctx(request)
        number, reason = _text(data, "resident", 40), _text(data, "reason", MAX_REASON)
        if isinstance(number, Response):
            return number
        if isinstance(reason, Response):
            return reason
        client = _client(request)
        if isinstance(client, Response):
            return client
        try:
            answer = client.shared_summary(resident=number, reason=reason, user=ctx.staff.name)
        except SyncError as exc:
            ctx.audit("read:shared-summary", detail={"found": False, "why": exc.reason}, reason=reason)
            return _hub_failed(exc, "a shared summary")
        clinics = hub_clinics(answer)
        for name in _SUMMARY_LISTS:
            for item in answer.get(name) or []:
                if isinstance(item, dict) and isinstance(item.get("source"), str):
                    item["source"] = source_of(item["source"], clinics)
        answer["read_only"] = True
        ctx.audit(
            "read:shared-summary",
            detail={"master_id": answer.get("master_id"), "withheld": bool(answer.get("withheld"))},
            reason=reason,
        )
        return Response(answer)

    @post(
        "/residents/{resident_id:str}/break-glass",
        guards=[require(Permission.BREAK_GLASS)],
        sync_to_thread=True,
        status_code=200,
    )
    def break_glass(
        self, request: Req, resident_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[dict[str, Any]]:
        """Ask the hub, once, for the sensitive records withheld about this resident (no consent to
        share): ``{"reason": "..."}``. Audited here and at the hub, and shown to the hub's operator."""
        ctx = Ctx(request)
        reason = _text(data, "reason", MAX_REASON)
        if isinstance(reason, Response):
            return reason
        conn = ctx.store.db.reader()
        known = (
            conn.execute("SELECT 1 FROM residents WHERE id = ?", (resident_id,)).fetchone()
            or conn.execute("SELECT 1 FROM records WHERE resident_id = ? LIMIT 1", (resident_id,)).fetchone()
        )
        if known is None:
            raise NotFound(f"no resident {resident_id} on this node")
        client = _client(request)
        if isinstance(client, Response):
            return client
        try:
            answer = client.break_glass(resident_id=resident_id, reason=reason, user=ctx.staff.name)
        except SyncError as exc:
            ctx.audit("break-glass", resident_id=resident_id, detail={"released": False}, reason=reason)
            return _hub_failed(exc, "breaking the glass")
        clinics = hub_clinics(answer)
        records = [
            {**r, "break_glass": True, "read_only": True, "source": source_of(str(r.get("author")), clinics)}
            for r in answer["records"]
        ]
        ctx.audit(
            "break-glass",
            resident_id=resident_id,
            detail={"master_id": answer.get("master_id"), "records": [r.get("id") for r in records]},
            reason=reason,
        )
        return Response(
            {
                "resident_id": resident_id,
                "master_id": answer.get("master_id"),
                "records": records,
                "released_at": answer.get("released_at"),
            }
        )

    @get("/shared/residents", guards=[require(Permission.READ_DEMOGRAPHICS)], sync_to_thread=True)
    def referred(self, request: Req) -> dict[str, Any]:
        """Residents of other clinics whose shared record this node holds without registering them
        here (referred to this clinic), newest registration first, each with its source clinic."""
        ctx = Ctx(request)
        conn = ctx.store.db.reader()
        directory = clinic_directory(conn)
        rows = conn.execute(
            f"SELECT {RECORD_COLUMNS} FROM records r WHERE type = 'resident' AND author != ? "
            "AND is_current = 1 AND NOT EXISTS (SELECT 1 FROM residents WHERE id = r.resident_id) "
            "AND NOT EXISTS (SELECT 1 FROM links l JOIN residents x ON x.id = l.resident_id "
            "WHERE l.remote_resident_id = r.resident_id) ORDER BY hlc DESC",
            (ctx.store.node_id,),
        ).fetchall()
        seen: set[str] = set()
        out = []
        for row in rows:
            env = envelope_of(row)
            if env.resident_id in seen:
                continue
            seen.add(env.resident_id)
            referrals = [
                {
                    "record_id": r.id,
                    "referred_at": r.data.get("referred_at"),
                    "from_clinic": r.data.get("from_clinic"),
                    "to_clinic": r.data.get("to_clinic"),
                    "reason": r.data.get("reason"),
                    "urgency": r.data.get("urgency"),
                }
                for r in ctx.store.records_of(env.resident_id, types=["referral"])
            ]
            out.append(
                {
                    "resident_id": env.resident_id,
                    **{k: env.data.get(k) for k in ("name", "sex", "birth_date")},
                    "source": source_of(env.author, directory),
                    "referrals": referrals,
                }
            )
        ctx.audit("read:shared-residents", detail={"results": len(out)})
        return {"residents": out}

    @get(
        "/shared/residents/{resident_id:str}/file-tree",
        guards=[require(Permission.READ_DEMOGRAPHICS)],
        sync_to_thread=True,
    )
    def shared_tree(
        self, request: Req, resident_id: FromPath[str], include_entered_in_error: FromQuery[bool] = False
    ) -> dict[str, Any]:
        """The shared (read-only) health file tree of a resident registered at another clinic."""
        ctx = Ctx(request)
        reason = ctx.reason
        tree = shared_file_tree(
            ctx.store, resident_id, readable=ctx.readable(), include_entered_in_error=include_entered_in_error
        )
        ctx.audit("read:shared-file-tree", resident_id=resident_id, reason=reason)
        return tree
