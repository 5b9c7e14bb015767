"""The clinic's web pages: server-rendered HTML over the same store, guards and audit as the API.

Rules:
1. A page is guarded by the same permission as the API route that reads the
   same data, and audits its reads with the same actions (``read:file-tree``,
   ``read:queue``, ``search``); the resident page states the purpose ``care``.
2. Not logged in → 303 to ``/login?next=…``; refused → the 403 page (audited by
   the guard); unknown resident → the 404 page. htmx fragments are answered
   with ``HX-Redirect`` instead of a login page swapped into a corner.
3. Logging in sets the same session cookie as ``POST /api/v1/auth/login``
   (``SameSite=Strict``, so no other site can post a form with it).
4. Everything the pages load is served from ``/static``; nothing comes from
   another origin.
5. Nothing a person typed or is recorded as goes to the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from schemas import RecordInvalid

from ._access import Permission
from ._api_support import Ctx
from ._auth import AuthError, authenticate, issue_token, revoke_token
from ._db import Database
from ._desk_read import queue_entry
from ._desk_services import Desk
from ._pages_base import PAGE_ERRORS, AnyReq, Form, Req, page_lang, page_today, render, safe_next
from ._pages_card import CardPages, reader_view
from ._pages_care import CARE_PAGES
from ._pages_resident import resident_page
from ._pages_views import (
    REGISTRATION_FIELDS,
    code_label,
    duplicate_rows,
    form_errors,
    person_row,
    registration_body,
    registration_options,
)
from ._pages_visit import VISIT_PAGES
from ._sync import SyncClient
from ._sync_errors import FeedBehindHub, HubUnreachable, SyncError
from ._web_auth import require, session_cookie

__all__ = ["PAGE_PATHS", "STATIC_DIR", "page_handlers"]

STATIC_DIR = Path(__file__).parent / "static"
# Paths the token middleware lets through: the login form and the static files.
PAGE_PATHS = ["^/login$", "^/static/"]
SEARCH_LIMIT = 20

# -- the pages ---------------------------------------------------------------------------------------


class LoginPages(Controller):
    path = "/"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/login", exclude_from_auth=True, sync_to_thread=False)
    def form(self, request: AnyReq, next: FromQuery[str | None] = None) -> Response[str]:
        return render(request, "login.html", next=safe_next(next), error=None, user="")

    @post("/login", exclude_from_auth=True, sync_to_thread=True, status_code=303)
    def login(self, request: AnyReq, data: Form) -> Response[Any]:
        db: Database = request.app.state.db
        user, target = data.get("user", "").strip(), safe_next(data.get("next"))
        try:
            staff = authenticate(db, user, data.get("password", ""))
        except AuthError:
            return render(request, "login.html", status=401, next=target, error="bad-login", user=user)
        token = issue_token(db, staff.name, kind="session")
        cookie = session_cookie(token)
        return Redirect(target, status_code=303, cookies=[cookie])

    @post("/logout", sync_to_thread=True, status_code=303)
    def logout(self, request: Req) -> Response[Any]:
        revoke_token(request.app.state.db, request.auth)
        return Redirect("/login", status_code=303, cookies=[session_cookie(None)])


class DeskPages(Controller):
    path = "/desk"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    guards = [require(Permission.SEARCH)]  # noqa: RUF012 - Litestar's layer attribute

    def _hits(self, request: Req, q: str) -> list[dict[str, Any]]:
        ctx = Ctx(request)
        q = q.strip()
        if not q:
            return []
        results = ctx.store.search(q, limit=SEARCH_LIMIT)
        ctx.audit("search", detail={"query": q, "results": len(results)})
        today, lang = page_today(request), page_lang(request)
        return [person_row(r, role=ctx.staff.role, today=today, lang=lang) for r in results]

    @get("/", sync_to_thread=True)
    def desk(self, request: Req, q: FromQuery[str] = "") -> Response[str]:
        return render(
            request,
            "desk.html",
            q=q,
            hits=self._hits(request, q),
            searched=bool(q.strip()),
            reader=reader_view(request.app.state.desk_reader),
        )

    @get("/results", sync_to_thread=True)
    def results(self, request: Req, q: FromQuery[str] = "") -> Response[str]:
        """The hits as the clerk types (an htmx fragment)."""
        return render(request, "_results.html", q=q, hits=self._hits(request, q), searched=bool(q.strip()))

    @get("/open", sync_to_thread=True)
    def open_first(self, request: Req, q: FromQuery[str] = "") -> Response[Any]:
        """Enter in the search box: straight to the best hit, or back to the desk saying none matched."""
        hits = self._hits(request, q)
        if hits:
            return Redirect(f"/residents/{quote(hits[0]['id'], safe='')}", status_code=303)
        return render(
            request,
            "desk.html",
            q=q,
            hits=[],
            searched=bool(q.strip()),
            reader=reader_view(request.app.state.desk_reader),
        )


class ResidentPages(Controller):
    path = "/residents"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    def _form(
        self,
        request: Req,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, list[str]] | None = None,
        other_errors: list[str] | None = None,
        status: int = 200,
    ) -> Response[str]:
        return render(
            request,
            "register.html",
            status=status,
            values=values or dict.fromkeys(REGISTRATION_FIELDS, ""),
            errors=errors or {},
            other_errors=other_errors or [],
            focus_field=next((f for f in REGISTRATION_FIELDS if f in (errors or {})), "name"),
            options=registration_options(page_lang(request)),
        )

    @get("/new", guards=[require(Permission.REGISTER)], sync_to_thread=False)
    def new_form(self, request: Req) -> Response[str]:
        """The desk's registration form."""
        return self._form(request)

    @post("/new", guards=[require(Permission.REGISTER)], sync_to_thread=True, status_code=303)
    def register(self, request: Req, data: Form) -> Response[Any]:
        """Register through the API's store path; a refused form comes back with each field's problem.

        Likely duplicates are flagged by the store (as for ``POST /api/v1/residents``) and shown
        before the clerk goes on; otherwise straight to the new resident's page.
        """
        ctx = Ctx(request)
        values, body = registration_body(data)
        try:
            reg = ctx.store.register_resident(body, user=ctx.staff.name)
        except RecordInvalid as exc:
            by_field, other = form_errors(exc)
            return self._form(request, values=values, errors=by_field, other_errors=other, status=422)
        resident_id = reg.envelope.id
        ctx.audit("register", resident_id=resident_id, reason="registration", detail={"via": "page"})
        target = f"/residents/{quote(resident_id, safe='')}"
        if not reg.duplicates:
            return Redirect(target, status_code=303)
        return render(
            request,
            "registered.html",
            status=201,
            resident_id=resident_id,
            name=values["name"],
            target=target,
            duplicates=duplicate_rows(ctx.store, reg.duplicates),
        )

    @get("/{resident_id:str}", guards=[require(Permission.READ_DEMOGRAPHICS)], sync_to_thread=True)
    def resident(self, request: Req, resident_id: FromPath[str]) -> Response[str]:
        """Demographics, the emergency data and the health file tree, audited as the API's file tree."""
        return resident_page(request, resident_id)


class QueuePages(Controller):
    path = "/queue"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/", guards=[require(Permission.DESK_QUEUE)], sync_to_thread=True)
    def queue(self, request: Req) -> Response[str]:
        """Today's visits and each one's step, audited as the API's queue."""
        ctx = Ctx(request)
        desk: Desk = request.app.state.desk
        now = desk.now()
        states = desk.queue(now.date())
        residents = {
            r["id"]: r for r in ctx.store.resident_summaries(sorted({s.resident_id for s in states}))
        }
        ctx.audit(
            "read:queue",
            detail={
                "day": now.date().isoformat(),
                "step": None,
                "pending": None,
                "residents": sorted(residents),
            },
        )
        lang = page_lang(request)
        visits = []
        for s in states:
            entry = queue_entry(s, residents.get(s.resident_id), now)
            summary = residents.get(s.resident_id)
            entry["person"] = (
                person_row(summary, role=ctx.staff.role, today=now.date(), lang=lang) if summary else None
            )
            entry["department_label"] = code_label("department", s.department, lang)
            visits.append(entry)
        return render(request, "queue.html", day=now.date().isoformat(), visits=visits)


class SyncPages(Controller):
    """Any logged-in staff member sees sync and may start a round (as ``/api/v1/sync``)."""

    path = "/sync"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    @get("/", sync_to_thread=True)
    def state(self, request: Req) -> Response[str]:
        return render(request, "sync.html", outcome=None)

    @get("/bar", sync_to_thread=True)
    def bar(self, request: Req) -> Response[str]:
        """The sync bar alone, for the page to refresh it."""
        return render(request, "_sync_bar.html")

    @post("/", sync_to_thread=True, status_code=200)
    def sync_now(self, request: Req) -> Response[str]:
        client: SyncClient | None = request.app.state.sync
        if client is None:
            return render(request, "sync.html", status=409, outcome={"kind": "not-enrolled"})
        try:
            result = client.round()
        except SyncError as exc:
            status = (
                503 if isinstance(exc, HubUnreachable) else 409 if isinstance(exc, FeedBehindHub) else 502
            )
            kind = "unreachable" if status == 503 else "refused"
            return render(request, "sync.html", status=status, outcome={"kind": kind, "detail": str(exc)})
        return render(request, "sync.html", outcome={"kind": "done", "result": result.as_json()})


def page_handlers() -> list[Any]:
    """The pages' controllers and the static files, for ``create_app``."""
    return [
        LoginPages,
        DeskPages,
        CardPages,
        ResidentPages,
        QueuePages,
        SyncPages,
        *VISIT_PAGES,
        *CARE_PAGES,
        create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
    ]
