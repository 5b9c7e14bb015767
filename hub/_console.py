"""The operators' console API on the hub (loopback only): the master index's review queue and actions,
master persons, privacy rules and the access log. The same actions as ``rhip hub mpi``.

Every answer is JSON; a refusal is ``{"status_code", "detail", "reason", "field"}`` naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, QueryParameter

from ._api_support import Refused, json_object, optional_text, require_operator, run_sync, text_field
from ._operator import (
    decide_review,
    link_resident,
    merge_masters,
    privacy_rules,
    review_queue,
    set_sensitive,
    show_master,
    unlink_resident,
    unmerge,
)

__all__ = ["CONSOLE_ROUTES"]

_STATUSES = ("open", "decided", "superseded", "all")


@get("/api/v1/mpi/review")
async def review(
    request: Request[Any, Any, Any],
    status: Annotated[str, QueryParameter(description="open, decided, superseded or all")] = "open",
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """The review queue: each item's registration and candidates with their evidence side by side."""
    hub = require_operator(request)
    if status not in _STATUSES:
        raise Refused(400, "malformed", f"status must be one of {', '.join(_STATUSES)}", field="status")
    items = await run_sync(review_queue, hub.store, status=None if status == "all" else status, limit=limit)
    return {"items": items}


@post("/api/v1/mpi/review/{review_id:int}/decide", status_code=200)
async def decide(request: Request[Any, Any, Any], review_id: FromPath[int]) -> dict[str, Any]:
    """``{"decision": "same"|"different", "by", "reason", "master_id"?}``."""
    hub = require_operator(request)
    data = json_object(await request.body())
    decision = data.get("decision")
    if decision not in ("same", "different"):
        raise Refused(400, "malformed", "decision must be same or different", field="decision")
    item = await run_sync(
        decide_review,
        hub.store,
        hub.key,
        review_id=review_id,
        same=decision == "same",
        by=text_field(data, "by"),
        reason=text_field(data, "reason"),
        master_id=optional_text(data, "master_id"),
    )
    return {"item": item}


@post("/api/v1/mpi/link", status_code=200)
async def link(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"resident_id", "master_id", "by", "reason"}``: link a registration to a master person."""
    hub = require_operator(request)
    data = json_object(await request.body())
    entry = await run_sync(
        link_resident,
        hub.store,
        hub.key,
        resident_id=text_field(data, "resident_id"),
        master_id=text_field(data, "master_id"),
        by=text_field(data, "by"),
        reason=text_field(data, "reason"),
    )
    return {"audit": entry}


@post("/api/v1/mpi/unlink", status_code=200)
async def unlink(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"resident_id", "by", "reason"}``: the registration becomes a master person of its own."""
    hub = require_operator(request)
    data = json_object(await request.body())
    entry = await run_sync(
        unlink_resident,
        hub.store,
        hub.key,
        resident_id=text_field(data, "resident_id"),
        by=text_field(data, "by"),
        reason=text_field(data, "reason"),
    )
    return {"audit": entry}


@post("/api/v1/mpi/merge", status_code=200)
async def merge(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"master_id", "other_master_id", "by", "reason"}``: ``other_master_id`` goes into ``master_id``."""
    hub = require_operator(request)
    data = json_object(await request.body())
    entry = await run_sync(
        merge_masters,
        hub.store,
        hub.key,
        master_id=text_field(data, "master_id"),
        other_master_id=text_field(data, "other_master_id"),
        by=text_field(data, "by"),
        reason=text_field(data, "reason"),
    )
    return {"audit": entry}


@post("/api/v1/mpi/unmerge", status_code=200)
async def unmerge_route(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"audit_id"} or {"master_id"}`` (the merged-away one), with ``by`` and ``reason``."""
    hub = require_operator(request)
    data = json_object(await request.body())
    audit_id = data.get("audit_id")
    if audit_id is not None and (not isinstance(audit_id, int) or isinstance(audit_id, bool)):
        raise Refused(400, "malformed", "audit_id must be a whole number", field="audit_id")
    entry = await run_sync(
        unmerge,
        hub.store,
        hub.key,
        audit_id=audit_id,
        master_id=optional_text(data, "master_id"),
        by=text_field(data, "by"),
        reason=text_field(data, "reason"),
    )
    return {"audit": entry}


@get("/api/v1/mpi/masters/{master_id:str}")
async def master(request: Request[Any, Any, Any], master_id: FromPath[str]) -> dict[str, Any]:
    """A master person: registrations, referrals, review items and the audit history."""
    hub = require_operator(request)
    return await run_sync(show_master, hub.store, master_id)


@get("/api/v1/privacy")
async def privacy(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The sensitive categories in force (built in and added)."""
    hub = require_operator(request)
    return await run_sync(privacy_rules, hub.store)


@post("/api/v1/privacy", status_code=200)
async def privacy_change(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"add": [...], "remove": [...], "by"}``: record types or ICD-10 prefixes/ranges."""
    hub = require_operator(request)
    data = json_object(await request.body())
    lists: dict[str, list[str]] = {}
    for name in ("add", "remove"):
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Refused(400, "malformed", f"{name} must be a list of text", field=name)
        lists[name] = value
    return await run_sync(
        set_sensitive, hub.store, add=lists["add"], remove=lists["remove"], by=text_field(data, "by")
    )


@get("/api/v1/access-log")
async def access_log(
    request: Request[Any, Any, Any], limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    """Shared records read on demand (summaries, break-glass): who, which node, why; newest first."""
    hub = require_operator(request)
    entries = await run_sync(lambda: hub.store.reads().access_log(limit=limit))
    return {"entries": [e.as_json() for e in entries]}


CONSOLE_ROUTES = [
    review,
    decide,
    link,
    unlink,
    merge,
    unmerge_route,
    master,
    privacy,
    privacy_change,
    access_log,
]
