"""A health card presented at the registration desk, in the pages: the desk reader's state, the card
opening its holder at once with the emergency data first, registering an unknown holder from the card,
forged and withdrawn cards — through the real app; and the desk reader over the real PC/SC stack.

SYNTHETIC DATA ONLY. Nothing here asserts on wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
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
from .test_pages_visit import DRUG, consulted, field_error, paid, post, visit_step

READER = "Virtual PCD 00 00"


@dataclass
class Desk:
    client: TestClient[Any]
    store: NodeStore
    reader: DeskReader
    issuer: Issuer
    card: cr.VirtualCard | None = None  # the card in the reader, as the desk reader's writes reach it

    def insert(self, image: cr.CardImage) -> int:
        self.card = cr.VirtualCard(image)
        files = cr.read_files(cr.Channel(self.card.process))
        return self.reader.present(READER, files).seq

    @contextmanager
    def connect(self, reader: str) -> Iterator[cr.Channel]:
        """The desk reader's channel to the card in it (no PC/SC here)."""
        assert reader == READER
        if self.card is None:
            raise cr.NoCard(f"no card in reader {reader!r}")
        yield cr.Channel(self.card.process)


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
    seen: list[Desk] = []

    def connect(name: str) -> AbstractContextManager[cr.Channel]:
        return seen[0].connect(name)

    reader = DeskReader(READER, connect=connect)
    reader.set_status("ready")
    app = create_app(
        store.db, store, clinic=home.clinic, name=home.name, card_trust=issuer.trust, desk_reader=reader
    )
    with TestClient(app=app) as client:
        seen.append(Desk(client, store, reader, issuer))
        yield seen[0]
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


# -- the visit written onto the card at its end ----------------------------------------------------------

PEANUT = {
    "recorded_on": "2026-02-01",
    "substance": "花生",
    "substance_category": "food",
    "reaction": "喉头水肿",
    "severity": "severe",
}


def on_card(desk: Desk) -> cr.CardContent:
    assert desk.card is not None
    files = cr.read_files(cr.Channel(desk.card.process))
    return cr.open_card(files, trust=desk.issuer.trust, today=dt.date(2026, 11, 25)).content


def ready_to_finish(desk: Desk, *, allergy: bool = False) -> tuple[cr.CardImage, str, str]:
    """A registered card holder's visit, consulted and paid: (their card, resident id, visit id)."""
    content, image = card_of(desk.issuer)
    resident_id = register_holder(desk.store, content)
    if allergy:  # known here, not on the card: the card gains an emergency note
        desk.store.add_record(resident_id, "allergy", PEANUT, user="doctor")
    vid = consulted(desk.client, resident_id)
    paid(desk.client, vid)
    return image, resident_id, vid


def test_finishing_a_visit_writes_it_onto_the_holders_card_in_the_reader(desk: Desk) -> None:
    image, resident_id, vid = ready_to_finish(desk, allergy=True)
    seq = desk.insert(image)
    before = on_card(desk)
    page = desk.client.get(f"/visits/{vid}?lang=en").text
    assert 'id="write-card"' in page and f'name="card_seq" value="{seq}"' in page

    r = post(desk.client, f"/visits/{vid}/finish", {"write_card": "1", "card_seq": str(seq)})
    assert r.status_code == 303 and r.headers["location"] == f"/visits/{vid}?card=written"
    assert visit_step(desk.client, vid) == "done"
    shown = desk.client.get(f"{r.headers['location']}&lang=en").text
    import sys

    print(shown[shown.find("card-outcome") - 200 : shown.find("card-outcome") + 300], file=sys.stderr)
    assert "The visit was written to the resident's health card." in shown

    after = on_card(desk)
    new = [v for v in after.visits if v not in before.visits]
    assert [(v.clinic, v.diagnoses, v.prescriptions) for v in new] == [("511321100", ("J06.9",), (DRUG,))]
    notes = [n.allergy.substance for n in after.notes if n.allergy is not None]
    assert notes == ["花生"]
    # The desk now holds what the card says, under the same presentation (nothing re-opens).
    latest = desk.reader.latest()
    assert latest is not None and latest.seq == seq and latest.files is not None
    assert cr.open_card(latest.files, trust=desk.issuer.trust, today=dt.date(2026, 11, 25)).content == after
    writes = [e for e in audit_entries(desk.store.db, resident_id=resident_id) if e["action"] == "write:card"]
    assert len(writes) == 1 and writes[0]["record_id"] == vid and writes[0]["user"] == "clerk"


def test_a_card_that_is_not_the_residents_or_gone_is_refused_and_the_visit_stays_open(desk: Desk) -> None:
    image, _, vid = ready_to_finish(desk)
    other_content, other = card_of(
        desk.issuer, name="赵德明", sex="1", birth="1949-10-02", number="5113210000000077"
    )
    register_holder(desk.store, other_content)

    # Someone else's card in the reader: not offered, and refused if asked for.
    seq = desk.insert(other)
    before = on_card(desk)
    assert 'id="write-card"' not in desk.client.get(f"/visits/{vid}").text
    r = post(desk.client, f"/visits/{vid}/finish", {"write_card": "1", "card_seq": str(seq)})
    assert r.status_code == 422
    assert "belongs to someone else than this visit" in field_error(r.text, "write_card")
    assert on_card(desk) == before and visit_step(desk.client, vid) != "done"

    # The holder's card, taken out before the clerk pressed "finish".
    seq = desk.insert(image)
    desk.reader.withdraw()
    r = post(desk.client, f"/visits/{vid}/finish", {"write_card": "1", "card_seq": str(seq)})
    assert r.status_code == 422 and "no longer in the reader" in field_error(r.text, "write_card")

    # A forged card: its desk message, the refusal audited, nothing written.
    forged = Issuer().image(card_of(desk.issuer)[0])
    seq = desk.insert(forged)
    r = post(desk.client, f"/visits/{vid}/finish", {"write_card": "1", "card_seq": str(seq)})
    assert r.status_code == 422 and "not issued under this region" in field_error(r.text, "write_card")
    assert visit_step(desk.client, vid) != "done"
    refused = [e for e in audit_entries(desk.store.db) if e["action"] == "read:card"]
    assert refused and refused[-1]["detail"]["verified"] is False

    # Without the card the visit finishes as before.
    assert post(desk.client, f"/visits/{vid}/finish", {}).status_code == 303
    assert visit_step(desk.client, vid) == "done"


class PulledOut(cr.VirtualCard):
    """A card that leaves the reader at the first command after it was presented."""

    def process(self, raw: bytes) -> bytes:
        raise cr.CardRemoved("the card was taken out before the write finished")


def test_a_card_pulled_out_during_the_write_leaves_the_visit_finished_and_says_so(desk: Desk) -> None:
    image, resident_id, vid = ready_to_finish(desk)
    seq = desk.insert(image)
    desk.card = PulledOut(image)
    r = post(desk.client, f"/visits/{vid}/finish", {"write_card": "1", "card_seq": str(seq)})
    assert (
        r.status_code == 303 and r.headers["location"] == f"/visits/{vid}?card=not-written&why=card-removed"
    )
    assert visit_step(desk.client, vid) == "done"
    page = desk.client.get(f"{r.headers['location']}&lang=en").text
    assert "it was not written to the health card" in page and "The card was taken out of the reader." in page
    assert not [
        e for e in audit_entries(desk.store.db, resident_id=resident_id) if e["action"] == "write:card"
    ]


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
