"""Shared fixtures: real node homes on disk, the real app, staff of every role."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

import schemas
from node import NodeHome, NodeStore, Role, add_user, create_app, init_home, issue_token

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse ``--dist loadgroup`` with a pytest that makes it stop grouping.

    The card tests share the machine's one pcscd and its vpcd readers (``xdist_group("pcscd")``).
    pytest-xdist groups a test by suffixing its node id with ``@group``; pytest 9.2 stores node ids
    so that the suffix is silently lost (pytest-xdist issue 1386), and the group's tests would run
    on both workers at once, reading each other's cards.
    """
    if config.getoption("dist", "no") != "loadgroup":
        return
    pytest_version = tuple(int(p) for p in pytest.__version__.split(".")[:2] if p.isdigit())
    xdist_version = tuple(int(p) for p in version("pytest-xdist").split(".")[:2] if p.isdigit())
    if pytest_version >= (9, 2) and xdist_version <= (3, 8):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {version('pytest-xdist')} does not group "
            "tests under --dist loadgroup (the card tests would share pcscd at once): "
            "install the versions pinned in pyproject.toml (installers/bootstrap.sh)"
        )


def village_code() -> str:
    return next(c.code for c in schemas.code_list("division").codes if len(c.code) == 12)


def id_number(birth: str, sex: str, seq: int | None = None) -> str:
    """A valid 18-digit number for the demo county (address 511321)."""
    n = next(_seq) if seq is None else seq
    order = (n * 2 + (1 if sex == "1" else 0)) % 1000  # odd for men, even for women
    body = f"511321{birth.replace('-', '')}{order:03d}"
    return body + schemas.check_digit(body)


def resident_data(
    name: str = "张三", *, birth: str = "1970-05-12", sex: str = "1", **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "sex": sex,
        "birth_date": birth,
        "id_number": id_number(birth, sex),
        "address": {"division_code": village_code()},
        "phone": f"139{next(_seq):08d}",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def encounter_data(when: str = "2026-03-02T09:30:00", icd10: str = "J06.9") -> dict[str, Any]:
    return {
        "visit_time": when,
        "chief_complaint": "发热、咳嗽2天",
        "vitals": {"temperature_c": 38.4, "pulse": 92, "systolic": 128, "diastolic": 82},
        "diagnoses": [{"icd10": icd10, "primary": True}],
        "charges": [{"item": "诊查费", "category": "consultation", "unit_price": "10.00"}],
    }


def prescription_data(when: str = "2026-03-02T09:40:00") -> dict[str, Any]:
    drug = next(c for c in schemas.code_list("drug").codes if c.extra.get("form") == "tablet")
    return {
        "prescribed_at": when,
        "items": [
            {
                "drug": drug.code,
                "dose": "1",
                "dose_unit": drug.extra.get("dose_unit", "tab"),
                "route": "po",
                "frequency": "tid",
                "days": 3,
                "quantity": 9,
            }
        ],
    }


@pytest.fixture
def home(tmp_path: Path) -> NodeHome:
    return init_home(tmp_path / "clinic", clinic="511321100", name="南隆镇卫生院")


@pytest.fixture
def store(home: NodeHome) -> Iterator[NodeStore]:
    db = home.database()
    # The store's "today" comes from the same wall clock the API stamps records with: a fixed date
    # here made records stamped "now" look like the future once the real date passed it.
    yield NodeStore(db, node_id=home.node_id)
    db.close()


@pytest.fixture(scope="session")
def password_hash(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One real Argon2id hash of PASSWORD, made through add_user once per test session."""
    from node import Database

    db = Database(tmp_path_factory.mktemp("kdf") / "node.db")
    add_user(db, "someone", "doctor", PASSWORD)
    value: str = db.writer.execute("SELECT password_hash FROM users").fetchone()[0]
    db.close()
    return value


@pytest.fixture
def staff_tokens(store: NodeStore, password_hash: str) -> dict[str, str]:
    """One account (password PASSWORD) and bearer token per role, named after the role."""
    tokens = {}
    with store.db.write() as conn:  # the slow KDF ran once for the session; reuse its hash
        for role in Role:
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, '2026-01-01')",
                (role.value, role.value, password_hash),
            )
    for role in Role:
        tokens[role.value] = issue_token(store.db, role.value, kind="bearer")
    return tokens


@pytest.fixture
def client(store: NodeStore, home: NodeHome) -> Iterator[TestClient[Any]]:
    app = create_app(store.db, store, clinic=home.clinic, name=home.name)
    with TestClient(app=app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class HubTransport(httpx.BaseTransport):
    """A node's requests handed to the real hub app in this process, byte for byte; ``down`` cuts the link."""

    def __init__(self, hub: TestClient[Any]) -> None:
        self.hub = hub
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is unreachable", request=request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        r = self.hub.request(
            request.method, request.url.raw_path.decode("ascii"), content=request.read(), headers=headers
        )
        keep = [
            (k, v) for k, v in r.headers.items() if k.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(r.status_code, headers=keep, content=r.content)
