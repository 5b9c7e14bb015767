"""The card's pure parts: TLV, APDUs and the exchange rules, the layout, signatures, images, events.

Cards are driven through ``VirtualCard.process`` (the card side of the transmit
seam), never through mocks. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cardreader as cr
from cardreader._tlv import TlvError, decode_all, decode_one, encode

from .cardkit import TODAY, Issuer, read, sample

ISSUER = Issuer()

# -- TLV and APDUs -------------------------------------------------------------------------

tags = st.sampled_from([0x80, 0x81, 0x8F, 0x9E, 0x5F20, 0x9F1F])


@given(st.lists(st.tuples(tags, st.binary(max_size=400)), max_size=6))
def test_tlv_round_trips_and_is_canonical(items: list[tuple[int, bytes]]) -> None:
    data = b"".join(encode(t, v) for t, v in items)
    decoded = decode_all(data, padding=False)
    assert [(t.tag, t.value) for t in decoded] == items
    wrapped = encode(0xE1, [data])
    assert decode_one(wrapped + bytes(5))[0].children() == decoded


def test_tlv_refuses_non_canonical_and_truncated_lengths() -> None:
    for bad in (b"\x80\x81\x05abcde", b"\x80\x82\x00\x05abcde", b"\x80\x05abc", b"\x80\x83\x00\x00\x01a"):
        with pytest.raises(TlvError):
            decode_all(bad, padding=False)


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=255),
    st.one_of(st.none(), st.integers(1, 256)),
)
def test_command_apdus_round_trip(ins: int, p1: int, p2: int, data: bytes, le: int | None) -> None:
    command = cr.Command(0x00, ins, p1, p2, data, le)
    assert cr.Command.decode(command.encode()) == command


class Scripted:
    """A card that answers from a script: the transport seam, for status words no real card here sends."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.sent: list[bytes] = []

    def __call__(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return self.answers.pop(0)


def test_exchange_follows_61xx_with_get_response_and_joins_the_pieces() -> None:
    card = Scripted([bytes.fromhex("6105"), b"abc" + bytes.fromhex("6102"), b"de" + bytes.fromhex("9000")])
    r = cr.Channel(card).exchange(cr.Command(0, 0xB0, 0, 0, le=256))
    assert (r.data, r.sw) == (b"abcde", 0x9000)
    assert card.sent[1] == bytes.fromhex("00C0000005") and card.sent[2] == bytes.fromhex("00C0000002")


def test_exchange_reissues_with_the_le_a_6cxx_names_once() -> None:
    card = Scripted([bytes.fromhex("6C10"), bytes(16) + bytes.fromhex("9000")])
    ch = cr.Channel(card)
    r = ch.exchange(cr.Command(0, 0xB2, 1, 0x3C, le=256))
    assert r.ok and len(r.data) == 16 and card.sent[1][-1] == 0x10 and ch.apdus == 2
    with pytest.raises(cr.CardUnresponsive):
        cr.Channel(Scripted([bytes.fromhex("6C10"), bytes.fromhex("6C10")])).exchange(
            cr.Command(0, 0xB2, 1, 4)
        )
    with pytest.raises(cr.CardUnresponsive):
        cr.Channel(Scripted([b"\x90"])).exchange(cr.Command(0, 0xA4, 4, 0))


# -- the card: read, verify, refuse ------------------------------------------------------------


def test_a_genuine_card_reads_back_what_was_issued() -> None:
    content = sample()
    got = read(ISSUER.image(content), ISSUER.trust)
    assert got.content == dataclasses.replace(content, visits=content.visits)
    body = got.as_json()
    assert body["verified"] and body["holder"]["name"] == "张三"
    assert [c["zh"] for c in body["emergency"]["conditions"]] == ["哮喘", "心脏起搏器"]
    assert got.apdus == 1 + 6 + 2 + 1 + 1  # select, six EFs by SFI, two visits + blank, blank note


def test_t0_cards_and_small_get_response_chunks_read_the_same() -> None:
    image = ISSUER.image(sample(visits=10))
    plain = read(image, ISSUER.trust)
    t0 = read(image, ISSUER.trust, get_response=True, chunk=37)
    assert t0.content == plain.content and t0.apdus > plain.apdus


def test_long_emergency_data_is_read_in_chunks() -> None:
    allergies = tuple(
        cr.Allergy(f"过敏原{i:02d}号药物", "严重过敏反应，呼吸困难，需立即抢救处理" * 1) for i in range(12)
    )
    content = dataclasses.replace(
        sample(), emergency=dataclasses.replace(sample().emergency, allergies=allergies)
    )
    assert len(cr.encode_visit(content.visits[0], card_number="X1234567")) == cr.EF.VISITS.size
    got = read(ISSUER.image(content), ISSUER.trust)
    assert got.content.emergency.allergies == allergies


cards = st.builds(
    lambda name, allergies, conditions, visits, insurance: dataclasses.replace(
        sample(visits=0),
        holder=cr.Holder(name, "2", dt.date(1988, 2, 29), "51132119880229002X"),
        emergency=cr.Emergency(
            cr.BloodGroup("O", "negative"), tuple(cr.Allergy(a) for a in allergies), conditions
        ),
        insurance_number=insurance,
        visits=tuple(
            cr.Visit(dt.date(2026, 1, 1) + dt.timedelta(days=d), "511321100", "卫生院", ("I10",), ())
            for d in visits
        ),
    ),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=50),
    st.lists(st.text("abcdefgh青霉素头孢", min_size=1, max_size=30), max_size=12, unique=True),
    st.lists(st.sampled_from(sorted(cr.CONDITIONS)), max_size=5, unique=True).map(
        lambda cs: tuple(c for c in cr.CONDITIONS if c in cs)
    ),
    st.lists(st.integers(0, 300), max_size=10),
    st.one_of(st.none(), st.from_regex(r"[0-9A-Z]{6,30}", fullmatch=True)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=cards)
def test_any_card_round_trips_through_an_image_file(
    content: cr.CardContent, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("img") / "card.json"
    ISSUER.image(content).save(path)
    assert read(cr.CardImage.load(path), ISSUER.trust).content == content


SIGNED = [
    s.fid
    for s in (
        cr.EF.ISSUER,
        cr.EF.HOLDER,
        cr.EF.EMERGENCY,
        cr.EF.INSURANCE,
        cr.EF.SIGNATURE,
        cr.EF.CERTIFICATE,
    )
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SIGNED), st.data())
def test_any_single_bit_flip_in_signed_data_fails_verification(fid: int, data: st.DataObject) -> None:
    image = ISSUER.image(sample())
    assert read(image, ISSUER.trust).content.holder.id_number  # the genuine card reads
    files = cr.read_files(cr.Channel(cr.VirtualCard(image).process))
    used = len(files.efs[fid])
    bit = data.draw(st.integers(0, used * 8 - 1))
    image.files[fid][bit // 8] ^= 1 << (bit % 8)
    with pytest.raises((cr.CardForged, cr.CardCorrupted)):
        read(image, ISSUER.trust)


def test_forged_cards_are_told_apart_from_genuine_ones() -> None:
    content = sample()
    other_region = Issuer()
    with pytest.raises(cr.CardForged, match="not issued under this region"):
        read(other_region.image(content), ISSUER.trust)
    rogue = Issuer(hub=ISSUER.hub)  # a card key the hub never certified, with a copied certificate
    image = cr.CardImage.personalise(content, card_key=rogue.card, certificate=ISSUER.certificate)
    with pytest.raises(cr.CardForged, match="altered or forged"):
        read(image, ISSUER.trust)
    early = Issuer(hub=ISSUER.hub, valid_from=dt.date(2027, 1, 1))  # issued outside the key's validity
    with pytest.raises(cr.CardForged, match="outside its issuing key's validity"):
        read(early.image(content), ISSUER.trust)


def test_expired_blocked_foreign_blank_and_damaged_cards_each_say_so() -> None:
    with pytest.raises(cr.CardExpired, match="expired on 2026-01-01") as expired:
        read(ISSUER.image(sample(expires=dt.date(2026, 1, 1))), ISSUER.trust)
    assert expired.value.card.content.emergency.blood.abo == "A" and expired.value.card.expired
    blocked = ISSUER.image(sample())
    blocked.state = "blocked"
    with pytest.raises(cr.CardBlocked, match="blocked"):
        read(blocked, ISSUER.trust)
    with pytest.raises(cr.NotAHealthCard, match="not a resident health card"):
        read(cr.CardImage.foreign(), ISSUER.trust)
    with pytest.raises(cr.NotAHealthCard, match="blank"):
        read(cr.CardImage.blank(), ISSUER.trust)
    damaged = ISSUER.image(sample())
    damaged.files[cr.EF.HOLDER.fid][1] = 0x7F  # the template's length now runs past its data
    with pytest.raises(cr.CardCorrupted, match="damaged"):
        read(damaged, ISSUER.trust)


def test_a_damaged_visit_record_is_reported_and_the_rest_still_read() -> None:
    image = ISSUER.image(sample(visits=3))
    record = bytearray(image.records[cr.EF.VISITS.fid][1])
    record[12] ^= 0x01
    image.records[cr.EF.VISITS.fid][1] = bytes(record)
    got = read(image, ISSUER.trust)
    assert len(got.content.visits) == 2 and got.damaged and "visit record 2" in got.damaged[0]
    transplanted = ISSUER.image(sample(card_number="SC1001000000002"))
    transplanted.records[cr.EF.VISITS.fid][0] = image.records[cr.EF.VISITS.fid][0]
    assert "another card" in read(transplanted, ISSUER.trust).damaged[0]


def test_the_visit_ring_keeps_the_newest_ten_and_notes_run_out_cleanly() -> None:
    image = ISSUER.image(sample(visits=0))
    card = cr.VirtualCard(image)
    ch = cr.Channel(card.process)
    for day in range(12):
        visit = cr.Visit(dt.date(2026, 4, 1) + dt.timedelta(days=day), "511321100", "南隆镇卫生院", ("I10",))
        cr.append_visit(ch, visit, card_number="SC1001000000001")
    visits = read(image, ISSUER.trust).content.visits
    assert [v.on.day for v in visits] == list(range(12, 2, -1))
    for i in range(cr.EF.NOTES.records):
        note = cr.EmergencyNote(TODAY, "511321100", allergy=cr.Allergy(f"药物{i}"))
        cr.add_note(ch, note, card_number="SC1001000000001", written=i)
    got = read(image, ISSUER.trust).content.notes
    assert [n.allergy.substance for n in got if n.allergy] == [f"药物{i}" for i in range(16)]
    with pytest.raises(cr.CardFull):
        cr.add_note(ch, got[0], card_number="SC1001000000001", written=16)


def test_personalising_a_blank_card_through_apdus_equals_the_issued_image() -> None:
    content = sample()
    files = cr.card_files(content, card_key=ISSUER.card, certificate=ISSUER.certificate)
    blank = cr.CardImage.blank()
    saved: list[int] = []
    card = cr.VirtualCard(blank, on_change=lambda _: saved.append(1))
    cr.write_card(cr.Channel(card.process), files)
    assert blank.to_json() == ISSUER.image(content).to_json() and saved


def test_layout_limits_name_the_field() -> None:
    too_long = dataclasses.replace(sample(), holder=cr.Holder("张" * 51, "1", dt.date(1970, 5, 12), "X"))
    with pytest.raises(cr.LayoutError, match="name: 51 characters"):
        ISSUER.image(too_long)
    with pytest.raises(cr.LayoutError, match="conditions: 'flu'"):
        ISSUER.image(dataclasses.replace(sample(), emergency=cr.Emergency(conditions=("flu",))))


# -- images -------------------------------------------------------------------------------------


def test_damaged_image_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text("not json")
    with pytest.raises(cr.ImageError, match="not JSON"):
        cr.CardImage.load(path)
    good = ISSUER.image(sample()).to_json()
    good["records"]["0007"] = good["records"]["0007"][:3]
    path.write_text(json.dumps(good))
    with pytest.raises(cr.ImageError, match="0007"):
        cr.CardImage.load(path)


# -- events -------------------------------------------------------------------------------------


def test_reader_snapshots_become_events_in_desk_order() -> None:
    empty, full = cr.ReaderState(), cr.ReaderState(True, b"\x3b\x01")
    events = cr.diff({"A": full, "B": empty}, {"B": full, "C": full}, at=1.0)
    assert events == [
        cr.CardWithdrawn("A", 1.0),
        cr.ReaderDetached("A", 1.0),
        cr.ReaderAttached("C", 1.0),
        cr.CardInserted("B", b"\x3b\x01", 1.0),
        cr.CardInserted("C", b"\x3b\x01", 1.0),
    ]
    swapped = cr.diff({"A": full}, {"A": cr.ReaderState(True, b"\x3b\x02")}, at=2.0)
    assert swapped == [cr.CardWithdrawn("A", 2.0), cr.CardInserted("A", b"\x3b\x02", 2.0)]
    assert cr.diff({"A": full}, {"A": full}, at=3.0) == []
