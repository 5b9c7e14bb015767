"""The pages of continuing care: follow-ups, referrals, consultations, the shared summary, break-glass.

Rules (beside those of ``node._pages``):
1. A follow-up form writes one record through the store's ``add_record``, guarded
   and audited as ``POST /api/v1/residents/{id}/records`` (``write``, reason
   ``care``, ``detail.via = "page"``); a role that may not write the record type
   is refused and the refusal audited as the API's (``denied:write``).
2. Referrals and consultations are written by the functions the API uses
   (``node._referrals``), audited with the API's actions; a status that forbids
   the step answers 409 with the list page, a missing field 422, nothing stored.
3. The shared summary and break-glass ask the hub at request time with a stated
   reason, audited as ``/api/v1/shared/summary`` and ``…/break-glass``; offline
   is a page saying so (503, or 409 when the node is not enrolled), not an error.
4. A refused form comes back with each problem beside its field, what was typed
   kept, and the first wrong field focused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from schemas import RecordEnvelope, RecordInvalid

from ._access import Permission, writable_types
from ._api_shared import hub_clinics
from ._api_support import MAX_REASON, Ctx
from ._pages_base import PAGE_ERRORS, Form, Req, page_lang, page_today, render
from ._pages_care_views import (
    CONSULTATION_FIELDS,
    FOLLOWUP_KINDS,
    REFERRAL_FIELDS,
    FollowupKind,
    Variant,
    clinic_choices,
    consultation_body,
    consultation_rows,
    followup_body,
    followup_fields,
    form_problems,
    pregnancy_choices,
    referral_body,
    referral_rows,
    released_view,
    summary_number,
    summary_view,
)
from ._pages_views import code_label, person_row
from ._referrals import (
    Clinic,
    ReferralConflict,
    answer_consultation,
    close_referral,
    consultations,
    refer_back,
    refer_out,
    referrals,
    request_consultation,
    respond,
)
from ._remote import clinic_directory
from ._store import NotFound
from ._sync import SyncClient
from ._sync_errors import HubRefused, HubUnreachable, SyncError
from ._tree import source_of
from ._web_auth import require

__all__ = ["CARE_PAGES"]

_REQUIRED = "is required"
# Each referral step's audit action: the API's.
_STEP_AUDIT = {
    "accept": "referral:accept",
    "decline": "referral:decline",
    "back": "referral:back",
    "close": "referral:close",
    "answer": "consultation:answer",
}


def _resident_path(resident_id: str, *rest: str) -> str:
    return "/".join([f"/residents/{quote(resident_id, safe='')}", *rest])


def _person(ctx: Ctx, request: Req, resident_id: str) -> dict[str, Any]:
    """The resident as the care pages head them (404 page for an unknown id)."""
    resident = ctx.store.resident(resident_id)
    return person_row(resident, role=ctx.staff.role, today=page_today(request), lang=page_lang(request))


def _clinic(ctx: Ctx) -> Clinic:
    """This node as the referral records name it (as ``_api_referrals`` builds it)."""
    staff = ctx.staff
    return Clinic(ctx.store, ctx.request.app.state.clinic, staff.name, staff.display_name or staff.name)


def _focus(order: tuple[str, ...] | list[str], errors: dict[str, list[str]]) -> str:
    return next((f for f in order if f in errors), order[0])


# -- follow-ups --------------------------------------------------------------------------------------


class FollowupPages(Controller):
    """``/residents/{id}/followups/{kind}``: a follow-up form of each kind (``FOLLOWUP_KINDS``)."""

    path = "/residents"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS
    guards = [require(Permission.WRITE_RECORDS)]  # noqa: RUF012 - Litestar's layer attribute

    def _variant(
        self, ctx: Ctx, resident_id: str, kind_name: str, record_type: str | None
    ) -> tuple[FollowupKind, Variant, list[Variant]]:
        """The kind and record type asked for, and the kind's types this role may write (rule 1)."""
        kind = FOLLOWUP_KINDS.get(kind_name)
        if kind is None:
            raise NotFound(f"no follow-up form {kind_name!r} (known: {', '.join(FOLLOWUP_KINDS)})")
        variant = kind.variant(record_type or None)
        if variant is None:
            raise NotFound(f"the {kind_name} form records no {record_type!r}")
        writable = writable_types(ctx.staff.role)
        allowed = [v for v in kind.variants if v.record_type in writable]
        if record_type is None and allowed:
            variant = allowed[0]
        if variant.record_type not in writable:
            ctx.deny(
                "write",
                f"role {ctx.staff.role.value} may not record {variant.record_type}",
                resident_id=resident_id,
            )
        return kind, variant, allowed

    def _pregnancies(self, ctx: Ctx, resident_id: str, variant: Variant) -> list[dict[str, str]]:
        """The resident's pregnancy registrations, for the forms that name one; read as the API reads."""
        if not any(f.kind == "pregnancy" for f in variant.fields):
            return []
        if "pregnancy_registration" not in ctx.readable():
            return []
        found = ctx.store.records_of(resident_id, types=["pregnancy_registration"])
        ctx.audit(
            "read:records",
            resident_id=resident_id,
            detail={"type": "pregnancy_registration", "via": "page"},
        )
        return pregnancy_choices(found)

    def _form(
        self,
        request: Req,
        resident_id: str,
        kind: FollowupKind,
        variant: Variant,
        allowed: list[Variant],
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, list[str]] | None = None,
        other_errors: list[str] | None = None,
        status: int = 200,
    ) -> Response[str]:
        ctx = Ctx(request)
        person = _person(ctx, request, resident_id)
        desk = request.app.state.desk
        fields = followup_fields(
            variant,
            values=values,
            errors=errors or {},
            lang=page_lang(request),
            today=page_today(request),
            now=desk.now(),
            staff=ctx.staff.display_name or ctx.staff.name,
            pregnancies=self._pregnancies(ctx, resident_id, variant),
        )
        names = [f["name"] for f in fields]
        return render(
            request,
            "followup.html",
            status=status,
            person=person,
            kind=kind,
            variant=variant,
            variants=allowed,
            fields=fields,
            other_errors=other_errors or [],
            has_errors=bool(errors or other_errors),
            focus_field=_focus(names, errors or {}),
            action=_resident_path(resident_id, "followups", kind.name),
            back=_resident_path(resident_id),
        )

    @get("/{resident_id:str}/followups/{kind:str}", sync_to_thread=True)
    def form(
        self,
        request: Req,
        resident_id: FromPath[str],
        kind: FromPath[str],
        record: FromQuery[str | None] = None,
    ) -> Response[str]:
        """An empty follow-up form; ``?record=`` picks the record type of a kind with several."""
        found, variant, allowed = self._variant(Ctx(request), resident_id, kind, record)
        return self._form(request, resident_id, found, variant, allowed)

    @post("/{resident_id:str}/followups/{kind:str}", sync_to_thread=True, status_code=303)
    def save(
        self, request: Req, resident_id: FromPath[str], kind: FromPath[str], data: Form
    ) -> Response[Any]:
        """Write the record as the API does, then back to the resident, where it shows in the file."""
        ctx = Ctx(request)
        found, variant, allowed = self._variant(ctx, resident_id, kind, data.get("record_type") or None)
        values, body = followup_body(variant, data)
        try:
            env = ctx.store.add_record(resident_id, variant.record_type, body, user=ctx.staff.name)
        except RecordInvalid as exc:
            by_field, other = form_problems(exc, [f.name for f in variant.fields])
            return self._form(
                request,
                resident_id,
                found,
                variant,
                allowed,
                values=values,
                errors=by_field,
                other_errors=other,
                status=422,
            )
        ctx.audit(
            "write",
            resident_id=resident_id,
            record_id=env.id,
            detail={"type": variant.record_type, "via": "page"},
            reason="care",
        )
        return Redirect(_resident_path(resident_id), status_code=303)


# -- referrals and consultations ---------------------------------------------------------------------


class ReferralPages(Controller):
    """``/referrals`` (in and out, consultations asked and received) and the forms that act on them."""

    path = "/"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    def _names(self, request: Req) -> dict[str, str]:
        """Clinic code → name: the hub's directory and this clinic."""
        names = {e["clinic"]: e["name"] for e in clinic_directory(request.app.state.db.reader()).values()}
        names[request.app.state.clinic] = request.app.state.name
        return names

    def _listing(
        self, request: Req, *, failed: dict[str, Any] | None = None, status: int = 200
    ) -> Response[str]:
        """The lists, audited as the API's two lists (with the ids they showed)."""
        ctx = Ctx(request)
        clinic, lang, names = request.app.state.clinic, page_lang(request), self._names(request)
        refs = referrals(ctx.store, clinic, direction=None, status=None, readable=ctx.readable())
        cons = consultations(ctx.store, clinic, direction=None, status=None)
        for action, items in (("read:referrals", refs), ("read:consultations", cons)):
            ctx.audit(
                action,
                detail={
                    "direction": None,
                    "status": None,
                    "records": [i["id"] for i in items],
                    "via": "page",
                },
            )
        rows = referral_rows(refs, names=names, lang=lang)
        consults = consultation_rows(cons, names=names, lang=lang)
        return render(
            request,
            "referrals.html",
            status=status,
            outgoing=[r for r in rows if r["direction"] == "out"],
            incoming=[r for r in rows if r["direction"] == "in"],
            asked=[c for c in consults if c["direction"] == "out"],
            received=[c for c in consults if c["direction"] == "in"],
            failed=failed,
        )

    def _failed(
        self,
        request: Req,
        record_id: str,
        action: str,
        *,
        values: dict[str, str],
        errors: dict[str, list[str]] | None = None,
        other: list[str] | None = None,
        status: int,
    ) -> Response[str]:
        failed = {
            "id": record_id,
            "action": action,
            "typed": values,
            "errors": errors or {},
            "other": other or [],
        }
        return self._listing(request, failed=failed, status=status)

    def _act(
        self,
        request: Req,
        record_id: str,
        action: str,
        values: dict[str, str],
        write: Callable[[Clinic], RecordEnvelope],
    ) -> Response[Any]:
        """Run one step (``write``: the ``_referrals`` call), audit it as the API, back to the list.

        A refusal comes back on the list beside the step's form: 409 when the status forbids it,
        422 when a field is wrong; nothing is stored either way.
        """
        ctx = Ctx(request)
        try:
            env = write(_clinic(ctx))
        except ReferralConflict as exc:
            return self._failed(request, record_id, action, values=values, other=[exc.message], status=409)
        except RecordInvalid as exc:
            errors, other = form_problems(exc, list(values))
            return self._failed(
                request, record_id, action, values=values, errors=errors, other=other, status=422
            )
        ctx.audit(_STEP_AUDIT[action], resident_id=env.resident_id, record_id=env.id, detail={"via": "page"})
        return Redirect("/referrals", status_code=303)

    def _missing(
        self, request: Req, record_id: str, action: str, values: dict[str, str], name: str
    ) -> Response[str]:
        return self._failed(request, record_id, action, values=values, errors={name: [_REQUIRED]}, status=422)

    @get("/referrals", guards=[require(Permission.READ_REFERRALS)], sync_to_thread=True)
    def listing(self, request: Req) -> Response[str]:
        return self._listing(request)

    @post(
        "/referrals/{record_id:str}/accept",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def accept(self, request: Req, record_id: FromPath[str]) -> Response[Any]:
        return self._act(request, record_id, "accept", {}, lambda c: respond(c, record_id, accept=True))

    @post(
        "/referrals/{record_id:str}/decline",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def decline(self, request: Req, record_id: FromPath[str], data: Form) -> Response[Any]:
        """Decline, saying why (the reason is required, as in the API)."""
        values = {"reason": (data.get("reason") or "").strip()}
        if not values["reason"]:
            return self._missing(request, record_id, "decline", values, "reason")
        return self._act(
            request,
            record_id,
            "decline",
            values,
            lambda c: respond(c, record_id, accept=False, reason=values["reason"]),
        )

    @post(
        "/referrals/{record_id:str}/back",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def back(self, request: Req, record_id: FromPath[str], data: Form) -> Response[Any]:
        """Refer back with the results (required), the discharge summary's id, history and treatment."""
        names = ("results", "discharge_summary_id", "history_summary", "treatment_given")
        values = {n: (data.get(n) or "").strip() for n in names}
        if not values["results"]:
            return self._missing(request, record_id, "back", values, "results")
        body = {k: v for k, v in values.items() if v}
        return self._act(request, record_id, "back", values, lambda c: refer_back(c, record_id, body))

    @post(
        "/referrals/{record_id:str}/close",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def close(self, request: Req, record_id: FromPath[str]) -> Response[Any]:
        return self._act(request, record_id, "close", {}, lambda c: close_referral(c, record_id))

    @post(
        "/consultations/{record_id:str}/answer",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def answer(self, request: Req, record_id: FromPath[str], data: Form) -> Response[Any]:
        values = {"answer": (data.get("answer") or "").strip()}
        if not values["answer"]:
            return self._missing(request, record_id, "answer", values, "answer")
        return self._act(
            request,
            record_id,
            "answer",
            values,
            lambda c: answer_consultation(c, record_id, values["answer"]),
        )

    # -- asking: a referral out, a consultation ------------------------------------------------------

    def _ask_form(
        self,
        request: Req,
        resident_id: str,
        template: str,
        order: tuple[str, ...],
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, list[str]] | None = None,
        other_errors: list[str] | None = None,
        status: int = 200,
    ) -> Response[str]:
        ctx = Ctx(request)
        lang = page_lang(request)
        directory = clinic_directory(request.app.state.db.reader())
        return render(
            request,
            template,
            status=status,
            person=_person(ctx, request, resident_id),
            values=values or dict.fromkeys(order, ""),
            errors=errors or {},
            other_errors=other_errors or [],
            focus_field=_focus(order, errors or {}),
            clinics=clinic_choices(directory, request.app.state.clinic),
            urgencies=[
                {"code": c, "label": code_label("urgency", c, lang)}
                for c in ("routine", "urgent", "emergency")
            ],
            action=_resident_path(resident_id, "refer" if template == "referral_new.html" else "consult"),
            back=_resident_path(resident_id),
        )

    @get("/residents/{resident_id:str}/refer", guards=[require(Permission.REFER)], sync_to_thread=True)
    def refer_form(self, request: Req, resident_id: FromPath[str]) -> Response[str]:
        return self._ask_form(request, resident_id, "referral_new.html", REFERRAL_FIELDS)

    @post(
        "/residents/{resident_id:str}/refer",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def refer(self, request: Req, resident_id: FromPath[str], data: Form) -> Response[Any]:
        """Refer out through ``refer_out`` (as ``POST /api/v1/referrals``); then the referrals list."""
        return self._ask(request, resident_id, data, _ASKS["refer"])

    @get("/residents/{resident_id:str}/consult", guards=[require(Permission.REFER)], sync_to_thread=True)
    def consult_form(self, request: Req, resident_id: FromPath[str]) -> Response[str]:
        return self._ask_form(request, resident_id, "consult_new.html", CONSULTATION_FIELDS)

    @post(
        "/residents/{resident_id:str}/consult",
        guards=[require(Permission.REFER)],
        sync_to_thread=True,
        status_code=303,
    )
    def consult(self, request: Req, resident_id: FromPath[str], data: Form) -> Response[Any]:
        """Ask a consultation through ``request_consultation`` (as ``POST /api/v1/consultations``)."""
        return self._ask(request, resident_id, data, _ASKS["consult"])

    def _ask(self, request: Req, resident_id: str, data: dict[str, str], ask: _Ask) -> Response[Any]:
        """Refer or ask: the form checked and written as the API does, or back with its problems."""
        ctx = Ctx(request)
        ctx.store.resident(resident_id)  # registered here: else the 404 page
        values, body = ask.body(data)
        try:
            env = ask.write(_clinic(ctx), resident_id, body)
        except RecordInvalid as exc:
            errors, other = form_problems(exc, ask.fields)
            return self._ask_form(
                request,
                resident_id,
                ask.template,
                ask.fields,
                values=values,
                errors=errors,
                other_errors=other,
                status=422,
            )
        ctx.audit(ask.action, resident_id=resident_id, record_id=env.id, detail={"via": "page"})
        return Redirect("/referrals", status_code=303)


@dataclass(frozen=True)
class _Ask:
    """Referring out and asking a consultation: the same form flow over different records."""

    template: str
    fields: tuple[str, ...]
    body: Callable[[dict[str, str]], tuple[dict[str, str], dict[str, Any]]]
    write: Callable[[Clinic, str, dict[str, Any]], RecordEnvelope]
    action: str  # the API's audit action


_ASKS = {
    "refer": _Ask("referral_new.html", REFERRAL_FIELDS, referral_body, refer_out, "referral:out"),
    "consult": _Ask(
        "consult_new.html",
        CONSULTATION_FIELDS,
        consultation_body,
        request_consultation,
        "consultation:request",
    ),
}


# -- the shared summary and break-glass --------------------------------------------------------------


def _reason(data: dict[str, str]) -> tuple[str, dict[str, list[str]]]:
    """The stated reason, and its problem (1-MAX_REASON characters, as the API)."""
    reason = (data.get("reason") or "").strip()
    if not reason or len(reason) > MAX_REASON:
        return reason, {"reason": [f"is required (1-{MAX_REASON} characters)"]}
    return reason, {}


def _hub_outcome(exc: SyncError) -> tuple[int, dict[str, Any]]:
    """A failed hub request as the page's status and outcome (the API's statuses)."""
    if isinstance(exc, HubUnreachable):
        return 503, {"kind": "unreachable", "detail": str(exc)}
    if isinstance(exc, HubRefused) and exc.status_code in (400, 404, 409):
        kind = "not-found" if exc.status_code == 404 else "refused"
        return exc.status_code, {"kind": kind, "detail": str(exc)}
    return 502, {"kind": "refused", "detail": str(exc)}


class SharedPages(Controller):
    """The on-demand shared summary and breaking the glass, for a resident registered here."""

    path = "/residents"
    include_in_schema = False
    exception_handlers = PAGE_ERRORS

    def _page(
        self,
        request: Req,
        resident_id: str,
        template: str,
        *,
        reason: str = "",
        errors: dict[str, list[str]] | None = None,
        outcome: dict[str, Any] | None = None,
        status: int = 200,
        **shown: Any,
    ) -> Response[str]:
        ctx = Ctx(request)
        return render(
            request,
            template,
            status=status,
            person=_person(ctx, request, resident_id),
            reason=reason,
            errors=errors or {},
            outcome=outcome,
            action=_resident_path(resident_id, "summary" if template == "summary.html" else "break-glass"),
            back=_resident_path(resident_id),
            **shown,
        )

    @get("/{resident_id:str}/summary", guards=[require(Permission.READ_RECORDS)], sync_to_thread=True)
    def summary_form(self, request: Req, resident_id: FromPath[str]) -> Response[str]:
        return self._page(request, resident_id, "summary.html", summary=None)

    @post(
        "/{resident_id:str}/summary",
        guards=[require(Permission.READ_RECORDS)],
        sync_to_thread=True,
        status_code=200,
    )
    def summary(self, request: Req, resident_id: FromPath[str], data: Form) -> Response[str]:
        """Fetch the summary from the hub by the resident's identity (or card) number; audited as the API."""
        ctx = Ctx(request)
        resident = ctx.store.resident(resident_id)
        reason, errors = _reason(data)
        page: dict[str, Any] = {"reason": reason, "summary": None}
        if errors:
            return self._page(request, resident_id, "summary.html", errors=errors, status=422, **page)
        number = summary_number(resident)
        if number is None:
            return self._page(
                request, resident_id, "summary.html", outcome={"kind": "no-number"}, status=422, **page
            )
        client: SyncClient | None = request.app.state.sync
        if client is None:
            return self._page(
                request, resident_id, "summary.html", outcome={"kind": "not-enrolled"}, status=409, **page
            )
        try:
            answer = client.shared_summary(resident=number, reason=reason, user=ctx.staff.name)
        except SyncError as exc:
            ctx.audit(
                "read:shared-summary",
                resident_id=resident_id,
                detail={"found": False, "why": exc.reason, "via": "page"},
                reason=reason,
            )
            status, outcome = _hub_outcome(exc)
            return self._page(request, resident_id, "summary.html", outcome=outcome, status=status, **page)
        clinics = hub_clinics(answer)
        for name in ("allergies", "conditions", "medications", "encounters", "labs"):
            for item in answer.get(name) or []:
                if isinstance(item, dict) and isinstance(item.get("source"), str):
                    item["source"] = source_of(item["source"], clinics)
        ctx.audit(
            "read:shared-summary",
            resident_id=resident_id,
            detail={
                "master_id": answer.get("master_id"),
                "withheld": bool(answer.get("withheld")),
                "via": "page",
            },
            reason=reason,
        )
        shown = summary_view(answer, lang=page_lang(request))
        return self._page(request, resident_id, "summary.html", reason=reason, summary=shown)

    @get("/{resident_id:str}/break-glass", guards=[require(Permission.BREAK_GLASS)], sync_to_thread=True)
    def break_glass_form(self, request: Req, resident_id: FromPath[str]) -> Response[str]:
        return self._page(request, resident_id, "break_glass.html", released=None)

    @post(
        "/{resident_id:str}/break-glass",
        guards=[require(Permission.BREAK_GLASS)],
        sync_to_thread=True,
        status_code=200,
    )
    def break_glass(self, request: Req, resident_id: FromPath[str], data: Form) -> Response[str]:
        """Ask the hub, once, for the withheld records; audited as ``POST …/break-glass`` before shown."""
        ctx = Ctx(request)
        ctx.store.resident(resident_id)
        reason, errors = _reason(data)
        page: dict[str, Any] = {"reason": reason, "released": None}
        if errors:
            return self._page(request, resident_id, "break_glass.html", errors=errors, status=422, **page)
        client: SyncClient | None = request.app.state.sync
        if client is None:
            return self._page(
                request, resident_id, "break_glass.html", outcome={"kind": "not-enrolled"}, status=409, **page
            )
        try:
            answer = client.break_glass(resident_id=resident_id, reason=reason, user=ctx.staff.name)
        except SyncError as exc:
            ctx.audit(
                "break-glass",
                resident_id=resident_id,
                detail={"released": False, "via": "page"},
                reason=reason,
            )
            status, outcome = _hub_outcome(exc)
            return self._page(
                request, resident_id, "break_glass.html", outcome=outcome, status=status, **page
            )
        clinics = hub_clinics(answer)
        records = [{**r, "source": source_of(str(r.get("author")), clinics)} for r in answer["records"]]
        ctx.audit(
            "break-glass",
            resident_id=resident_id,
            detail={
                "master_id": answer.get("master_id"),
                "records": [r.get("id") for r in records],
                "via": "page",
            },
            reason=reason,
        )
        released = released_view(records, lang=page_lang(request))
        return self._page(request, resident_id, "break_glass.html", reason=reason, released=released)


CARE_PAGES: list[Any] = [FollowupPages, ReferralPages, SharedPages]
