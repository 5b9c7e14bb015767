"""Retake the README's screenshots (1280x860) of the main pages, with synthetic residents only.

Runs the flows the browser tests check, headless Debian Chromium against real servers on loopback:

- ``tests/test_browser.py``: the desk with hits, a resident's page, the sync page (``desk``,
  ``resident``, ``sync``);
- ``tests/test_browser_visit.py``: a card at the desk opening its holder, the consultation, the
  cashier, the pharmacy (``card-desk``, ``consultation``, ``cashier``, ``pharmacy``; needs pcscd);
- ``tests/test_browser_hub.py``: the hub's console and its review queue (``console``, ``review``).

    .venv/bin/python docs/screenshots/take.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from playwright.sync_api import expect  # noqa: E402

from tests.test_browser import CLERK, PASSWORD, browser, running_node  # noqa: E402
from tests.test_browser_hub import take_console_screenshots  # noqa: E402
from tests.test_browser_visit import READER, running_clinic, whole_visit  # noqa: E402

VIEWPORT = {"width": 1280, "height": 860}


def desk_resident_sync() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="rhip-shots-") as tmp,
        running_node(Path(tmp)) as node,
        browser() as b,
    ):
        page = b.new_page(viewport=VIEWPORT, locale="zh-CN")
        page.goto(f"{node.url}/login?next=/desk")
        page.fill("#user", CLERK)
        page.fill("#password", PASSWORD)
        page.click("form.login button[type=submit]")
        expect(page).to_have_url(f"{node.url}/desk")
        page.locator("#q").press_sequentially(node.initials)
        expect(page.locator("#results ol.hits li a").first).to_be_visible()
        page.screenshot(path=HERE / "desk.png")
        page.locator("#q").press("Enter")
        expect(page.locator("#tree-title")).to_be_visible()
        page.screenshot(path=HERE / "resident.png")
        page.goto(f"{node.url}/sync")
        expect(page.locator("#sync-bar")).to_be_visible()
        page.screenshot(path=HERE / "sync.png")
        page.close()


def visit() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="rhip-shots-") as tmp,
        running_clinic(Path(tmp), card_reader=READER) as clinic,  # holds the pcscd turn
        browser() as b,
    ):
        page = b.new_page(viewport=VIEWPORT, locale="zh-CN")
        whole_visit(page, clinic, shots=HERE)
        page.close()


def main() -> None:
    desk_resident_sync()
    visit()
    take_console_screenshots(HERE)
    print(f"saved the screenshots in {HERE}")


if __name__ == "__main__":
    main()
