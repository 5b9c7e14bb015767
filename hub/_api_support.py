"""What the hub's route modules share: the app's state, running store calls off the event loop,
JSON errors, operator-only routes and reading JSON bodies field by field."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Response
from litestar.connection import ASGIConnection

from ._checks import CheckPool
from ._store import HubError, HubStore

__all__ = [
    "LOOPBACK",
    "HubState",
    "Refused",
    "error_response",
    "hub_state",
    "json_object",
    "optional_text",
    "require_operator",
    "run_sync",
    "text_field",
]

LOOPBACK = frozenset({"127.0.0.1", "::1"})
_T = TypeVar("_T")


class Refused(HubError):
    """A request the hub answers with an error (``status_code``, ``reason``, extra JSON keys)."""

    def __init__(self, status_code: int, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.reason = reason
        self.extra = extra


@dataclass(frozen=True)
class HubState:
    store: HubStore
    key: Ed25519PrivateKey
    hub_id: str
    region: str
    operator_hosts: frozenset[str]
    checks: CheckPool
    ingest_slots: asyncio.Semaphore
    link_after_push: bool = True  # match queued registrations before answering (else: in the background)
    linker_wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Mutable scheduling state of the background linker (hub._app._linker_pause).
    linker_state: dict[str, float] = field(default_factory=lambda: {"last_push": 0.0, "hurry": 0.0})
    touched: dict[str, int] = field(default_factory=dict)  # node id → last_seen written (ms)


def hub_state(request: ASGIConnection[Any, Any, Any, Any]) -> HubState:
    state: HubState = request.app.state.hub
    return state


async def run_sync(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a store call in a worker thread (SQLite blocks)."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))


def error_response(status: int, reason: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"status_code": status, "detail": detail, "reason": reason, **extra}, status_code=status)


def require_operator(request: ASGIConnection[Any, Any, Any, Any]) -> HubState:
    """The app's state, if the caller is an operator on the hub machine (loopback); 403 otherwise."""
    hub = hub_state(request)
    client = request.client.host if request.client else ""
    if client not in hub.operator_hosts:
        raise Refused(403, "forbidden", "the hub's console is for operators on the hub machine (loopback)")
    return hub


def json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object; 400 ``malformed`` otherwise."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise Refused(400, "malformed", "body must be JSON", field="body") from None
    if not isinstance(data, dict):
        raise Refused(400, "malformed", "body must be a JSON object", field="body")
    return data


def text_field(data: dict[str, Any], name: str) -> str:
    """A text field of a JSON body; 400 naming the field when it is missing or not text."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, "malformed", f"{name} is required (text)", field=name)
    return value


def optional_text(data: dict[str, Any], name: str) -> str | None:
    """A text field that may be missing or null; 400 naming the field when it is something else."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, "malformed", f"{name} must be text or null", field=name)
    return value
