"""Hostile uploads: polyglots, zip bombs disguised as images, decompression bombs, empty and
oversize files, path-traversal names and lying content types, on the evidence upload, the
inspection photos and the report check. A file is refused with a message (nothing written)
or stored under EVIDENCE_DIR by its SHA-256 and served back only as a download."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from core.db import db
from tests.web.hostile import Poster, nasty_text, web_settings
from tests.web.test_hostile_forms import application_in_review
from vetting.evidence import MEDIA_EXTENSIONS
from vetting.models import Evidence

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def png(width: int = 1, height: int = 1, extra_chunks: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_chunks
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00")) + chunk(b"IEND", b""))


def jpeg(width: int = 1, height: int = 1) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof \
        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 8 + b"\xff\xd9"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ZIP_BOMB = zip_bytes({"bomb.bin": b"\x00" * 5_000_000})
HTML = b"<html><script>alert(document.cookie)</script></html>"

# Each a file that must be refused, with the words the refusal must use.
REFUSED = {
    "empty": (b"", "empty"),
    "zip bomb named .png": (ZIP_BOMB, "ZIP"),
    "pdf then zip": (PDF + ZIP_BOMB, "%%EOF"),
    "pdf then zip then eof": (PDF + ZIP_BOMB + b"%%EOF\n", "ZIP"),
    "png then zip": (png() + ZIP_BOMB, "PNG"),
    "png with a zip chunk": (png(extra_chunks=struct.pack(">I", len(ZIP_BOMB)) + b"zIPp"
                                 + ZIP_BOMB + b"\x00\x00\x00\x00"), "ZIP"),
    "html": (HTML, "not a PDF, PNG or JPEG"),
    "html with a png name": (b"\x89PNG\r\n\x1a\n" + HTML, "PNG"),
    "png bomb": (png(100_000, 100_000), "too large"),
    "png one side too long": (png(20_001, 1), "too large"),
    "png zero size": (png(0, 5), "damaged"),
    "jpeg bomb": (jpeg(65_535, 65_535), "too large"),
    "jpeg no height": (jpeg(10, 0), "height"),
    "truncated pdf": (PDF[:-7], "%%EOF"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "not a PDF"),
}
# Files that are what they say at both ends: accepted, and only ever served as downloads.
ACCEPTED = {
    "pdf": (PDF, "application/pdf"),
    "pdf with html and javascript inside": (b"%PDF-1.7\n" + HTML + b"\n/JS (app.alert(1))\n%%EOF",
                                            "application/pdf"),
    "png": (png(), "image/png"),
    "png with html in a text chunk": (png(extra_chunks=struct.pack(">I", len(HTML)) + b"tEXt"
                                          + HTML + struct.pack(">I", zlib.crc32(b"tEXt" + HTML))),
                                      "image/png"),
    "jpeg": (jpeg(), "image/jpeg"),
}
NAMES = ["../../etc/passwd", "/etc/passwd", "..\\..\\windows\\win.ini", "C:\\evil\\a.pdf",
         "a\x00.pdf", "x" * 5000 + ".pdf", "\u202egnp.exe", "ﬁle.pdf", "e\u0301.pdf",
         "..", ".", ".htaccess", "con.pdf", "a/../../b.pdf", "%2e%2e%2fetc%2fpasswd",
         "evidence.pdf\r\nX-Injected: 1", 'quote".pdf', "ＡＢＣ．ｐｄｆ", ""]
CONTENT_TYPES = ["application/pdf", "text/html", "image/svg+xml", "application/zip",
                 "application/octet-stream", "image/png; charset=utf-7", ""]


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


@pytest.fixture
def evidence_target(client: FlaskClient, login: Callable[..., object]) -> tuple[str, str]:
    """The evidence upload address of a checklist item, and its field prefix."""
    login("vetting", "compliance")
    application = application_in_review(client)
    item = application.items[0].id
    return f"/vetting/applications/{application.id}/items/{item}/evidence", f"ev{item}-"


def upload(poster: Poster, target: tuple[str, str], content: bytes, name: str,
           content_type: str = "application/octet-stream"):  # type: ignore[no-untyped-def]
    path, prefix = target
    return poster.post(path, {prefix + "file": (io.BytesIO(content), name, content_type)},
                       csrf_prefix=prefix, multipart=True)


def check_stored(app: Flask, client: FlaskClient, content: bytes) -> Evidence:
    """The newest evidence is ``content`` stored by its digest and served as a download."""
    db.session.expire_all()
    evidence = db.session.execute(db.select(Evidence).order_by(Evidence.id.desc())).scalars() \
        .first()
    digest = hashlib.sha256(content).hexdigest()
    assert evidence.sha256 == digest
    folder = Path(app.config["EVIDENCE_DIR"])
    assert (folder / digest[:2] / digest).read_bytes() == content
    assert "/" not in evidence.filename
    assert "\\" not in evidence.filename
    assert "\x00" not in evidence.filename
    assert len(evidence.filename) <= 200
    response = client.get(f"/vetting/evidence/{evidence.id}")
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "\r" not in response.headers["Content-Disposition"]
    assert "\n" not in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype in MEDIA_EXTENSIONS
    return evidence


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_hostile_evidence_is_refused_and_nothing_is_written(
        case: str, app: Flask, client: FlaskClient, evidence_target: tuple[str, str]) -> None:
    content, words = REFUSED[case]
    folder = Path(app.config["EVIDENCE_DIR"])
    before = files_under(folder)
    outcome = upload(Poster(client), evidence_target, content, "evidence.png", "image/png")
    assert not outcome.accepted
    assert words in outcome.page
    assert files_under(folder) == before


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_polyglot_evidence_is_stored_by_digest_and_served_as_a_download(
        case: str, app: Flask, client: FlaskClient, evidence_target: tuple[str, str]) -> None:
    content, content_type = ACCEPTED[case]
    outcome = upload(Poster(client), evidence_target, content, "evil.html", "text/html")
    assert outcome.accepted
    evidence = check_stored(app, client, content)
    assert evidence.content_type == content_type
    assert evidence.filename == "evil.html"  # shown as a name, never used as a path


def test_evidence_names_and_content_types(app: Flask, client: FlaskClient,
                                          evidence_target: tuple[str, str],
                                          tmp_path: Path) -> None:
    poster = Poster(client)
    outside = {p for p in tmp_path.rglob("*") if p.is_file()
               and not str(p).startswith(app.config["EVIDENCE_DIR"])}
    choices = [c for c, _ in ACCEPTED.values()] + [c for c, _ in REFUSED.values()]

    @web_settings
    @given(content=st.one_of(st.sampled_from(choices), st.binary(max_size=300),
                             st.tuples(st.sampled_from([b"%PDF-1.4\n", b"\xff\xd8\xff",
                                                        png()[:33]]),
                                       st.binary(max_size=200),
                                       st.sampled_from([b"%%EOF", b"\xff\xd9", b"", b"PK\x05\x06"
                                                        + b"\x00" * 18])).map(b"".join)),
           name=st.one_of(st.sampled_from(NAMES), nasty_text((200,))),
           content_type=st.sampled_from(CONTENT_TYPES))
    def run(content: bytes, name: str, content_type: str) -> None:
        folder = Path(app.config["EVIDENCE_DIR"])
        before = files_under(folder)
        outcome = upload(poster, evidence_target, content, name, content_type)
        if outcome.accepted:
            check_stored(app, client, content)
        else:
            assert files_under(folder) == before
        assert {p for p in tmp_path.rglob("*") if p.is_file()
                and not str(p).startswith(app.config["EVIDENCE_DIR"])} == outside

    run()


def test_evidence_beyond_the_size_limits(app: Flask, client: FlaskClient,
                                         evidence_target: tuple[str, str]) -> None:
    poster = Poster(client)
    folder = Path(app.config["EVIDENCE_DIR"])
    before = files_under(folder)
    limit = app.config["EVIDENCE_MAX_BYTES"]
    big_pdf = b"%PDF-1.4\n" + b"0" * (limit - 9 - 6 + 1) + b"%%EOF\n"
    outcome = upload(poster, evidence_target, big_pdf, "big.pdf")
    assert not outcome.accepted
    assert "too large" in outcome.page
    outcome = upload(poster, evidence_target, b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                     "huge.pdf")
    assert outcome.status == 413
    assert "larger than the limit" in outcome.page
    assert files_under(folder) == before


def test_photos_on_an_inspection(app: Flask, client: FlaskClient,
                                 login: Callable[..., object]) -> None:
    from tests.web.qc_helpers import NOW, inspection_data
    from tests.web.test_hostile_qc_compliance import make_order

    app.config["CLOCK"] = lambda: NOW
    login("inspector")
    poster = Poster(client)
    folder = Path(app.config["EVIDENCE_DIR"])

    @web_settings
    @given(photos=st.lists(st.tuples(st.sampled_from(
        [c for c, _ in ACCEPTED.values()] + [c for c, _ in REFUSED.values()]),
        st.sampled_from(NAMES)), min_size=1, max_size=3))
    def run(photos: list[tuple[bytes, str]]) -> None:
        order = make_order("received")
        before = files_under(folder)
        data: dict[str, Any] = inspection_data(order)
        data["photos"] = [(io.BytesIO(c), n or "photo.png", "image/png") for c, n in photos]
        outcome = poster.post(f"/qc/orders/{order.id}/inspect", data, multipart=True)
        images = {c for c, kind in ACCEPTED.values() if kind.startswith("image/")}
        photos_ok = all(c in images for c, _ in photos)
        # a name with CR or LF breaks the part's header (browsers percent-encode them), so
        # the part may arrive as no file at all: then nothing but images may be stored
        if any("\r" in n or "\n" in n for _, n in photos):
            assert {p.read_bytes() for p in files_under(folder) - before} <= images
            return
        assert outcome.accepted == photos_ok, outcome.page[-2000:]
        if not outcome.accepted:
            assert files_under(folder) == before

    run()


def test_report_check_upload(client: FlaskClient, login: Callable[..., object]) -> None:
    login("compliance")
    poster = Poster(client)

    @web_settings
    @given(content=st.one_of(st.sampled_from([PDF, b"", HTML, ZIP_BOMB, PDF + ZIP_BOMB]),
                             st.binary(max_size=200)),
           name=st.one_of(st.sampled_from(NAMES), nasty_text((200,))))
    def run(content: bytes, name: str) -> None:
        outcome = poster.post("/compliance/verify",
                              {"file": (io.BytesIO(content), name or "r.pdf")}, multipart=True)
        if outcome.accepted:
            assert hashlib.sha256(content).hexdigest() in outcome.page

    run()
