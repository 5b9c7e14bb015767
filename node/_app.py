"""The clinic node's HTTP API (Litestar).

Every route lives under ``/api/v1``; OpenAPI is served at ``/schema/openapi.json``.
Bad input answers 4xx with ``errors: [{field, message}]`` and stores nothing.
Every read of a resident's record is written to the audit log before it is sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from cardreader import CardError
from schemas import RecordInvalid, SchemaError, UnknownRecordType, VersionTooNew

from ._api_card import CardController, card_error
from ._api_desk import DeskController
from ._api_records import RecordController
from ._api_referrals import ReferralController
from ._api_residents import ResidentController
from ._api_shared import SharedController
from ._api_staff import AdminController, CodeController, SessionController, StatusController
from ._api_sync import SyncController
from ._auth import AuthError
from ._card_desk import DeskReader
from ._db import Database
from ._desk_read import DeskConflict
from ._desk_services import Desk
from ._pages import PAGE_PATHS, page_handlers
from ._store import NodeStore, NotFound, ReadOnlyRecord
from ._sync import SyncClient
from ._web_auth import TokenAuthMiddleware

__all__ = ["create_app"]

log = logging.getLogger("rhip.node.api")


def _error(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"status_code": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return Response(body, status_code=status)


def _record_invalid(_: Request[Any, Any, Any], exc: RecordInvalid) -> Response[dict[str, Any]]:
    return _error(422, str(exc), exc.as_json())


def _schema_error(_: Request[Any, Any, Any], exc: SchemaError) -> Response[dict[str, Any]]:
    if isinstance(exc, UnknownRecordType):
        return _error(422, exc.message, [{"field": "type", "message": exc.message.split(": ", 1)[1]}])
    if isinstance(exc, VersionTooNew):
        return _error(422, str(exc), [{"field": "v", "message": str(exc)}])
    return _error(422, str(exc))


def _not_found(_: Request[Any, Any, Any], exc: NotFound) -> Response[dict[str, Any]]:
    return _error(404, str(exc))


def _read_only(_: Request[Any, Any, Any], exc: ReadOnlyRecord) -> Response[dict[str, Any]]:
    return _error(409, str(exc))


def _desk_conflict(_: Request[Any, Any, Any], exc: DeskConflict) -> Response[dict[str, Any]]:
    return _error(409, str(exc), [{"field": exc.field, "message": exc.message}])


def _auth_error(_: Request[Any, Any, Any], exc: AuthError) -> Response[dict[str, Any]]:
    return _error(401, str(exc))


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                field = str(item.get("key") or item.get("source") or "body")
                errors.append({"field": field, "message": str(item.get("message", "is invalid"))})
    if not errors:
        errors.append({"field": "body", "message": str(exc.detail)})
    return _error(400, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == 400:  # a body that is not JSON, or not the JSON expected
        return _error(400, exc.detail, [{"field": "body", "message": exc.detail}])
    return _error(exc.status_code, exc.detail)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # Never log request bodies or parameters: they carry personal data.
    log.error(
        "internal error on %s %s: %s",
        request.method,
        request.scope.get("route_handler"),
        type(exc).__name__,
        exc_info=exc,
    )
    return _error(
        HTTP_500_INTERNAL_SERVER_ERROR, "internal error; the clinic's administrator can see the log"
    )


@get("/healthz", exclude_from_auth=True, sync_to_thread=False, include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/", exclude_from_auth=True, sync_to_thread=False, include_in_schema=False)
def index(request: Request[Any, Any, Any]) -> Response[Any]:
    """Where to go from the node's address: a browser to the desk page, a program to the API's index."""
    if "text/html" in request.headers.get("accept", ""):
        return Redirect("/desk", status_code=303)
    return Response(
        {
            "node": request.app.state.name,
            "clinic": request.app.state.clinic,
            "pages": "/desk",
            "api": "/api/v1",
            "api_docs": "/schema",
            "openapi": "/schema/openapi.json",
            "login": "POST /api/v1/auth/login",
        }
    )


def create_app(
    db: Database,
    store: NodeStore,
    *,
    clinic: str = "",
    name: str = "",
    debug: bool = False,
    sync: SyncClient | None = None,
    card_trust: bytes | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    desk_reader: DeskReader | None = None,
) -> Litestar:
    """The node's API; ``sync`` is the hub client of an enrolled node (None: "sync now" answers 409).

    ``card_trust`` is the hub key resident health cards are checked against (None: card routes answer 409).
    ``clock`` is the desk's local time (default: the store's calendar and the wall clock).
    ``desk_reader`` is the registration desk's card reader for the pages (default: none).
    """
    auth = DefineMiddleware(
        TokenAuthMiddleware,
        exclude=["^/schema", "^/healthz", "^/api/v1/auth/login", "^/$", *PAGE_PATHS],
        exclude_from_auth_key="exclude_from_auth",
    )
    app = Litestar(
        route_handlers=[
            healthz,
            index,
            SessionController,
            StatusController,
            ResidentController,
            RecordController,
            CodeController,
            AdminController,
            SyncController,
            CardController,
            DeskController,
            SharedController,
            ReferralController,
            *page_handlers(),
        ],
        middleware=[auth],
        exception_handlers={
            RecordInvalid: _record_invalid,
            SchemaError: _schema_error,
            NotFound: _not_found,
            ReadOnlyRecord: _read_only,
            DeskConflict: _desk_conflict,
            AuthError: _auth_error,
            CardError: card_error,
            ValidationException: _validation,
            HTTPException: _http,
            Exception: _internal,
        },
        openapi_config=OpenAPIConfig(
            title="rhip clinic node",
            version="1",
            path="/schema",
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"bearer": []}],
        ),
        cors_config=CORSConfig(allow_origins=[]),
        debug=debug,
    )
    app.state.db = db
    app.state.store = store
    app.state.clinic = clinic
    app.state.name = name
    app.state.sync = sync
    app.state.card_trust = card_trust
    app.state.desk = Desk(store, clinic=clinic, clock=clock)
    app.state.desk_reader = desk_reader if desk_reader is not None else DeskReader(None)
    return app
