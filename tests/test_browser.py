"""The clinic's pages in a real browser: a real node server (its own process, on loopback) driven by
headless Debian Chromium through Playwright — log in, search as you type (htmx), Enter opens the
first resident, switch language, the sync bar; and not one request leaves loopback.

Needs ``/usr/bin/chromium`` (``installers/bootstrap.sh`` installs it); skipped without it.
``docs/screenshots/take.py`` reuses :func:`running_node` and :func:`browser` for the screenshots.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CLERK, PASSWORD = "clerk", "browser-test-2026"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
NODE_SERVE = [sys.executable, "-m", "cli", "node", "serve"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (installers/bootstrap.sh installs it)"
    ),
]


@dataclass(frozen=True)
class Node:
    url: str
    initials: str  # pinyin initials of a synthetic resident, to type in the desk search


def _rhip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cli", *args], check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _initials(home: Path) -> str:
    """Pinyin initials to type: those of the resident with the most records (deterministic per seed)."""
    db = sqlite3.connect(home / "node.db")
    try:
        row = db.execute(
            "SELECT k.key FROM search_keys k JOIN records r ON r.resident_id = k.resident_id "
            "WHERE k.kind = 'initials' GROUP BY k.resident_id, k.key ORDER BY count(*) DESC, k.key LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    assert row is not None, "the synthetic township has no resident with records"
    return str(row[0])


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the node server at ``url`` answers; its log if it exits first."""
    for _ in range(600):  # up to ~60 s to come up; not an assertion on time
        assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"the node did not answer at {url}/healthz")


@contextlib.contextmanager
def running_node(root: Path) -> Iterator[Node]:
    """A fresh, not enrolled node with 200 synthetic residents and a clerk, served on a free port."""
    home = root / "clinic"
    _rhip("node", "init", "--home", str(home), "--clinic", "511321100", "--name", "南隆镇卫生院")
    _rhip("synth", "--home", str(home), "--residents", "200", "--years", "1", "--seed", "1")
    pw = root / "password.txt"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    pw.chmod(0o600)
    _rhip(
        "node",
        "add-user",
        "--home",
        str(home),
        "--user",
        CLERK,
        "--role",
        "clerk",
        "--password-file",
        str(pw),
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with (root / "node.log").open("ab") as log:
        proc = subprocess.Popen(
            # No card reader: the card tests own the virtual readers (a watcher would read their cards).
            [*NODE_SERVE, "--home", str(home), "--port", str(port), "--card-reader", "none"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_up(url, proc, root / "node.log")
        yield Node(url=url, initials=_initials(home))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright's own browsers are never downloaded here)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("browser")) as n:
        yield n


def test_clerk_finds_and_opens_a_resident(node: Node) -> None:
    requested: list[str] = []
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.on("request", lambda r: requested.append(r.url))

        page.goto(f"{node.url}/desk")
        expect(page).to_have_url(f"{node.url}/login?next=/desk")
        page.fill("#user", CLERK)
        page.fill("#password", PASSWORD)
        page.click("form.login button[type=submit]")
        expect(page).to_have_url(f"{node.url}/desk")
        expect(page.locator("h1")).to_have_text("挂号台")

        # The sync bar: this node never enrolled, so it works offline.
        expect(page.locator("#sync-bar")).to_contain_text("离线：未注册到区域平台")

        # Type the initials: htmx fetches the hits into #results as the clerk types.
        page.locator("#q").press_sequentially(node.initials)
        first = page.locator("#results ol.hits li a").first
        expect(first).to_be_visible()
        name = first.locator(".name").inner_text()
        href = first.get_attribute("href")
        assert href is not None and href.startswith("/residents/")

        # Enter opens the first match: the resident page with the health file tree.
        page.locator("#q").press("Enter")
        expect(page).to_have_url(node.url + href)
        expect(page.locator("#person-name")).to_have_text(name)
        expect(page.locator("#tree-title")).to_have_text("健康档案")
        expect(page.locator("section.tree")).to_be_visible()

        # ?lang=en switches to English, and the choice sticks on the next page.
        page.goto(page.url + "?lang=en")
        expect(page.locator("#tree-title")).to_have_text("Health file")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.goto(f"{node.url}/desk")
        expect(page.locator("h1")).to_have_text("Registration desk")
        expect(page.locator("#sync-bar")).to_contain_text("Offline: not enrolled with a hub")
        page.close()

    assert requested, "the browser recorded no requests"
    elsewhere = [u for u in requested if urlsplit(u).scheme not in ("data", "blob", "about")]
    elsewhere = [u for u in elsewhere if urlsplit(u).hostname not in LOOPBACK]
    assert elsewhere == [], f"requests left loopback: {elsewhere}"
