"""A health card presented at the registration desk, in the pages: the desk reader's state, the card
opening its holder at once with the emergency data first, registering an unknown holder from the card,
forged and withdrawn cards — through the real app; and the desk reader over the real PC/SC stack.

SYNTHETIC DATA ONLY. Nothing here asserts on wall-clock time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar.testing import TestClient

import cardreader as cr
from node import DeskReader, NodeStore, audit_entries, create_app
from node._home import NodeHome

from .cardkit import READERS, Issuer, pcscd_turn
from .conftest import PASSWORD
from .test_desk import Clock, card_of, make_store
from .test_pages import login

READER = "Virtual PCD 00 00"


@dataclass
class Desk:
    client: TestClient[Any]
    store: NodeStore
    reader: DeskReader
    issuer: Issuer

    def insert(self, image: cr.CardImage) -> int:
        files = cr.read_files(cr.Channel(cr.VirtualCard(image).process))
        return self.reader.present(READER, files).seq


def add_staff(store: NodeStore, password_hash: str, *roles: str) -> None:
    """One account per role, named after it, that logs in with the test password."""
    with store.db.write() as conn:
        conn.executemany(
            "INSERT INTO users (name, role, password_hash, display_name, created_at) "
            "VALUES (?, ?, ?, ?, '2026-01-01')",
            [(role, role, password_hash, role) for role in roles],
        )


@pytest.fixture
def desk(home: NodeHome, password_hash: str) -> Iterator[Desk]:
    store = make_store(home, Clock())
    add_staff(store, password_hash, "clerk", "doctor", "pharmacist", "nurse")
    issuer = Issuer()
    reader = DeskReader(READER)
    reader.set_status("ready")
    app = create_app(
        store.db, store, clinic=home.clinic, name=home.name, card_trust=issuer.trust, desk_reader=reader
    )
    with TestClient(app=app) as client:
        yield Desk(client, store, reader, issuer)
    store.db.close()


def register_holder(store: NodeStore, content: cr.CardContent) -> str:
    holder = content.holder
    reg = store.register_resident(
        {
            "name": holder.name,
            "sex": holder.sex,
            "birth_date": holder.birth_date.isoformat(),
            "id_number": holder.id_number,
            "address": {"division_code": "511321100001"},
        },
        user="clerk",
    )
    return reg.envelope.id


def test_the_desk_shows_the_reader_and_a_new_card_opens_itself(desk: Desk) -> None:
    login(desk.client, "clerk")
    page = desk.client.get("/desk")
    assert "Card reader ready" in desk.client.get("/desk?lang=en").text
    assert 'hx-get="/desk/card?seen=0"' in page.text
    seq = desk.insert(card_of(desk.issuer)[1])
    # The page that has seen nothing is sent to the card; one that has seen it only offers it.
    fresh = desk.client.get("/desk/card", params={"seen": 0}, headers={"HX-Request": "true"})
    assert fresh.headers["hx-redirect"] == f"/desk/card/{seq}"
    seen = desk.client.get("/desk/card", params={"seen": seq}, headers={"HX-Request": "true"})
    assert "hx-redirect" not in seen.headers
    assert f'href="/desk/card/{seq}"' in seen.text
    desk.reader.withdraw()
    assert "hx-redirect" not in desk.client.get("/desk/card", params={"seen": 0}).headers


def test_a_registered_holder_opens_on_their_resident_page_with_the_card_emergency_data_first(
    desk: Desk,
) -> None:
    content, image = card_of(desk.issuer)
    resident_id = register_holder(desk.store, content)
    seq = desk.insert(image)
    login(desk.client, "doctor")
    page = desk.client.get(f"/desk/card/{seq}?lang=en")
    assert page.status_code == 200
    html = page.text
    assert content.holder.name in html
    panel = html.index('class="card-panel')
    assert panel < html.index('class="tree"'), "the card's emergency data comes before the health file"
    assert "A Rh+" in html and "青霉素" in html and "全身皮疹" in html and "李强" in html
    actions = [e["action"] for e in audit_entries(desk.store.db, resident_id=resident_id)]
    assert "read:card" in actions and "read:file-tree" in actions


def test_an_unknown_holders_card_shows_what_each_role_may_see(desk: Desk) -> None:
    content, image = card_of(desk.issuer)
    seq = desk.insert(image)
    login(desk.client, "pharmacist")
    html = desk.client.get(f"/desk/card/{seq}?lang=en").text
    assert "not registered at this clinic" in html and "Register from the card" not in html
    assert content.holder.id_number not in html and content.holder.id_number[-4:] in html
    assert "青霉素" in html, "whoever hands out medicine sees the card's allergies"
    login(desk.client, "clerk")
    html = desk.client.get(f"/desk/card/{seq}?lang=en").text
    assert content.holder.id_number in html and "Register from the card" in html
    assert "青霉素" not in html and "not shown to your role" in html


def test_an_unknown_holder_is_registered_from_the_card_then_opens_as_a_resident(desk: Desk) -> None:
    content, image = card_of(desk.issuer, name="赵桂兰", number="5113210000000077")
    seq = desk.insert(image)
    login(desk.client, "clerk")
    card_page = desk.client.get(f"/desk/card/{seq}?lang=en")
    assert "Register from the card" in card_page.text
    assert desk.store.search("赵桂兰", limit=5) == []
    r = desk.client.post(f"/desk/card/{seq}/register", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/desk/card/{seq}"
    [found] = desk.store.search("赵桂兰", limit=5)
    assert found["id_number"] == content.holder.id_number
    opened = desk.client.get(f"/desk/card/{seq}?lang=en")
    assert 'class="tree"' in opened.text and "not registered at this clinic" not in opened.text
    assert "register:card" in [e["action"] for e in audit_entries(desk.store.db, resident_id=found["id"])]


def test_a_nurse_may_not_register_from_a_card(desk: Desk) -> None:
    seq = desk.insert(card_of(desk.issuer)[1])
    login(desk.client, "nurse")
    assert desk.client.post(f"/desk/card/{seq}/register").status_code == 403
    assert desk.store.search("王秀英", limit=5) == []


def test_a_forged_card_is_refused_with_its_desk_message_and_the_refusal_audited(desk: Desk) -> None:
    _, forged = card_of(Issuer())  # signed by a key this region never certified
    seq = desk.insert(forged)
    login(desk.client, "clerk")
    page = desk.client.get(f"/desk/card/{seq}?lang=en")
    assert page.status_code == 422
    assert "This card cannot be used" in page.text and "王秀英" not in page.text
    refused = [e for e in audit_entries(desk.store.db) if e["action"] == "read:card"]
    assert refused and refused[-1]["detail"]["verified"] is False


def test_a_card_that_could_not_be_read_says_why(desk: Desk) -> None:
    presented = desk.reader.present(READER, None, cr.CardRemoved("the card was pulled out while being read"))
    login(desk.client, "clerk")
    page = desk.client.get(f"/desk/card/{presented.seq}")
    assert page.status_code == 422 and "pulled out" in page.text


def test_a_withdrawn_card_is_forgotten(desk: Desk) -> None:
    seq = desk.insert(card_of(desk.issuer)[1])
    desk.reader.withdraw()
    login(desk.client, "clerk")
    page = desk.client.get(f"/desk/card/{seq}?lang=en")
    assert page.status_code == 410 and "no longer in the reader" in page.text and "王秀英" not in page.text
    assert desk.reader.get(seq) is None


def test_a_node_not_enrolled_cannot_judge_a_card(home: NodeHome, password_hash: str) -> None:
    store = make_store(home, Clock())
    add_staff(store, password_hash, "clerk")
    reader = DeskReader(READER)
    app = create_app(store.db, store, clinic=home.clinic, name=home.name, desk_reader=reader)
    files = cr.read_files(cr.Channel(cr.VirtualCard(card_of(Issuer())[1]).process))
    seq = reader.present(READER, files).seq
    with TestClient(app=app) as client:
        r = client.post("/login", data={"user": "clerk", "password": PASSWORD, "next": "/desk"})
        assert r.status_code == 200
        page = client.get(f"/desk/card/{seq}?lang=en")
    assert page.status_code == 409 and "enrol" in page.text
    store.db.close()


def test_the_desk_reader_follows_its_reader_only() -> None:
    reader = DeskReader("auto")
    readers = {"Reader A", "Reader B"}
    files = cr.read_files(cr.Channel(cr.VirtualCard(card_of(Issuer())[1]).process))

    def read_card(name: str) -> cr.CardFiles:
        assert name in readers
        return files

    reader.handle(cr.ReaderAttached("Reader A", 0.0), read_card)
    reader.handle(cr.ReaderAttached("Reader B", 0.0), read_card)
    assert reader.reader == "Reader A" and status(reader) == "ready"
    reader.handle(cr.CardInserted("Reader B", b"", 0.0), read_card)
    assert reader.latest() is None, "a card in another desk's reader is not this desk's"
    reader.handle(cr.CardInserted("Reader A", b"", 0.0), read_card)
    latest = reader.latest()
    assert latest is not None and latest.files == files and status(reader) == "present"

    def pulled(name: str) -> cr.CardFiles:
        raise cr.CardRemoved("the card was pulled out while being read")

    reader.handle(cr.CardWithdrawn("Reader A", 0.0), read_card)
    assert reader.latest() is None and status(reader) == "ready"
    reader.handle(cr.CardInserted("Reader A", b"", 0.0), pulled)
    bad = reader.latest()
    assert bad is not None and bad.files is None and isinstance(bad.error, cr.CardRemoved)
    assert status(reader) == "unreadable"
    reader.handle(cr.ServiceLost("pcscd stopped", 0.0), read_card)
    assert status(reader) == "unavailable" and reader.latest() is None
    assert DeskReader(None).status == "off"


@pytest.mark.xdist_group("pcscd")
def test_the_desk_reader_reads_a_card_put_into_the_real_reader() -> None:
    pytest.importorskip("cardreader.pcsc")
    issuer = Issuer()
    content, image = card_of(issuer)
    with pcscd_turn():
        reader = DeskReader(READERS[35963])
        reader.start()
        try:
            with cr.Emulator(cr.VirtualCard(image), port=35963):
                latest = _wait(reader.latest)
                assert latest.files is not None
                read = cr.open_card(latest.files, trust=issuer.trust, today=content.issuer.issued_on)
                assert read.content.holder == content.holder
                assert reader.status == "present"
            _wait(lambda: True if reader.latest() is None else None)
            after: str = reader.status
            assert after == "ready"
        finally:
            reader.stop()


def status(reader: DeskReader) -> str:
    return reader.status


def _wait(probe: Any, timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (got := probe()) is not None:
            return got
        time.sleep(0.05)
    raise AssertionError("the desk reader saw nothing")
