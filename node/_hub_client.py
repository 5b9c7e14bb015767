"""The hub's HTTP API as one node sees it: signed requests, frames in and out, typed errors.

Rules:
1. This is the only module that talks HTTP. httpx errors are translated here
   (``raise HubUnreachable(str(exc)) from exc``) and never escape.
2. Every request but enrolment carries the node's signature
   (``sync.sign_request``) over method, path with query, node id, time and body.
3. The transport is pluggable (``transport=``): tests run the node against an
   in-process hub at the transport seam. An ``https`` hub is verified against
   the region's CA file when one is configured.
4. Binary bodies are zlib-compressed msgpack. Answers are decoded here but
   verified (signatures, chains) by the caller, which holds the keys.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sync

from ._sync_errors import HubAnswerInvalid, HubRefused, HubUnreachable, NotEnrolled, SyncError

__all__ = ["FRAME_TYPE", "HubClient", "HubConfig"]

FRAME_TYPE = "application/x-rhip-frame"
_ZLIB_FIRST_BYTE = 0x78  # a msgpack frame, list or map never starts with it


@dataclass(frozen=True)
class HubConfig:
    """HOME/hub.json: where the hub is and how to trust it (written by `rhip node enroll`)."""

    hub_url: str
    hub_id: str
    region: str
    hub_public_key: str  # hex of the hub's Ed25519 public key
    ca_file: str | None = None

    @property
    def public_key(self) -> bytes:
        return bytes.fromhex(self.hub_public_key)

    @staticmethod
    def path_in(home: Path) -> Path:
        return home / "hub.json"

    @classmethod
    def load(cls, home: Path) -> HubConfig:
        path = cls.path_in(home)
        if not path.is_file():
            raise NotEnrolled(
                f"this node is not enrolled with a hub (no {path}); "
                f"run `rhip node enroll --home {home} --hub URL --token T`"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            config = cls(
                hub_url=str(data["hub_url"]),
                hub_id=str(data["hub_id"]),
                region=str(data["region"]),
                hub_public_key=str(data["hub_public_key"]),
                ca_file=data.get("ca_file"),
            )
            if len(config.public_key) != 32:
                raise ValueError("hub_public_key must be 32 bytes")
        except (ValueError, KeyError, TypeError) as exc:
            raise SyncError(f"{path} is damaged ({exc}); enrol the node again") from exc
        return config

    def save(self, home: Path) -> Path:
        path = self.path_in(home)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def _verify(hub_url: str, ca_file: str | None) -> ssl.SSLContext | bool:
    if not hub_url.lower().startswith("https://") or not ca_file:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise SyncError(f"cannot use the CA file {ca_file}: {exc}") from exc


def _inflate(content: bytes) -> bytes:
    """A binary answer's msgpack bytes: zlib-compressed on the wire (plain msgpack is accepted too)."""
    if content[:1] != bytes([_ZLIB_FIRST_BYTE]):
        return content
    try:
        return sync.decompress(content)
    except sync.SyncError as exc:
        raise HubAnswerInvalid(f"the hub's answer is not a valid frame: {exc}") from exc


def unframe(content: bytes) -> Any:
    """Decode a binary answer (zlib-compressed msgpack)."""
    try:
        return sync.decode(_inflate(content))
    except sync.SyncError as exc:
        raise HubAnswerInvalid(f"the hub's answer is not a valid frame: {exc}") from exc


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError as exc:
        raise HubAnswerInvalid(f"the hub's {what} answer is not JSON: {exc}") from exc
    if not isinstance(answer, dict):
        raise HubAnswerInvalid(f"the hub's {what} answer is not a JSON object")
    return answer


PRESET_HEADER = "X-Rhip-Zdict"


class HubClient:
    """One node's connection to its hub. Not thread-safe: one sync round at a time uses it."""

    def __init__(
        self,
        hub_url: str,
        *,
        node_id: str,
        key: Ed25519PrivateKey | None,
        wall_ms: Callable[[], int],
        ca_file: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.node_id = node_id
        self._key = key
        self._wall_ms = wall_ms
        try:
            self._http = httpx.Client(
                base_url=self.hub_url,
                transport=transport,
                verify=_verify(hub_url, ca_file),
                timeout=httpx.Timeout(timeout_s, connect=15.0),
                headers={"User-Agent": "rhip-node"},
            )
        except (httpx.InvalidURL, ValueError) as exc:
            raise SyncError(f"hub URL {hub_url!r} is not usable: {exc}") from exc

    def close(self) -> None:
        self._http.close()

    # -- the API -----------------------------------------------------------------

    def enroll(self, *, token: str, clinic: str, name: str, public_key: bytes) -> dict[str, Any]:
        body = {
            "token": token,
            "node_id": self.node_id,
            "clinic": clinic,
            "name": name,
            "public_key": public_key.hex(),
        }
        response = self._send("POST", "/sync/v1/enroll", content=json.dumps(body).encode(), signed=False)
        try:
            answer = response.json()
        except ValueError as exc:
            raise HubAnswerInvalid(f"the hub's enrolment answer is not JSON: {exc}") from exc
        if not isinstance(answer, dict):
            raise HubAnswerInvalid("the hub's enrolment answer is not a JSON object")
        return answer

    def head(self, *, waiting: int | None = None) -> bytes:
        """The hub's signed head frame for this node's feed (not yet verified).

        ``waiting``: the records this node has not sent yet, for the hub's operators (signed,
        as part of the path).
        """
        params = None if waiting is None else {"waiting": waiting}
        return _inflate(self._send("GET", f"/sync/v1/feeds/{self.node_id}/head", params=params).content)

    def push(self, frames: list[bytes]) -> dict[str, Any]:
        """Send consecutive changeset frames in one POST (a batch when more than one).

        The hub's ``{"verdict", "head", "held"}`` (plus ``"verdicts"`` and, when it
        stopped early, ``"stopped"`` for a batch), not yet verified.
        """
        frame = frames[0] if len(frames) == 1 else sync.pack_batch(frames)
        response = self._send(
            "POST",
            f"/sync/v1/feeds/{self.node_id}/changesets",
            content=sync.compress(frame, preset=True),
            binary=True,
        )
        answer = unframe(response.content)
        if not (
            isinstance(answer, dict)
            and isinstance(answer.get("verdict"), str)
            and isinstance(answer.get("head"), bytes)
            and isinstance(answer.get("held", []), list)
            and isinstance(answer.get("verdicts", []), list)
        ):
            raise HubAnswerInvalid("the hub's answer to a changeset lacks verdict, head or held")
        return answer

    def pull(self, *, after: int, limit: int) -> list[bytes]:
        """Frames of this node's hub feed with seq > ``after`` (not yet verified)."""
        response = self._send("GET", f"/sync/v1/pull/{self.node_id}", params={"after": after, "limit": limit})
        frames = unframe(response.content)
        if not (isinstance(frames, list) and all(isinstance(f, bytes) for f in frames)):
            raise HubAnswerInvalid("the hub's pull answer is not a list of frames")
        return frames

    def held(self) -> list[dict[str, Any]]:
        """This node's records the hub holds back, with reasons."""
        try:
            items = self._send("GET", f"/sync/v1/held/{self.node_id}").json()
        except ValueError as exc:
            raise HubAnswerInvalid(f"the hub's held list is not JSON: {exc}") from exc
        if not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            raise HubAnswerInvalid("the hub's held list is not a list of objects")
        return items

    def summary(self, *, resident: str, reason: str, user: str) -> dict[str, Any]:
        """A visiting resident's shared summary, by card or identity number (the hub logs who and why)."""
        response = self._send(
            "GET",
            f"/sync/v1/summary/{self.node_id}",
            params={"resident": resident, "reason": reason, "user": user},
        )
        return _json_object(response, "shared summary")

    def break_glass(self, *, resident_id: str, reason: str, user: str) -> dict[str, Any]:
        """The sensitive records withheld from this node about a resident, once (logged, alerted)."""
        body = json.dumps({"resident_id": resident_id, "reason": reason, "user": user}).encode()
        response = self._send("POST", f"/sync/v1/break-glass/{self.node_id}", content=body)
        answer = _json_object(response, "break-glass")
        if not (
            isinstance(answer.get("records"), list) and all(isinstance(r, dict) for r in answer["records"])
        ):
            raise HubAnswerInvalid("the hub's break-glass answer lacks its records")
        return answer

    # -- one request ---------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        content: bytes = b"",
        signed: bool = True,
        binary: bool = False,
    ) -> httpx.Response:
        headers = {"Content-Type": FRAME_TYPE if binary else "application/json"} if content else {}
        headers[PRESET_HEADER] = "1"  # this node reads zlib streams with the preset dictionary
        request = self._http.build_request(method, path, params=params, content=content, headers=headers)
        if signed:
            if self._key is None:
                raise SyncError("this node's key is not loaded; requests to the hub cannot be signed")
            wall = self._wall_ms()
            signature = sync.sign_request(
                self._key,
                method=method,
                path=request.url.raw_path.decode("ascii"),
                node_id=self.node_id,
                wall_ms=wall,
                body=content,
            )
            request.headers["X-Rhip-Node"] = self.node_id
            request.headers["X-Rhip-Time"] = str(wall)
            request.headers["X-Rhip-Signature"] = signature.hex()
        try:
            response = self._http.send(request)
        except httpx.TimeoutException as exc:
            raise HubUnreachable(f"the hub at {self.hub_url} did not answer in time ({exc})") from exc
        except httpx.HTTPError as exc:
            raise HubUnreachable(f"cannot reach the hub at {self.hub_url}: {exc}") from exc
        if response.is_success:
            return response
        raise self._refusal(response)

    def _refusal(self, response: httpx.Response) -> SyncError:
        status = response.status_code
        detail, reason, expected = response.text[:200], "", None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            detail = str(body.get("detail") or detail)
            reason = str(body.get("reason") or "")
            raw = body.get("expected_seq")
            expected = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if status >= 500 or status in (408, 429):
            return HubUnreachable(f"the hub at {self.hub_url} failed ({status}): {detail}; try again later")
        return HubRefused(
            f"the hub refused ({status} {reason or 'refused'}): {detail}",
            reason=reason or f"http-{status}",
            status_code=status,
            expected_seq=expected,
        )
