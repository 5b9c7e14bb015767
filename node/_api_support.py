"""What the API controllers share: the caller, the stated purpose of a read, auditing."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import PermissionDeniedException, ValidationException

from ._access import DEFAULT_PURPOSE, Permission, allowed, readable_types
from ._audit import record_access
from ._auth import Staff
from ._db import Database
from ._store import NodeStore

__all__ = ["Ctx"]

MAX_REASON = 200


class Ctx:
    """The request's caller and the node's store, with audit helpers."""

    def __init__(self, request: Request[Staff, Any, Any]) -> None:
        self.request = request
        self.staff: Staff = request.user
        self.db: Database = request.app.state.db
        self.store: NodeStore = request.app.state.store

    @property
    def reason(self) -> str:
        """Why the caller reads: ``?reason=`` or ``X-Access-Reason``, else the role's usual purpose."""
        given = self.request.query_params.get("reason") or self.request.headers.get("x-access-reason")
        if given is None:
            return DEFAULT_PURPOSE[self.staff.role]
        given = given.strip()
        if not given or len(given) > MAX_REASON:
            raise ValidationException(
                extra=[{"key": "reason", "message": f"must be 1-{MAX_REASON} characters", "source": "query"}]
            )
        return given

    def readable(self) -> frozenset[str]:
        if not allowed(self.staff.role, Permission.READ_RECORDS):
            return frozenset()
        return readable_types(self.staff.role)

    def audit(
        self,
        action: str,
        *,
        resident_id: str | None = None,
        record_id: str | None = None,
        detail: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        record_access(
            self.db,
            user=self.staff.name,
            role=self.staff.role.value,
            action=action,
            reason=reason if reason is not None else self.reason,
            resident_id=resident_id,
            record_id=record_id,
            detail=detail,
        )

    def deny(
        self, action: str, message: str, *, resident_id: str | None = None, record_id: str | None = None
    ) -> None:
        """Audit a refused attempt, then refuse it."""
        self.audit(f"denied:{action}", resident_id=resident_id, record_id=record_id, reason=self.reason)
        raise PermissionDeniedException(message)
