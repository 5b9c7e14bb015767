"""The hub's HTTP API (Litestar): the sync endpoints of docs/sync.md and the operators' console.

Rules:
1. Every ``/sync/v1`` request but enrolment is signed by an enrolled node
   (``sync.verify_request``, stamps within 3 days of the hub's clock) and
   may only touch that node's own feeds. Operators' routes (``/api/v1``,
   ``_console``, the console's pages under ``/console``: ``_pages``) answer
   on loopback only.
2. Bodies are read with a bound (``sync.MAX_BODY_BYTES``): a larger one is
   refused with 413 before it is all in memory.
3. Every error is JSON ``{"status_code", "detail", "reason"}``; bad input is
   a 4xx, never a 500.
4. Binary bodies, both ways, are zlib-compressed msgpack (``application/x-rhip-frame``).
5. Store calls run in worker threads, record checks in worker processes
   (``check_workers``), at most ``2 * check_workers + 2`` pushes at a time;
   nothing personal is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath, QueryParameter

from sync import (
    MAX_BODY_BYTES,
    BadSignature,
    ChainBroken,
    Fork,
    Malformed,
    PeerError,
    compress,
    decompress,
    encode,
    public_bytes,
    seal_head,
    unpack_push,
    verify_request,
)

from ._api_support import (
    LOOPBACK,
    HubState,
    Refused,
    error_response,
    hub_state,
    json_object,
    require_operator,
    run_sync,
    text_field,
)
from ._checks import CheckPool
from ._console import CONSOLE_ROUTES
from ._enrol import EnrolRefused, enrol
from ._feeds import MAX_PULL_LIMIT, pull_body
from ._identity import IdentityRefused
from ._ingest import apply_batch, known_node, retry_held
from ._linker import link_all, link_queued
from ._pages import page_handlers
from ._shared import SharedRefused, break_glass, shared_summary
from ._store import HubStore, NodeInfo, NodeRefused

__all__ = ["FRAME_MEDIA_TYPE", "REQUEST_WINDOW_MS", "HubState", "Refused", "create_app"]

log = logging.getLogger("rhip.hub.api")

FRAME_MEDIA_TYPE = "application/x-rhip-frame"
TOUCH_EVERY_MS = 10_000
REQUEST_WINDOW_MS = 3 * 24 * 3600 * 1000  # clinic clocks drift by days; changesets guard themselves by seq
_state, _run, _error = hub_state, run_sync, error_response


def _frame_response(body: bytes, status: int = 200) -> Response[bytes]:
    return Response(body, status_code=status, media_type=FRAME_MEDIA_TYPE)


# -- requests ---------------------------------------------------------------------


async def _body(request: Request[Any, Any, Any]) -> bytes:
    """The request body, refusing (413) one over MAX_BODY_BYTES without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        if not declared.isdigit():
            raise Refused(400, "malformed", f"Content-Length {declared!r} is not a number")
        raise Refused(413, "too-large", f"body of {declared} bytes is over the limit of {MAX_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, "too-large", f"body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _signed_path(request: Request[Any, Any, Any]) -> str:
    # Some ASGI transports (httpx's) put the query into raw_path; the query string is the truth.
    path = (request.scope.get("raw_path") or request.scope["path"].encode()).split(b"?", 1)[0]
    query = request.scope.get("query_string") or b""
    text = path.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


async def _signed(request: Request[Any, Any, Any], node_id: str, body: bytes) -> NodeInfo:
    """The enrolled node that signed this request, if it may act on ``node_id``'s feeds."""
    hub = _state(request)
    signer = request.headers.get("x-rhip-node")
    stamp = request.headers.get("x-rhip-time")
    signature = request.headers.get("x-rhip-signature")
    if not signer or not stamp or not signature:
        raise Refused(400, "malformed", "sign the request: X-Rhip-Node, X-Rhip-Time and X-Rhip-Signature")
    try:
        wall_ms, sig = int(stamp), bytes.fromhex(signature)
    except ValueError:
        raise Refused(400, "malformed", "X-Rhip-Time must be an integer and X-Rhip-Signature hex") from None
    node = await _run(lambda: known_node(hub.store.reads(), signer))  # reads on the worker's connection
    try:
        verify_request(
            node.public_key,
            sig,
            method=request.method,
            path=_signed_path(request),
            node_id=signer,
            wall_ms=wall_ms,
            body=body,
            now_ms=hub.store.now_ms(),
            window_ms=REQUEST_WINDOW_MS,
        )
    except BadSignature:
        raise Refused(403, "bad-signature", f"request is not signed by the key of node {signer}") from None
    except Malformed as exc:
        raise Refused(400, "malformed", f"{exc}; the node's clock is wrong, set it and retry") from None
    if signer != node_id:
        raise Refused(403, "bad-signature", f"node {signer} may only use its own feeds, not {node_id}'s")
    now = hub.store.now_ms()
    # Operators watch when each clinic was last heard from; a write (and fsync) per request
    # would halve ingest, so the time is written at most every TOUCH_EVERY_MS per node.
    if now - hub.touched.get(signer, 0) >= TOUCH_EVERY_MS:
        hub.touched[signer] = now
        await _run(_touch, hub.store, signer, now)
    return node


def _touch(store: HubStore, node_id: str, now_ms: int) -> None:
    with store.transaction() as tx:
        tx.touch_node(node_id, now_ms)


# -- handlers -----------------------------------------------------------------------


@post("/sync/v1/enroll", status_code=201)
async def enroll(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Register a node's key with a one-time token from the hub operator."""
    hub = _state(request)
    try:
        data = json.loads(await _body(request))
    except ValueError:
        raise Refused(400, "malformed", "body must be JSON") from None
    fields = ("token", "node_id", "clinic", "name", "public_key")
    if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in fields):
        raise Refused(400, "malformed", f"body must be a JSON object with text fields {', '.join(fields)}")
    try:
        public_key = bytes.fromhex(data["public_key"])
    except ValueError:
        raise Refused(400, "malformed", "public_key must be hex") from None
    node = await _run(
        enrol,
        hub.store,
        token=data["token"],
        node_id=data["node_id"],
        clinic=data["clinic"],
        name=data["name"],
        public_key=public_key,
    )
    log.info("node %s of clinic %s enrolled", node.node_id, node.clinic)
    return Response(
        {
            "hub_id": hub.hub_id,
            "region": hub.region,
            "hub_public_key": public_bytes(hub.key).hex(),
            "head": {"seq": node.head.seq, "hash": node.head.hash.hex()},
        },
        status_code=201,
    )


@get("/sync/v1/feeds/{node_id:str}/head")
async def feed_head(request: Request[Any, Any, Any], node_id: FromPath[str]) -> Response[bytes]:
    """The hub's signed head of the node's feed: where its next push starts."""
    hub = _state(request)
    waiting = _waiting(request.query_params.get("waiting"))
    node = await _signed(request, node_id, await _body(request))
    if waiting is not None:  # what the node has not sent yet: operators watch it (status "pending")
        await _run(_report_waiting, hub.store, node.node_id, waiting, hub.store.now_ms())
    return _frame_response(compress(seal_head(node.head, hub.store.now_ms(), hub.key).frame))


def _waiting(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or len(text) > 12:
        raise Refused(400, "malformed", "waiting must be a whole number of records", field="waiting")
    return int(text)


def _report_waiting(store: HubStore, node_id: str, waiting: int, now_ms: int) -> None:
    with store.transaction() as tx:
        tx.report_waiting(node_id, waiting, now_ms)


@post("/sync/v1/feeds/{node_id:str}/changesets", status_code=200)
async def push(request: Request[Any, Any, Any], node_id: FromPath[str]) -> Response[bytes]:
    """Take one changeset of the node's feed, or a batch of consecutive ones (docs/sync.md)."""
    hub = _state(request)
    body = await _body(request)
    node = await _signed(request, node_id, body)
    frames, batch = unpack_push(decompress(body))
    async with hub.ingest_slots:  # bounds the pushes held in memory at once
        opened = await hub.checks.open_and_check(
            frames, public_key=node.public_key, node_id=node_id, now_ms=hub.store.now_ms()
        )
        receipt = await _run(apply_batch, hub.store, opened, key=hub.key)
    pull_head = receipt.pull_head
    if hub.link_after_push:
        if await _run(link_all, hub.store, hub.key):
            pull_head = await _run(lambda: hub.store.reads().hub_feed_head(node_id).seq)
    else:
        hub.linker_state["last_push"] = time.monotonic()
        hub.linker_wake.set()
    answer: dict[str, Any] = {
        "verdict": str(receipt.receipts[-1].verdict),
        "head": seal_head(receipt.head, hub.store.now_ms(), hub.key).frame,
        "held": [{"record_id": h.record_id, "reason": h.reason} for r in receipt.receipts for h in r.held],
        "pull_head": pull_head,
    }
    if batch:
        answer["verdicts"] = [str(r.verdict) for r in receipt.receipts]
        if receipt.stopped is not None:
            answer["stopped"] = {"reason": receipt.stopped.reason, "detail": str(receipt.stopped)}
    return _frame_response(compress(encode(answer)))


@get("/sync/v1/pull/{node_id:str}")
async def pull(
    request: Request[Any, Any, Any],
    node_id: FromPath[str],
    after: Annotated[int, QueryParameter(ge=0)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PULL_LIMIT)] = 100,
) -> Response[bytes]:
    """The hub feed's frames for the node after its cursor."""
    hub = _state(request)
    await _signed(request, node_id, await _body(request))
    preset = request.headers.get("x-rhip-zdict") == "1"  # the node reads the preset dictionary
    body = await _run(lambda: pull_body(hub.store.reads(), node_id, after=after, limit=limit, preset=preset))
    return _frame_response(body)


@get("/sync/v1/held/{node_id:str}")
async def held(request: Request[Any, Any, Any], node_id: FromPath[str]) -> list[dict[str, Any]]:
    """The node's records the hub holds, with reasons."""
    hub = _state(request)
    await _signed(request, node_id, await _body(request))
    records = await _run(hub.store.held, node_id)
    return [h.as_json() for h in records]


@get("/sync/v1/summary/{node_id:str}")
async def summary(request: Request[Any, Any, Any], node_id: FromPath[str]) -> dict[str, Any]:
    """A visiting resident's shared summary: ``?resident=<card or identity number>&reason=…&user=…``;
    logged with who and why. A refusal names the field, never echoes the number."""
    hub = _state(request)
    node = await _signed(request, node_id, await _body(request))
    query = request.query_params
    return await _run(
        shared_summary,
        hub.store,
        node,
        resident=query.get("resident") or "",
        reason=query.get("reason") or "",
        user=query.get("user") or "",
    )


@post("/sync/v1/break-glass/{node_id:str}", status_code=200)
async def break_glass_route(request: Request[Any, Any, Any], node_id: FromPath[str]) -> dict[str, Any]:
    """The sensitive records withheld from this node about a resident, once; logged and alerted."""
    hub = _state(request)
    body = await _body(request)
    node = await _signed(request, node_id, body)
    data = json_object(body)
    return await _run(
        break_glass,
        hub.store,
        node,
        resident_id=text_field(data, "resident_id"),
        reason=text_field(data, "reason"),
        user=text_field(data, "user"),
    )


@get("/api/v1/status")
async def status(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What operators watch (same as ``rhip hub status --json``); answered on loopback only."""
    hub = require_operator(request)
    return await _run(hub.store.status)


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# -- errors ---------------------------------------------------------------------------


def _refused(_: Request[Any, Any, Any], exc: Refused) -> Response[dict[str, Any]]:
    return _error(exc.status_code, exc.reason, str(exc), **exc.extra)


def _node_refused(_: Request[Any, Any, Any], exc: NodeRefused) -> Response[dict[str, Any]]:
    return _error(403, exc.reason, str(exc))


_IDENTITY_STATUS = {"not-found": 404, "malformed": 400, "conflict": 409}


def _identity_refused(_: Request[Any, Any, Any], exc: IdentityRefused) -> Response[dict[str, Any]]:
    status = _IDENTITY_STATUS.get(exc.reason, 409)
    return _error(status, exc.reason, str(exc), **({"field": exc.field} if exc.field else {}))


def _shared_refused(_: Request[Any, Any, Any], exc: SharedRefused) -> Response[dict[str, Any]]:
    return _error(exc.status_code, exc.reason, str(exc), **({"field": exc.field} if exc.field else {}))


def _enrol_refused(_: Request[Any, Any, Any], exc: EnrolRefused) -> Response[dict[str, Any]]:
    return _error(exc.status_code, exc.reason, str(exc))


def _peer(_: Request[Any, Any, Any], exc: PeerError) -> Response[dict[str, Any]]:
    if isinstance(exc, ChainBroken):
        return _error(409, exc.reason, str(exc), expected_seq=exc.expected_seq)
    if isinstance(exc, Fork):
        return _error(409, exc.reason, f"{exc}; the changeset is quarantined and the operator alerted")
    return _error(400, exc.reason, str(exc))


_HTTP_REASONS = {400: "malformed", 404: "not-found", 405: "method-not-allowed", 413: "too-large"}


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    detail = exc.detail
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        items = [item for item in exc.extra if isinstance(item, dict)]
        detail = "; ".join(f"{i.get('key', 'request')}: {i.get('message', 'is invalid')}" for i in items)
        if items and items[0].get("key"):
            extra["field"] = items[0]["key"]
    return _error(exc.status_code, _HTTP_REASONS.get(exc.status_code, "http-error"), detail, **extra)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Never log bodies or parameters: they carry personal data.
    log.error(
        "internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return _error(500, "internal", "internal error; the hub operator can see the log")


LINKER_YIELD_S = 0.25  # between linker batches while clinics are uploading
LINKER_MAX_QUEUE = 20_000  # … unless this many registrations wait: then at full speed
_UPLOADING_S = 1.0  # a push within this long means clinics are uploading


def _linker_pause(hub: HubState, store: HubStore, batches: int) -> float:
    """How long the linker rests before its next batch: uploads first, linking at a bounded lag.

    While clinics are uploading, a batch every ``LINKER_YIELD_S`` (a few percent
    of the CPU) keeps the write lock and the cores for their changesets; once
    the uploads pause, or the queue grows past ``LINKER_MAX_QUEUE``, the
    linker runs flat out. The queue is checked every 20 batches.
    """
    state = hub.linker_state
    if time.monotonic() - state["last_push"] > _UPLOADING_S:
        return 0.0
    if batches % 20 == 1:
        state["hurry"] = float(store.reads().registrations_queued() > LINKER_MAX_QUEUE)
    return 0.0 if state["hurry"] else LINKER_YIELD_S


def create_app(
    store: HubStore,
    *,
    key: Ed25519PrivateKey,
    hub_id: str,
    region: str,
    operator_hosts: frozenset[str] = LOOPBACK,
    retry_on_startup: bool = True,
    check_workers: int = 0,
    link: Literal["after-push", "background"] = "after-push",
    debug: bool = False,
) -> Litestar:
    """The hub's app over ``store``, signing with ``key``; held records are retried at start-up.

    ``check_workers`` processes check pushed records outside the server
    process (``hub._checks``); 0 checks them in a worker thread. ``link``:
    when queued registrations are matched (``hub._linker``): before each push
    is answered, or by a background task (the server's way).
    """
    checks = CheckPool(check_workers)
    slots = asyncio.Semaphore(2 * check_workers + 2)
    hub = HubState(
        store, key, hub_id, region, operator_hosts, checks, slots, link_after_push=link == "after-push"
    )
    tasks: list[asyncio.Task[None]] = []

    async def linker() -> None:
        while True:
            # Woken by each push; every few seconds anyway, for what other processes queued
            # (`rhip hub retry-held`).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.linker_wake.wait(), timeout=5)
            hub.linker_wake.clear()
            try:
                batches = 0
                while await _run(link_queued, store, key):
                    batches += 1
                    await asyncio.sleep(_linker_pause(hub, store, batches))
            except Exception as exc:  # never die: the queue is durable, try again shortly
                log.error("master index linker failed: %s", type(exc).__name__, exc_info=exc)
                await asyncio.sleep(5)
                hub.linker_wake.set()

    async def startup() -> None:
        checks.start()
        if retry_on_startup:
            await _run(retry_held, store, key)
        if hub.link_after_push:
            await _run(link_all, store, key)
        else:
            tasks.append(asyncio.create_task(linker()))
            hub.linker_wake.set()  # what was queued before a restart

    async def shutdown() -> None:
        for task in tasks:
            task.cancel()
        await _run(checks.close)

    return Litestar(
        route_handlers=[
            enroll,
            feed_head,
            push,
            pull,
            held,
            summary,
            break_glass_route,
            status,
            *CONSOLE_ROUTES,
            *page_handlers(),
            healthz,
        ],
        exception_handlers={
            Refused: _refused,
            NodeRefused: _node_refused,
            IdentityRefused: _identity_refused,
            SharedRefused: _shared_refused,
            EnrolRefused: _enrol_refused,
            PeerError: _peer,
            HTTPException: _http,
            Exception: _internal,
        },
        on_startup=[startup],
        on_shutdown=[shutdown],
        request_max_body_size=MAX_BODY_BYTES,
        state=State({"hub": hub}),
        openapi_config=None,
        debug=debug,
    )
