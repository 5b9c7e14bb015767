"""A clinic's day in a real browser, against real servers on loopback: a hub process behind a fault
proxy, an enrolled node process with the registration desk's card reader (pcscd, the vpcd virtual
reader and the card emulator), driven by headless Debian Chromium through Playwright.

- a whole visit, from the card at the desk to the pharmacy window;
- going offline and back: the hub unreachable, work going on, and the changes sent once it is back.

Needs ``/usr/bin/chromium`` and the PC/SC stack (``installers/bootstrap.sh``, ``installers/pcscd.sh``).
SYNTHETIC DATA ONLY. Nothing here asserts on wall-clock time; waits have generous ceilings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

import cardreader as cr
from node import NodeHome

from .cardkit import pcscd_turn
from .cluster import RHIP, Cluster, NodeProcess, checked, child_env, free_port, rhip, stop_process
from .test_browser import CHROMIUM, LOOPBACK, browser, wait_up

PASSWORD = "browser-visit-2026"
STAFF = ("clerk", "nurse", "doctor", "pharmacist")
CLINIC = "511321100"
READER, VPCD_PORT = "Virtual PCD 00 00", 35963
WAIT_MS = 30_000  # background sync rounds and pcscd's polling: generous, never asserted on

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("pcscd"),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (installers/bootstrap.sh installs it)"
    ),
]


@dataclass(frozen=True)
class Holder:
    """The synthetic resident whose health card is issued for the desk."""

    resident_id: str
    name: str
    id_number: str


@dataclass
class Clinic:
    cluster: Cluster
    node: NodeProcess
    url: str
    holder: Holder
    card: Path  # the card image the hub issued

    def hub_has(self, record_id: str) -> bool:
        return bool(self.cluster.hub.scalar("SELECT count(*) FROM records WHERE id = ?", record_id))


def _holder(db_path: Path) -> Holder:
    """A living adult with an identity number and an allergy on record (deterministic per seed)."""
    db = sqlite3.connect(db_path)
    try:
        row = db.execute(
            "SELECT r.id, r.name, r.id_number FROM residents r "
            "WHERE r.id_number IS NOT NULL AND r.deceased_on IS NULL AND r.birth_date < '1990-01-01' "
            "AND EXISTS (SELECT 1 FROM records a WHERE a.resident_id = r.id AND a.type = 'allergy') "
            "ORDER BY r.id LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    assert row is not None, "the synthetic township has no adult with an allergy"
    return Holder(*row)


@contextlib.contextmanager
def running_clinic(root: Path, *, card_reader: str = "none") -> Iterator[Clinic]:
    """A hub, and a synthetic township's node enrolled through the fault proxy and serving its pages.

    A node watching a card reader holds the machine's pcscd turn for as long as it runs: its desk
    reader reads every card put into that reader, other tests' cards included.
    """
    held = contextlib.ExitStack()
    cluster = Cluster(root)
    proc: subprocess.Popen[bytes] | None = None
    try:
        node = cluster.add_node(CLINIC, cli=True)
        checked(rhip("synth", "--home", node.path, "--residents", "150", "--years", "1", "--seed", "5"))
        pw = root / "password.txt"
        pw.write_text(PASSWORD + "\n", encoding="utf-8")
        pw.chmod(0o600)
        for role in STAFF:
            checked(
                rhip("node", "add-user", "--home", node.path, "--user", role, "--role", role,
                     "--password-file", pw, "--display-name", f"{role}-demo")
            )  # fmt: skip
        config_path = node.path / "config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["sync_interval_s"] = 2  # the background sync notices the hub leaving and coming back
        config_path.write_text(json.dumps(config), encoding="utf-8")
        cluster.converge([node])
        holder = _holder(node.db_path)
        card = root / "desk.card.json"
        checked(rhip("card", "issue", "--home", cluster.hub.home, "--id-number", holder.id_number,
                     "--out", card))  # fmt: skip
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        if card_reader != "none":
            held.enter_context(pcscd_turn())
        with (root / "node.log").open("ab") as log:
            proc = subprocess.Popen(
                [*RHIP, "node", "serve", "--home", str(node.path), "--port", str(port),
                 "--card-reader", card_reader],
                stdout=subprocess.DEVNULL, stderr=log, env=child_env(),
            )  # fmt: skip
        wait_up(url, proc, root / "node.log")
        yield Clinic(cluster, node, url, holder, card)
    finally:
        if proc is not None:
            stop_process(proc)
        cluster.close()
        held.close()


def log_in(page: Page, url: str, user: str, *, then: str = "/desk") -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/login?next={then}")
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page).to_have_url(url + then)


def only_loopback(requested: list[str]) -> list[str]:
    """The requests that left loopback (should be none)."""
    assert requested, "the browser recorded no requests"
    kept = [u for u in requested if urlsplit(u).scheme not in ("data", "blob", "about")]
    return [u for u in kept if urlsplit(u).hostname not in LOOPBACK]


# -- going offline and back --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    with running_clinic(tmp_path_factory.mktemp("browser-visit"), card_reader=READER) as c:
        yield c


def test_going_offline_and_back(clinic: Clinic) -> None:
    requested: list[str] = []
    with browser() as b:
        page = b.new_page(viewport={"width": 1280, "height": 860}, locale="en-GB")
        page.on("request", lambda r: requested.append(r.url))
        log_in(page, clinic.url, "clerk")
        bar = page.locator("#sync-bar")
        expect(bar).to_contain_text("Online", timeout=WAIT_MS)

        # The link to the hub goes down: the background sync fails and the bar says so by itself.
        clinic.cluster.proxy.set(refuse=True)
        clinic.cluster.proxy.drop_all()
        expect(bar).to_contain_text("Offline", timeout=WAIT_MS)
        page.goto(f"{clinic.url}/sync")
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator(".outcome")).to_contain_text("The hub cannot be reached", timeout=WAIT_MS)

        # Work goes on: a new resident registered offline waits to be sent.
        page.goto(f"{clinic.url}/residents/new")
        page.fill("#name", "欧阳晓梅")
        page.select_option("#sex", "2")
        page.fill("#birth_date", "19880615")
        page.select_option("#id_number_missing", index=1)
        page.select_option("#division_code", index=1)
        page.fill("#phone", "13800001234")
        page.get_by_role("button", name="Register").click()
        expect(page.locator("#person-name")).to_have_text("欧阳晓梅")
        resident_id = urlsplit(page.url).path.rsplit("/", 1)[-1]
        assert not clinic.hub_has(resident_id)
        expect(page.locator("#sync-bar .pending")).not_to_have_text("0", timeout=WAIT_MS)

        # The link comes back: the next round sends it, and the bar is online with nothing waiting.
        clinic.cluster.proxy.set(refuse=False)
        expect(bar).to_contain_text("Online", timeout=WAIT_MS)
        expect(page.locator("#sync-bar .pending")).to_have_text("0", timeout=WAIT_MS)
        assert clinic.hub_has(resident_id)
        page.close()
    assert only_loopback(requested) == []


# -- a whole visit, from the card at the desk to the pharmacy -----------------------------------------


def visit_step(page: Page) -> str:
    step = page.locator("#visit-step").get_attribute("data-step")
    assert step is not None
    return step


def whole_visit(page: Page, clinic: Clinic, shots: Path | None = None) -> str:
    """Card at the desk → check-in → triage → consultation → cashier → pharmacy → finish; the visit's path.

    ``shots``: a folder to save the main pages' screenshots in (``docs/screenshots/take.py``).
    """

    def shot(name: str) -> None:
        if shots is not None:
            page.screenshot(path=shots / f"{name}.png", full_page=False)

    url = clinic.url
    # The clerk at the registration desk: the reader is ready; the resident hands over their card.
    log_in(page, url, "clerk")
    expect(page.locator("#card-reader .card-state.ready")).to_be_visible(timeout=WAIT_MS)
    with cr.Emulator.from_image(clinic.card, port=VPCD_PORT):
        # The card opens its holder by itself: no key pressed, no name typed.
        expect(page.locator("#person-name")).to_have_text(clinic.holder.name, timeout=WAIT_MS)
        assert "/desk/card/" in page.url
        panel = page.locator("section.card-panel")
        expect(panel).to_be_visible()
        expect(panel.locator(".withheld")).to_be_visible()  # a clerk does not read clinical data
        # Check in from the visit panel on the resident page.
        page.locator("#department").select_option(index=1)
        page.locator("#checkin-submit").click()
        expect(page).to_have_url(re.compile(r"/visits/[^/]+$"))
        visit_path = urlsplit(page.url).path
        assert visit_step(page) == "registered"

        # The nurse at the triage desk: the card still in the reader is offered; opening it shows
        # the card's emergency data first, with its allergies.
        log_in(page, url, "nurse")
        page.locator("#open-card").click()
        panel = page.locator("section.card-panel")
        expect(panel.locator(".blood")).to_be_visible()
        expect(panel.locator("li.allergy").first).to_be_visible()
        expect(page.locator("#person-name")).to_have_text(clinic.holder.name)
        shot("card-desk")

    # The nurse triages: vitals.
    page.goto(f"{url}/queue")
    page.locator(f'main a[href^="{visit_path}"]').first.click()
    page.fill("#temperature_c", "38.4")
    page.fill("#systolic", "132")
    page.fill("#diastolic", "84")
    page.fill("#pulse", "92")
    page.locator("#triage-submit").click()
    expect(page.locator("#visit-step")).to_have_attribute("data-step", "waiting")

    # The doctor: the allergy on record in view, calls the resident in, records the consultation.
    log_in(page, url, "doctor", then=visit_path)
    page.locator("#call-submit").click()
    expect(page.locator("#visit-step")).to_have_attribute("data-step", "in_consultation")
    page.fill("#chief_complaint", "发热、咽痛两天")
    page.locator("#icd10_q").press_sequentially("J06")
    page.locator("#icd10-hits button.suggestion").first.click()
    expect(page.locator("#diagnoses li.diagnosis")).to_have_count(1)
    page.locator("#diagnoses input[type=radio]").first.check()
    page.locator("#drug_q").press_sequentially("amox")
    page.locator("#drug-hits button.suggestion").first.click()
    line = page.locator("#rx-lines fieldset.rx-line").first
    expect(line).to_be_visible()
    line.locator("legend input[type=checkbox]").check()
    for field in ("dose", "days", "quantity"):
        box = line.locator(f'input[name$=".{field}"]')
        if not box.input_value():
            box.fill({"dose": "0.5", "days": "3", "quantity": "1"}[field])
    for field in ("dose_unit", "route", "frequency"):
        select = line.locator(f'select[name$=".{field}"]')
        if not select.input_value():
            select.select_option(index=1)
    shot("consultation")
    page.locator("#consult-submit").click()
    expect(page.locator("#visit-step")).to_have_attribute("data-step", "awaiting_payment", timeout=WAIT_MS)

    # The cashier: the bill with the insurance share, the payment, the receipt.
    log_in(page, url, "clerk", then="/cashier")
    page.locator(f'main a[href^="{visit_path}"]').first.click()
    expect(page.locator("#pay-submit")).to_be_visible()
    shot("cashier")
    page.locator("#pay-submit").click()
    expect(page.locator("#payments .receipt")).to_have_count(1)
    expect(page.locator("#visit-step")).to_have_attribute("data-step", "awaiting_dispensing")

    # The pharmacy window hands over what was paid for.
    log_in(page, url, "pharmacist", then="/pharmacy")
    page.locator(f'main a[href^="{visit_path}"]').first.click()
    shot("pharmacy")
    page.locator("#dispense-submit-1").click()
    expect(page.locator("#visit-step")).to_have_attribute("data-step", "paid")

    # The desk closes the visit with the resident's card back in the reader: the visit goes onto it.
    log_in(page, url, "clerk", then=visit_path)
    with cr.Emulator.from_image(clinic.card, port=VPCD_PORT):
        offered = page.locator("#write-card")
        for _ in range(WAIT_MS // 500):  # the desk reader reads the card within a poll or two
            if offered.count():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(offered).to_be_checked()
        page.locator("#finish-submit").click()
        expect(page.locator("#card-outcome")).to_have_class(re.compile(r"\bcard-written\b"))
    expect(page.locator("#visit-step")).to_have_attribute("data-step", "done")
    return visit_path


def card_visits(clinic: Clinic) -> tuple[cr.Visit, ...]:
    """The recent visits on the resident's card (its image file), checked against the hub's key."""
    files = cr.read_files(cr.Channel(cr.VirtualCard(cr.CardImage.load(clinic.card)).process))
    trust = NodeHome.open(clinic.node.path).card_trust()
    return cr.open_card(files, trust=trust, today=dt.date.today()).content.visits


def test_a_whole_visit_from_the_card_at_the_desk_to_the_pharmacy(clinic: Clinic) -> None:
    requested: list[str] = []
    started, before = dt.date.today(), card_visits(clinic)
    with browser() as b:  # the clinic's node holds the pcscd turn
        page = b.new_page(viewport={"width": 1280, "height": 860}, locale="en-GB")
        page.on("request", lambda r: requested.append(r.url))
        whole_visit(page, clinic)
        # The visit's records reach the hub on the next background round.
        expect(page.locator("#sync-bar .pending")).to_have_text("0", timeout=WAIT_MS)
        page.close()
    dispensed = clinic.cluster.hub.scalar(
        "SELECT count(*) FROM records WHERE type = 'dispense' AND resident_id = ?", clinic.holder.resident_id
    )
    assert dispensed == 1
    # The card the resident takes home holds this visit (the emulator saved what was written).
    new = [v for v in card_visits(clinic) if v not in before]
    assert [(v.clinic, v.diagnoses[0][:3]) for v in new] == [(CLINIC, "J06")]
    assert started <= new[0].on <= dt.date.today()
    assert only_loopback(requested) == []
