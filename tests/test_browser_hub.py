"""The hub operators' console in a real browser: a real hub server (``rhip hub serve``, its own
process, on loopback) with two clinics enrolled through tokens from ``rhip hub enroll-token`` and
pushing signed changesets over HTTP, until the master index sends a registration to review; headless
Debian Chromium through Playwright opens the queue, compares both registrations side by side,
decides with the keyboard, and the item leaves the queue. Not one request leaves loopback.

Needs ``/usr/bin/chromium`` (``installers/bootstrap.sh`` installs it); skipped without it.
``python -m tests.test_browser_hub`` writes ``docs/screenshots/console.png`` and ``review.png``
with :func:`running_hub` and :func:`take_console_screenshots`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.testing import TestClient
from playwright.sync_api import expect

import schemas

from .cluster import REPO, HubProcess, checked, rhip, wall_ms
from .conftest import encounter_data
from .test_browser import CHROMIUM, LOOPBACK, browser
from .test_hub import Clinic, Clock

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (installers/bootstrap.sh installs it)"
    ),
]

NO_ID = next(iter(schemas.code_list("id_missing_reason").codes)).code
TWIN = {"sex": "1", "birth": "2015-06-01", "id_number": None, "id_number_missing": NO_ID}
FIRST, SECOND = "张文杰", "张文涛"  # twin brothers, registered at two clinics


@dataclass(frozen=True)
class HubConsole:
    url: str
    home: Path
    review_id: int  # the open review item: SECOND's registration, FIRST's the candidate


def _as_test_client(http: httpx.Client) -> TestClient[Any]:
    """``test_hub.Clinic`` talks to a TestClient, an ``httpx.Client``: here, one to the real server."""
    return cast("TestClient[Any]", http)


def _clinic(http: httpx.Client, home: Path, code: str) -> Clinic:
    """A clinic node enrolled with a token from ``rhip hub enroll-token``, over HTTP."""
    token = checked(rhip("hub", "enroll-token", "--home", home, "--clinic", code)).stdout.split()[-1]
    clinic = Clinic(code, Clock(wall_ms()))
    r = clinic.enrol(_as_test_client(http), token)
    assert r.status_code == 201, r.text
    return clinic


def _push(http: httpx.Client, clinic: Clinic, *records: dict[str, object]) -> None:
    clinic.clock.ms = wall_ms()
    r = clinic.push(_as_test_client(http), clinic.seal(*records))
    assert r.status_code == 200, r.text


def _open_review(db: Path, *, timeout_s: float = 60) -> int:
    """The open review item's id, once the hub's background linker has made it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT id FROM mpi_review WHERE status = 'open' ORDER BY id").fetchone()
        finally:
            conn.close()
        if row is not None:
            return int(row[0])
        time.sleep(0.1)
    raise AssertionError(f"the hub made no review item in {timeout_s:.0f} s")


@contextlib.contextmanager
def running_hub(root: Path) -> Iterator[HubConsole]:
    """A hub served on a free loopback port, two clinics enrolled, one registration open for review."""
    home = root / "hub"
    checked(rhip("hub", "init", "--home", home, "--region", "511321"))
    hub = HubProcess(home).start()
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            a, b = _clinic(http, home, "511321100"), _clinic(http, home, "511321101")
            first = a.resident(name=FIRST, phone="13700001111", **TWIN)
            _push(http, a, first, a.encounter(first))
            _push(http, a, *(a.resident(name=n) for n in ("李秀兰", "王强", "赵敏")))
            held = a.envelope("encounter", {"visit_time": "yesterday"}, resident_id=first["id"], check=False)
            _push(http, a, held, a.envelope("encounter", encounter_data(), resident_id=first["id"]))
            _push(http, b, b.resident(name=SECOND, phone="13700001111", **TWIN))
        yield HubConsole(url=hub.url, home=home, review_id=_open_review(hub.db_path))
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubConsole]:
    with running_hub(tmp_path_factory.mktemp("browser-hub")) as c:
        yield c


def test_operator_decides_a_review_item_side_by_side_with_the_keyboard(console: HubConsole) -> None:
    url, item_id = console.url, console.review_id
    requested: list[str] = []
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.on("request", lambda r: requested.append(r.url))

        page.goto(f"{url}/console")
        expect(page.locator("h1")).to_have_text("节点")
        expect(page.locator('li[data-kind="review"]')).to_contain_text("1 项待审核")
        page.locator('li[data-kind="review"] a').click()
        expect(page).to_have_url(f"{url}/console/review")
        expect(page.locator("h1")).to_have_text("主索引待审核队列")

        # Both registrations side by side, field by field.
        item = page.locator(f"#item-{item_id}")
        names = item.locator('tr[data-field="name"]')
        expect(names.locator("td.ours")).to_have_text(SECOND)
        expect(names.locator("td.theirs")).to_have_text(FIRST)
        births = item.locator('tr[data-field="birth_date"]')
        expect(births.locator("td.ours")).to_have_text("2015-06-01")
        expect(births.locator("td.theirs")).to_have_text("2015-06-01")

        # Decide with the keyboard: the radio group, then name and reason, Enter submits.
        page.locator(f"#same-{item_id}").focus()
        page.keyboard.press("ArrowRight")  # → "different people"
        expect(page.locator(f"#different-{item_id}")).to_be_checked()
        page.keyboard.press("Tab")
        expect(page.locator(f"#by-{item_id}")).to_be_focused()
        page.keyboard.type("王丽")
        page.keyboard.press("Tab")
        page.keyboard.type("双胞胎，名字不同")
        page.keyboard.press("Enter")

        expect(page).to_have_url(f"{url}/console/review?decided={item_id}")
        expect(page.locator("#decided")).to_contain_text(f"审核项 {item_id} 已决定：不是同一人")
        expect(page.locator("#decided")).to_contain_text("王丽")
        expect(page.locator(f"#item-{item_id}")).to_have_count(0)
        expect(page.locator("#empty")).to_be_visible()
        expect(page.locator(".top .who")).to_contain_text("王丽")  # remembered for the next one

        # The other pages, in English.
        page.goto(f"{url}/console/charts?lang=en")
        expect(page.locator("h1")).to_have_text("Sync volume and lag")
        expect(page.locator("#volume rect.bar").first).to_be_visible()
        page.close()

    conn = sqlite3.connect(f"file:{console.home / 'hub.db'}?mode=ro", uri=True)
    try:
        decided = conn.execute(
            "SELECT status, outcome, decided_by, why FROM mpi_review WHERE id = ?", (item_id,)
        ).fetchone()
    finally:
        conn.close()
    assert decided == ("decided", "different", "王丽", "双胞胎，名字不同")

    assert requested, "the browser recorded no requests"
    elsewhere = [u for u in requested if urlsplit(u).scheme not in ("data", "blob", "about")]
    elsewhere = [u for u in elsewhere if urlsplit(u).hostname not in LOOPBACK]
    assert elsewhere == [], f"requests left loopback: {elsewhere}"


def take_console_screenshots(out_dir: Path) -> list[Path]:
    """Write ``console.png`` (the nodes) and ``review.png`` (the queue) of a freshly made hub."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = [("console.png", "/console"), ("review.png", "/console/review")]
    written = []
    with tempfile.TemporaryDirectory() as root, running_hub(Path(root)) as hub, browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        for name, path in shots:
            page.goto(hub.url + path)
            target = out_dir / name
            page.screenshot(path=str(target), full_page=True)
            written.append(target)
        page.close()
    return written


if __name__ == "__main__":
    for shot in take_console_screenshots(REPO / "docs" / "screenshots"):
        print(shot)
