"""Retake the README's screenshots (1280x800): the desk with hits, a resident's page, the sync page.

Runs the same flow as ``tests/test_browser.py`` (a fresh synthetic node, headless Debian Chromium):

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


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="rhip-shots-") as tmp,
        running_node(Path(tmp)) as node,
        browser() as b,
    ):
        page = b.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
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
    print(f"saved desk.png, resident.png and sync.png in {HERE}")


if __name__ == "__main__":
    main()
