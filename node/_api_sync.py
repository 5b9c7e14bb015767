"""Sync with the hub, seen from the clinic: its state, and "sync now".

Any logged-in staff member may see the state and start a round: it moves no
personal data to anyone who could not already see it, and it is the button a
clinic presses when the link comes back.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from ._auth import Staff
from ._sync import SyncClient
from ._sync_errors import FeedBehindHub, HubUnreachable, SyncError
from ._sync_state import sync_status

__all__ = ["SyncController"]

Req = Request[Staff, Any, Any]


class SyncController(Controller):
    path = "/api/v1/sync"
    tags = ("sync",)

    @get("/", sync_to_thread=True)
    def state(self, request: Req) -> dict[str, Any]:
        """``{"pending", "last_sync", "hub_head", "errors"}``, as `rhip node status --json` prints it."""
        return sync_status(request.app.state.db)

    @post("/", sync_to_thread=True, status_code=200)
    def sync_now(self, request: Req) -> Response[dict[str, Any]]:
        """Run one sync round now (in a worker thread) and return its outcome and the new state."""
        client: SyncClient | None = getattr(request.app.state, "sync", None)
        if client is None:
            return Response(
                {
                    "status_code": 409,
                    "detail": "this node is not enrolled with a hub; "
                    "run `rhip node enroll --home DIR --hub URL --token T`, then restart the node",
                    "reason": "not-enrolled",
                },
                status_code=409,
            )
        try:
            result = client.round()
        except SyncError as exc:
            # The hub cannot be reached: 503; this node must not push: 409; the hub refused: 502.
            status = (
                503 if isinstance(exc, HubUnreachable) else 409 if isinstance(exc, FeedBehindHub) else 502
            )
            return Response(
                {"status_code": status, "detail": str(exc), "reason": exc.reason, "sync": client.status()},
                status_code=status,
            )
        return Response({"result": result.as_json(), "sync": client.status()})
