"""The card through the real PC/SC stack: pyscard → pcscd → the vpcd driver → the emulator.

Only one pcscd runs on a machine, so every test here takes its turn
(``pcscd_turn``: a file lock, and one xdist group under ``--dist loadgroup``).
Nothing here asserts on wall-clock time. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import cardreader as cr
from node import init_home

from .cardkit import OWNED, READERS, ROOT, Issuer, ensure_pcscd, pcscd_pid, pcscd_turn, sample

pytestmark = pytest.mark.xdist_group("pcscd")

cardpcsc = pytest.importorskip("cardreader.pcsc")
ISSUER = Issuer()
A, B = 35963, 35964


@pytest.fixture(autouse=True)
def turn() -> Iterator[None]:
    with pcscd_turn():
        yield


@pytest.fixture
def monitor() -> Iterator[cardpcsc.CardMonitor]:
    with cardpcsc.CardMonitor(poll_ms=200) as m:
        m.wait_for(lambda e: isinstance(e, cr.ReaderAttached) and e.reader == READERS[B], 10)
        yield m


def inserted(monitor: cardpcsc.CardMonitor, port: int) -> cr.CardInserted:
    event = monitor.wait_for(lambda e: isinstance(e, cr.CardInserted) and e.reader == READERS[port], 10)
    assert isinstance(event, cr.CardInserted)
    return event


def withdrawn(monitor: cardpcsc.CardMonitor, port: int) -> cr.CardEvent:
    return monitor.wait_for(lambda e: isinstance(e, cr.CardWithdrawn) and e.reader == READERS[port], 10)


def read_in(reader: str) -> cr.CardRead:
    with cardpcsc.PcscCard(reader) as card:
        files = cr.read_files(cr.Channel(card.transmit))
    return cr.open_card(files, trust=ISSUER.trust, today=sample().issuer.issued_on)


def test_readers_are_found_and_insert_and_remove_are_reported(monitor: cardpcsc.CardMonitor) -> None:
    assert set(READERS.values()) <= set(cardpcsc.list_readers())
    with cr.Emulator(cr.VirtualCard(ISSUER.image(sample())), port=A):
        event = inserted(monitor, A)
        assert event.atr == cr.HEALTH_CARD_ATR
        got = read_in(event.reader)
        assert got.content == sample() and got.apdus > 0
    withdrawn(monitor, A)
    with pytest.raises(cr.NoCard):
        cardpcsc.PcscCard(READERS[A])


def test_two_readers_at_once_each_with_its_own_card(monitor: cardpcsc.CardMonitor) -> None:
    first, second = sample(card_number="SC1001000000001"), sample(card_number="SC1001000000002")
    with (
        cr.Emulator(cr.VirtualCard(ISSUER.image(first)), port=A),
        cr.Emulator(cr.VirtualCard(ISSUER.image(second), get_response=True, chunk=64), port=B),
    ):
        seen: set[str] = set()
        monitor.wait_for(
            lambda e: isinstance(e, cr.CardInserted) and seen.add(e.reader) is None and len(seen) == 2, 10
        )
        assert seen == {READERS[A], READERS[B]}
        assert read_in(READERS[B]).content.issuer.card_number == "SC1001000000002"  # the T=0 card
        assert read_in(READERS[A]).content.issuer.card_number == "SC1001000000001"


def test_a_card_pulled_out_mid_read_is_reported_not_crashed(monitor: cardpcsc.CardMonitor) -> None:
    with cr.Emulator(cr.VirtualCard(ISSUER.image(sample())), port=A, pull_after=4):
        inserted(monitor, A)
        with pytest.raises(cr.CardRemoved, match="taken out before the read finished"):
            read_in(READERS[A])
    withdrawn(monitor, A)


def test_cards_of_another_kind_forged_expired_and_blocked_each_have_their_message(
    monitor: cardpcsc.CardMonitor,
) -> None:
    blocked = ISSUER.image(sample())
    blocked.state = "blocked"
    cases: list[tuple[cr.CardImage, type[cr.CardError], str]] = [
        (cr.CardImage.foreign(), cr.NotAHealthCard, "not a resident health card"),
        (Issuer().image(sample()), cr.CardForged, "not issued under this region"),
        (ISSUER.image(sample(expires=sample().issuer.issued_on.replace(day=2))), cr.CardExpired, "expired"),
        (blocked, cr.CardBlocked, "blocked by its issuer"),
    ]
    for image, error, message in cases:
        with cr.Emulator(cr.VirtualCard(image), port=A):
            inserted(monitor, A)
            with pytest.raises(error, match=message):
                with cardpcsc.PcscCard(READERS[A]) as card:
                    files = cr.read_files(cr.Channel(card.transmit))
                cr.open_card(files, trust=ISSUER.trust, today=sample().issuer.expires_on.replace(year=2030))
        withdrawn(monitor, A)


def test_a_visit_written_at_the_desk_is_saved_to_the_image_file(
    monitor: cardpcsc.CardMonitor, tmp_path: Path
) -> None:
    path = tmp_path / "card.json"
    ISSUER.image(sample(visits=1)).save(path)
    visit = cr.Visit(sample().issuer.issued_on, "511321100", "南隆镇卫生院", ("J20.9",), ())
    with cr.Emulator.from_image(path, port=A):
        inserted(monitor, A)
        with cardpcsc.PcscCard(READERS[A]) as card:
            cr.append_visit(cr.Channel(card.transmit), visit, card_number=sample().issuer.card_number)
    saved = cr.open_card(
        cr.read_files(cr.Channel(cr.VirtualCard(cr.CardImage.load(path)).process)),
        trust=ISSUER.trust,
        today=sample().issuer.issued_on,
    )
    assert [v.diagnoses for v in saved.content.visits] == [("J20.9",), ("J06.9",)]


def test_no_card_within_the_timeout_is_a_clear_message() -> None:
    with pytest.raises(cr.NoCard, match=r"no card was inserted within 0\.5 s"):
        cardpcsc.wait_for_card(reader=READERS[B], timeout_s=0.5)
    with pytest.raises(cr.NoReader, match="no reader named"):
        cardpcsc.wait_for_card(reader="Reader that is not there", timeout_s=0.5)


def _owned_pcscd() -> int | None:
    pid = pcscd_pid()
    try:
        owned = int(OWNED.read_text().strip("\0\n "))
    except (OSError, ValueError):
        return None
    return pid if pid == owned else None


def test_readers_unplugged_and_plugged_while_running_are_reported(monitor: cardpcsc.CardMonitor) -> None:
    # vpcd readers cannot be unplugged one by one, so pcscd itself goes away and comes back:
    # every reader detaches and attaches again, as when a USB hub is pulled and re-plugged.
    pid = _owned_pcscd()
    if pid is None:
        pytest.skip("pcscd was not started by installers/pcscd.sh: not restarting someone else's pcscd")
    with cr.Emulator(cr.VirtualCard(ISSUER.image(sample())), port=A):
        inserted(monitor, A)
        os.kill(pid, signal.SIGTERM)
        withdrawn(monitor, A)
        monitor.wait_for(lambda e: isinstance(e, cr.ReaderDetached) and e.reader == READERS[A], 10)
        while pcscd_pid() == pid:
            time.sleep(0.05)
    ensure_pcscd()
    monitor.wait_for(lambda e: isinstance(e, cr.ReaderAttached) and e.reader == READERS[A], 15)
    with cr.Emulator(cr.VirtualCard(ISSUER.image(sample())), port=A):
        assert read_in(inserted(monitor, A).reader).content == sample()


def test_rhip_card_read_json_verifies_and_fails_with_the_reason(tmp_path: Path) -> None:
    home = init_home(tmp_path / "clinic", clinic="511321100", name="南隆镇卫生院")
    (home.path / "hub.json").write_text(
        json.dumps(
            {
                "hub_url": "http://hub.test",
                "hub_id": "h",
                "region": "511321",
                "hub_public_key": ISSUER.trust.hex(),
            }
        )
    )
    rhip = [
        sys.executable,
        "-m",
        "cli",
        "card",
        "read",
        "--home",
        str(home.path),
        "--json",
        "--timeout",
        "10",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with cr.Emulator(cr.VirtualCard(ISSUER.image(sample(expires=sample().issuer.expires_on))), port=A):
        good = subprocess.run(rhip, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert good.returncode == 0, good.stderr
    body = json.loads(good.stdout.splitlines()[-1])
    assert body["verified"] is True and body["holder"]["id_number"] == "511321197005120012"
    with cr.Emulator(cr.VirtualCard(Issuer().image(sample())), port=A):
        forged = subprocess.run(rhip, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert forged.returncode == 1
    assert json.loads(forged.stdout.splitlines()[-1]) == {
        "verified": False,
        "reason": "forged",
        "message": json.loads(forged.stdout.splitlines()[-1])["message"],
    }
    assert "forged" in json.loads(forged.stdout)["message"]
