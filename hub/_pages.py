"""The hub operators' console: server-rendered pages over the same store and actions as the console
API and ``rhip hub`` (docs/console.md).

Rules:
1. Loopback only, as the console API: every page, form and static file answers
   only a client in ``operator_hosts`` (``require_operator``), asking for it by
   a loopback name (``Host`` 127.0.0.1, localhost, [::1], or an operator host),
   so a page elsewhere cannot reach it by rebinding its own name to 127.0.0.1;
   anyone else gets the 403 page.
2. Forms are url-encoded POSTs answered with a redirect (303) to the page that
   shows the result; a refused form comes back (4xx) with the field named and
   what was typed kept, and nothing is stored.
3. Cross-site forms: a POST must carry an ``Origin`` (or else a ``Referer``) of
   this hub itself, or it is refused (403) before anything is read; the
   console's cookies are ``SameSite=Strict``.
4. The review queue shows residents' names, birth dates and numbers: each
   item shown is recorded in the hub's access log (action ``console:review``,
   the operator's name, the hub's id as the node), as the hub records shared
   summaries. Nothing a person typed or is recorded as goes to the log.
5. Actions are the ones the API and the CLI take: ``decide_review``,
   ``issue_token``, ``revoke_clinic``; only a single token's or node's
   revocation is the console's own (one store call each).
6. Everything the pages load is served from ``/console/static``.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from schemas.i18n import LANG_COOKIE, Languages, negotiate

from ._api_support import HubState, Refused, hub_state, require_operator
from ._charts import WINDOWS, lag_chart, volume_chart, window_start
from ._enrol import EnrolRefused, issue_token, revoke_clinic
from ._identity import IdentityRefused
from ._operator import MAX_TEXT, decide_review
from ._pages_views import node_detail, node_rows, review_items, stored_alerts, token_rows

__all__ = ["LOCALE_DIR", "OPERATOR_COOKIE", "STATIC_DIR", "TEMPLATE_DIR", "page_handlers"]

log = logging.getLogger("rhip.hub.console")

TEMPLATE_DIR = Path(__file__).parent / "templates"
LOCALE_DIR = Path(__file__).parent / "locale"
STATIC_DIR = Path(__file__).parent / "static"
OPERATOR_COOKIE = "rhip_operator"
# The token just issued, shown once by the page the form redirects to (a name, not a secret).
_TOKEN_COOKIE = "rhip_new_token"  # noqa: S105
_YEAR_S = 365 * 86400

Req = Request[Any, Any, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


@functools.cache
def _languages() -> Languages:
    """The console's Jinja environments, built once: the templates are read-only."""
    return Languages(TEMPLATE_DIR, LOCALE_DIR, ("console",))


def _lang(request: Req) -> str:
    return negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def _operator_name(request: Req) -> str:
    return unquote(request.cookies.get(OPERATOR_COOKIE, ""))[:MAX_TEXT]


def _cookie(key: str, value: str, *, path: str = "/console", max_age: int = _YEAR_S) -> Cookie:
    return Cookie(key=key, value=value, path=path, samesite="strict", httponly=True, max_age=max_age)


def render(
    request: Req, template: str, *, status: int = 200, cookies: list[Cookie] | None = None, **context: Any
) -> Response[str]:
    """A console page in the request's language, with the frame (hub, operator, current path)."""
    hub = hub_state(request)
    lang = _lang(request)
    page = {
        "path": request.url.path,
        "hub_id": hub.hub_id,
        "region": hub.region,
        "operator": _operator_name(request),
    }
    html = _languages().render(lang, template, page=page, **context)
    jar = list(cookies or [])
    if request.query_params.get("lang"):  # remembered for the next pages
        jar.append(Cookie(key=LANG_COOKIE, value=lang, path="/", samesite="strict", max_age=_YEAR_S))
    return Response(html, status_code=status, media_type=MediaType.HTML, cookies=jar)


# -- guards ------------------------------------------------------------------------------------------


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def _operator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Rule 1: an operator on the hub machine, asking for the hub by a loopback name."""
    hub = require_operator(connection)
    host = urlsplit(f"//{connection.headers.get('host', '')}").hostname or ""
    if host not in _LOOPBACK_NAMES | hub.operator_hosts:
        raise Refused(
            403, "forbidden", f"open the console as http://127.0.0.1:PORT/console, not via {host!r}"
        )


def _same_origin(request: Req) -> None:
    """Rule 3: a form posted from another site (or with no origin at all) is refused."""
    given = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(given)
    own = urlsplit(str(request.base_url))
    if not parts.scheme or (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
        raise Refused(403, "cross-site", "forms are taken only from the console's own pages (Origin)")


# -- errors, as pages ----------------------------------------------------------------------------------


def _error_page(request: Req, status: int, detail: str) -> Response[str]:
    return render(request, "error.html", status=status, status_code=status, detail=detail)


def _refused(request: Req, exc: Refused) -> Response[str]:
    return _error_page(request, exc.status_code, str(exc))


def _http_error(request: Req, exc: HTTPException) -> Response[str]:
    return _error_page(request, exc.status_code, exc.detail)


PAGE_ERRORS: dict[Any, Any] = {Refused: _refused, HTTPException: _http_error}

_IDENTITY_STATUS = {"not-found": 404, "conflict": 409}


# -- the pages -------------------------------------------------------------------------------------------


class ConsolePages(Controller):
    path = "/console"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    guards = [_operator_only]  # noqa: RUF012 - Litestar's layer attribute

    @get("/", sync_to_thread=True)
    def overview(self, request: Req) -> Response[str]:
        """Alerts (silent nodes, forks, break-glass) and every node's last contact, lag, held and skew."""
        hub = hub_state(request)
        reads = hub.store.reads()
        return render(
            request,
            "overview.html",
            nodes=node_rows(hub.store),
            alerts=stored_alerts(reads),
            review_open=reads.review_count(),
            mpi_queue=reads.registrations_queued(),
            silent_after_min=reads.silent_after_ms() // 60_000,
        )

    # -- a node ---------------------------------------------------------------------------------

    def _node_page(
        self,
        request: Req,
        node_id: str,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        reason: str = "",
        done: str | None = None,
    ) -> Response[str]:
        hub = hub_state(request)
        node = node_detail(hub.store.reads(), node_id)
        if node is None:
            raise Refused(404, "not-found", f"no node {node_id} is enrolled at this hub")
        return render(
            request, "node.html", status=status, node=node, errors=errors or {}, reason=reason, done=done
        )

    @get("/nodes/{node_id:str}", sync_to_thread=True)
    def node(self, request: Req, node_id: FromPath[str], done: FromQuery[str | None] = None) -> Response[str]:
        """A node's quarantined changesets and held records, with their reasons."""
        return self._node_page(request, node_id, done=done)

    @post("/nodes/{node_id:str}/revoke", sync_to_thread=True, status_code=303)
    def revoke_node(self, request: Req, node_id: FromPath[str], data: Form) -> Response[Any]:
        """Revoke one node's key (``rhip hub revoke`` revokes a whole clinic's)."""
        _same_origin(request)
        hub = hub_state(request)
        reason = (data.get("reason") or "").strip()
        if not reason or len(reason) > MAX_TEXT:
            return self._node_page(
                request,
                node_id,
                status=422,
                errors={"reason": f"reason must be 1-{MAX_TEXT} characters"},
                reason=reason,
            )
        with hub.store.transaction() as tx:
            node = tx.node(node_id)
            if node is None:
                raise Refused(404, "not-found", f"no node {node_id} is enrolled at this hub")
            tx.revoke_node(node_id, reason, hub.store.now_ms())
        log.warning("node %s of clinic %s revoked from the console", node_id, node.clinic)
        return Redirect(f"/console/nodes/{quote(node_id, safe='')}?done=revoked", status_code=303)

    # -- enrolment tokens -------------------------------------------------------------------------

    def _tokens_page(
        self,
        request: Req,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        issued: dict[str, str] | None = None,
        done: dict[str, str] | None = None,
        cookies: list[Cookie] | None = None,
    ) -> Response[str]:
        hub = hub_state(request)
        return render(
            request,
            "tokens.html",
            status=status,
            cookies=cookies,
            tokens=token_rows(hub.store),
            errors=errors or {},
            values={"clinic": "", "revoke_clinic": "", "reason": "", **(values or {})},
            issued=issued,
            done=done,
        )

    @get("/tokens", sync_to_thread=True)
    def tokens(self, request: Req) -> Response[str]:
        """Enrolment tokens: issue one, see each one's state, revoke; the token just issued shown once."""
        token = request.cookies.get(_TOKEN_COOKIE)
        issued = None
        cookies = []
        if token:
            clinic = request.query_params.get("issued", "")
            issued = {"token": token, "clinic": clinic}
            cookies.append(_cookie(_TOKEN_COOKIE, "", path="/console/tokens", max_age=0))
        q = request.query_params
        done = {k: q[k] for k in ("revoked", "clinic", "nodes", "tokens") if k in q} or None
        return self._tokens_page(request, issued=issued, done=done, cookies=cookies)

    @post("/tokens", sync_to_thread=True, status_code=303)
    def issue(self, request: Req, data: Form) -> Response[Any]:
        """Issue a one-time enrolment token for a clinic, as ``rhip hub enroll-token``."""
        _same_origin(request)
        hub = hub_state(request)
        clinic = (data.get("clinic") or "").strip()
        try:
            token = issue_token(hub.store, clinic)
        except EnrolRefused as exc:
            return self._tokens_page(
                request, status=422, errors={"clinic": str(exc)}, values={"clinic": clinic}
            )
        log.info("enrolment token issued for clinic %s from the console", clinic)
        cookie = _cookie(_TOKEN_COOKIE, token, path="/console/tokens", max_age=600)
        return Redirect(f"/console/tokens?issued={quote(clinic)}", status_code=303, cookies=[cookie])

    @post("/tokens/revoke", sync_to_thread=True, status_code=303)
    def revoke_token(self, request: Req, data: Form) -> Response[Any]:
        """Revoke one unused token (by its hash)."""
        _same_origin(request)
        hub = hub_state(request)
        digest = (data.get("token") or "").strip()
        with hub.store.transaction() as tx:
            done = tx.revoke_token(digest, hub.store.now_ms())
        if not done:
            return self._tokens_page(
                request,
                status=404,
                errors={"token": "no open token with this hash: it was used, revoked or never issued"},
            )
        return Redirect(f"/console/tokens?revoked={quote(digest[:12])}", status_code=303)

    @post("/tokens/revoke-clinic", sync_to_thread=True, status_code=303)
    def revoke_clinic_route(self, request: Req, data: Form) -> Response[Any]:
        """Revoke a clinic's nodes and unused tokens, as ``rhip hub revoke``."""
        _same_origin(request)
        hub = hub_state(request)
        clinic = (data.get("revoke_clinic") or "").strip()
        reason = (data.get("reason") or "").strip()
        values = {"revoke_clinic": clinic, "reason": reason}
        if not reason or len(reason) > MAX_TEXT:
            errors = {"reason": f"reason must be 1-{MAX_TEXT} characters"}
            return self._tokens_page(request, status=422, errors=errors, values=values)
        done = revoke_clinic(hub.store, clinic, reason=reason)
        if not done.nodes and not done.tokens:
            errors = {"revoke_clinic": f"clinic {clinic!r} has no enrolled node and no open token to revoke"}
            return self._tokens_page(request, status=404, errors=errors, values=values)
        log.warning("clinic %s revoked from the console: %d node(s)", clinic, len(done.nodes))
        target = f"/console/tokens?clinic={quote(clinic)}&nodes={len(done.nodes)}&tokens={done.tokens}"
        return Redirect(target, status_code=303)

    # -- the master index's review queue -------------------------------------------------------

    def _review_page(
        self,
        request: Req,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        failed: int | None = None,
        values: dict[str, str] | None = None,
        decided: int | None = None,
    ) -> Response[str]:
        hub = hub_state(request)
        items = review_items(hub.store)
        _record_reads(hub, items, operator=_operator_name(request))
        outcome = None
        if decided is not None:
            item = hub.store.reads().review_item(decided)
            if item is not None and item.status == "decided":
                outcome = item.as_json()
        return render(
            request,
            "review.html",
            status=status,
            items=items,
            errors=errors or {},
            failed=failed,
            values={"by": _operator_name(request), "reason": "", "decision": "", **(values or {})},
            decided=outcome,
        )

    @get("/review", sync_to_thread=True)
    def review(self, request: Req, decided: FromQuery[int | None] = None) -> Response[str]:
        """Open review items: the registration and each candidate side by side, field by field."""
        return self._review_page(request, decided=decided)

    @post("/review/{review_id:int}/decide", sync_to_thread=True, status_code=303)
    def decide(self, request: Req, review_id: FromPath[int], data: Form) -> Response[Any]:
        """Decide an item (same person or not) with the operator's name and reason, as the console API."""
        _same_origin(request)
        hub = hub_state(request)
        values = {k: (data.get(k) or "").strip() for k in ("decision", "by", "reason", "master_id")}
        decision = values["decision"]
        try:
            if decision not in ("same", "different"):
                raise IdentityRefused(
                    "decision must be same or different", reason="malformed", field="decision"
                )
            decide_review(
                hub.store,
                hub.key,
                review_id=review_id,
                same=decision == "same",
                by=values["by"],
                reason=values["reason"],
                master_id=values["master_id"] or None,
            )
        except IdentityRefused as exc:
            status = _IDENTITY_STATUS.get(exc.reason, 422)
            errors = {exc.field or "id": str(exc)}
            return self._review_page(request, status=status, errors=errors, failed=review_id, values=values)
        cookie = _cookie(OPERATOR_COOKIE, quote(values["by"]))
        return Redirect(f"/console/review?decided={review_id}", status_code=303, cookies=[cookie])

    # -- charts -------------------------------------------------------------------------------------

    @get("/charts", sync_to_thread=True)
    def charts(self, request: Req, window: FromQuery[str] = "24h") -> Response[str]:
        """Records received and lag over time, drawn here as SVG."""
        hub = hub_state(request)
        chosen = WINDOWS.get(window)
        if chosen is None:
            raise Refused(400, "malformed", f"window must be one of {', '.join(WINDOWS)}", field="window")
        now = hub.store.now_ms()
        activity = hub.store.reads().activity(since_ms=window_start(chosen, now))
        return render(
            request,
            "charts.html",
            window=chosen.name,
            windows=list(WINDOWS),
            volume=volume_chart(activity, chosen, now_ms=now),
            lag=lag_chart(activity, chosen, now_ms=now),
            changesets=len(activity),
            records=sum(a.records for a in activity),
        )


def _record_reads(hub: HubState, items: list[dict[str, Any]], *, operator: str) -> None:
    """Rule 4: each review item shown (its registration and candidates) goes into the access log."""
    if not items:
        return
    with hub.store.transaction() as tx:
        now = hub.store.now_ms()
        for item in items:
            tx.log_access(
                node_id=hub.hub_id,
                user=operator or "(console)",
                action="console:review",
                reason="master-index review",
                now_ms=now,
                master_id=item["master_id"],
                resident_id=item["resident_id"],
                detail={
                    "review_id": item["id"],
                    "candidates": [c["record_id"] for c in item["candidates"]],
                },
            )


def page_handlers() -> list[Any]:
    """The console's pages and its static files, for ``create_app``."""
    return [
        ConsolePages,
        create_static_files_router(
            path="/console/static",
            directories=[STATIC_DIR],
            guards=[_operator_only],
            exception_handlers=PAGE_ERRORS,
            include_in_schema=False,
        ),
    ]
