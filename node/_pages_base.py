"""What every clinic page shares: the request types, the language, rendering with the page frame
(staff, sync bar), and errors as pages. The rules are those of ``node._pages``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect

from ._access import PERMISSIONS
from ._auth import Staff
from ._card_desk import DeskReader
from ._desk_services import Desk
from ._pages_i18n import LANG_COOKIE, Languages, languages, negotiate
from ._pages_views import sync_bar
from ._store import NotFound

__all__ = [
    "PAGE_ERRORS",
    "AnyReq",
    "Form",
    "Req",
    "desk_reader",
    "page_lang",
    "page_today",
    "render",
    "safe_next",
]

Req = Request[Staff, Any, Any]
AnyReq = Request[Any, Any, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def page_languages() -> Languages:
    return languages()  # built once (``_pages_i18n.languages`` is cached): the templates are read-only


def page_lang(request: AnyReq) -> str:
    return negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def desk_reader(request: AnyReq) -> DeskReader:
    """The registration desk's card reader the node server watches (``rhip node serve --card-reader``)."""
    reader: DeskReader = request.app.state.desk_reader
    return reader


def page_today(request: AnyReq) -> dt.date:
    desk: Desk = request.app.state.desk
    return desk.now().date()


def render(request: AnyReq, template: str, *, status: int = 200, **context: Any) -> Response[str]:
    lang = page_lang(request)
    staff = request.scope.get("user")
    page: dict[str, Any] = {
        "path": request.url.path,
        "clinic_name": request.app.state.name,
        "staff": None,
        "sync": None,
    }
    if isinstance(staff, Staff):
        page["staff"] = {
            "name": staff.display_name or staff.name,
            "role": staff.role.value,
            "can": {p.name.lower() for p in PERMISSIONS[staff.role]},
        }
        page["sync"] = sync_bar(request.app.state.db, enrolled=request.app.state.sync is not None)
    html = page_languages().render(lang, template, page=page, **context)
    cookies = []
    if request.query_params.get("lang"):  # remembered for the next pages
        cookies.append(Cookie(key=LANG_COOKIE, value=lang, path="/", samesite="strict", max_age=365 * 86400))
    return Response(html, status_code=status, media_type=MediaType.HTML, cookies=cookies)


def safe_next(target: str | None) -> str:
    """Only a path on this node: never another site (an open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/desk"


# -- errors, as pages --------------------------------------------------------------------------------


def _login_needed(request: AnyReq, _: NotAuthorizedException) -> Response[Any]:
    target = "/login?next=" + quote(request.url.path, safe="/")
    if request.headers.get("hx-request"):
        return Response("", status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def _refused(request: AnyReq, exc: PermissionDeniedException) -> Response[str]:
    return render(request, "error.html", status=403, status_code=403, detail=exc.detail)


def _not_found(request: AnyReq, exc: NotFound) -> Response[str]:
    return render(request, "error.html", status=404, status_code=404, detail=str(exc))


def _http_error(request: AnyReq, exc: HTTPException) -> Response[str]:
    return render(
        request, "error.html", status=exc.status_code, status_code=exc.status_code, detail=exc.detail
    )


PAGE_ERRORS: dict[Any, Any] = {
    NotAuthorizedException: _login_needed,
    PermissionDeniedException: _refused,
    NotFound: _not_found,
    HTTPException: _http_error,
}
