"""Evidence file checks and content-addressed storage (vetting/evidence.py)."""

from __future__ import annotations

import hashlib
import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vetting.evidence import (
    DEFAULT_MAX_BYTES,
    MEDIA_EXTENSIONS,
    EvidenceError,
    StoredFile,
    evidence_path,
    sanitise_filename,
    sniff_content_type,
    store_evidence,
)

PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n"
    b"trailer << /Size 3 /Root 1 0 R >>\nstartxref\n110\n%%EOF\n"
)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width: int = 1, height: int = 1) -> bytes:
    """A PNG with correct CRCs; the pixel data is one grey row whatever the stated size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def make_jpeg(width: int = 1, height: int = 1, before_sof: bytes = b"") -> bytes:
    """SOI, APP0 (JFIF), optional segments, SOF0 with the size, EOI: markers only."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = (
        b"\xff\xc0"
        + struct.pack(">HBHHB", 17, 8, height, width, 3)
        + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + before_sof + sof0 + b"\xff\xd9"


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def store(data: bytes, folder: Path, name: str | None = "file", max_bytes: int = 1024 * 1024
          ) -> StoredFile:
    return store_evidence(io.BytesIO(data), name, folder, max_bytes)


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (PDF, "report.pdf", "application/pdf"),
        (make_png(), "photo.png", "image/png"),
        (make_jpeg(), "photo.jpg", "image/jpeg"),
    ],
)
def test_valid_file_is_stored_under_its_sha256(
    tmp_path: Path, data: bytes, name: str, content_type: str
) -> None:
    folder = tmp_path / "evidence"
    result = store(data, folder, name)
    sha = hashlib.sha256(data).hexdigest()
    assert result == StoredFile(sha256=sha, size=len(data), content_type=content_type,
                                filename=name)
    target = folder / sha[:2] / sha
    assert target == evidence_path(folder, sha)
    assert target.read_bytes() == data
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    for directory in (folder, folder / "tmp", folder / sha[:2]):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    assert stored_files(folder) == [target]


def test_same_content_twice_is_stored_once(tmp_path: Path) -> None:
    first = store(PDF, tmp_path, "a.pdf")
    second = store(PDF, tmp_path, "b.pdf")
    assert first.sha256 == second.sha256
    assert (first.filename, second.filename) == ("a.pdf", "b.pdf")
    assert stored_files(tmp_path) == [evidence_path(tmp_path, first.sha256)]


def test_file_name_does_not_decide_the_type(tmp_path: Path) -> None:
    result = store(make_png(), tmp_path, "scan.pdf")
    assert result.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Hello, this is plain text pretending to be a PDF.\n", "checked by content"),
        (b"", "The file is empty."),
        (make_zip(), "ZIP archive"),
        (PDF.replace(b"%%EOF", b"%%END"), "%%EOF"),
        (PDF + b"\n" * 1100, "%%EOF"),
        (b" " + PDF, "checked by content"),
        (b"%PDF-1.4\n" + make_zip() + b"%%EOF\n", "ZIP archive"),
        (make_png()[:-12], "IEND"),
        (make_png() + b"trailing", "IEND"),
        (make_png().replace(b"IHDR", b"IHDX"), "IHDR"),
        (make_png()[:29] + b"\x00\x00\x00\x00" + make_png()[33:], "checksum"),
        (make_jpeg()[:-2], "EOI"),
        (make_jpeg() + b"\x00" * 33, "EOI"),
        (make_jpeg(before_sof=b"\xff\xda\x00\x02"), "SOF"),
        (b"\xff\xd8\xff\xd9", "SOF"),
        (make_jpeg(width=0), "damaged"),
        (make_jpeg(height=0), "height"),
    ],
    ids=[
        "text-named-pdf", "empty", "zip", "pdf-without-eof", "pdf-eof-too-early",
        "pdf-magic-not-at-0", "pdf-zip-polyglot", "png-without-iend", "png-trailing-data",
        "png-without-ihdr", "png-bad-ihdr-crc", "jpeg-without-eoi", "jpeg-too-much-padding",
        "jpeg-sos-before-sof", "jpeg-without-sof", "jpeg-zero-width", "jpeg-zero-height",
    ],
)
def test_hostile_file_is_refused_and_nothing_is_left(
    tmp_path: Path, data: bytes, message: str
) -> None:
    with pytest.raises(EvidenceError, match=message.replace(".", r"\.")):
        store(data, tmp_path, "upload.pdf")
    assert stored_files(tmp_path) == []


def test_zip_refusal_is_clear() -> None:
    data = make_zip()
    with pytest.raises(EvidenceError) as excinfo:
        sniff_content_type(data[:64], data, len(data))
    assert excinfo.value.message == (
        "This file is a ZIP archive (Word and Excel files are ZIP archives too), "
        "not a PDF, PNG or JPEG."
    )


def test_text_renamed_pdf_message() -> None:
    data = b"just text"
    with pytest.raises(EvidenceError) as excinfo:
        sniff_content_type(data, data, len(data))
    assert str(excinfo.value) == (
        "This file is not a PDF, PNG or JPEG (it was checked by content, not by name)."
    )


def _zip_with_comment(comment: bytes) -> bytes:
    data = make_zip()
    return data[:-2] + struct.pack("<H", len(comment)) + comment


@pytest.mark.parametrize(
    "data",
    [
        PDF + make_zip() + b"%%EOF\n",
        # The archive's comment supplies the end marker each format requires.
        PDF + _zip_with_comment(b"%%EOF\n"),
        make_png() + _zip_with_comment(make_png()[-12:]),
        make_jpeg() + _zip_with_comment(b"\xff\xd9"),
    ],
    ids=["pdf-zip-eof", "pdf-zip-comment", "png-zip-comment", "jpeg-zip-comment"],
)
def test_file_that_is_also_a_zip_is_refused(data: bytes) -> None:
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["word/document.xml"]
    with pytest.raises(EvidenceError, match="also contains a ZIP archive"):
        sniff_content_type(data[:64], data[-65557:], len(data))


def test_jpeg_padding_after_eoi_is_allowed(tmp_path: Path) -> None:
    data = make_jpeg() + b"\x00" * 30 + b"\r\n"
    assert store(data, tmp_path).content_type == "image/jpeg"


def test_oversized_file_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    data = PDF + b"%" * (3 * 1024 * 1024)
    with pytest.raises(EvidenceError, match=r"The file is too large: the limit is 2 MB\."):
        store(data, tmp_path, "big.pdf", max_bytes=2 * 1024 * 1024)
    assert stored_files(tmp_path) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_oversized_stream_is_not_read_past_the_limit(tmp_path: Path) -> None:
    stream = io.BytesIO(PDF * 10_000)
    with pytest.raises(EvidenceError, match="too large"):
        store_evidence(stream, "big.pdf", tmp_path, 1000)
    assert stream.tell() == 1001


def test_file_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    assert store(PDF, tmp_path, max_bytes=len(PDF)).size == len(PDF)


def test_default_limit_is_ten_megabytes() -> None:
    assert DEFAULT_MAX_BYTES == 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (20_001, 1), (1, 20_001), (10_000, 5_001)],
)
def test_png_bomb_is_refused(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(EvidenceError, match="too large"):
        store(make_png(width, height), tmp_path, "bomb.png")
    assert stored_files(tmp_path) == []


def test_png_at_the_pixel_limit_is_accepted(tmp_path: Path) -> None:
    assert store(make_png(10_000, 5_000), tmp_path).content_type == "image/png"


def test_png_of_zero_width_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="damaged"):
        store(make_png(0, 1), tmp_path)


@pytest.mark.parametrize(("width", "height"), [(65_535, 65_535), (10_000, 10_000)])
def test_jpeg_bomb_is_refused(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(EvidenceError, match="too large"):
        store(make_jpeg(width, height), tmp_path, "bomb.jpg")
    assert stored_files(tmp_path) == []


def test_jpeg_size_comes_from_sof_not_from_dht(tmp_path: Path) -> None:
    # A DHT (C4) segment whose bytes would read as a 65535 x 65535 frame if taken for a SOF.
    dht = b"\xff\xc4" + struct.pack(">H", 8) + b"\x08\xff\xff\xff\xff\x03"
    comment = b"\xff\xfe" + struct.pack(">H", 6) + b"note"
    data = make_jpeg(640, 480, before_sof=dht + comment)
    assert store(data, tmp_path).content_type == "image/jpeg"
    with pytest.raises(EvidenceError, match="too large"):
        store(make_jpeg(30_000, 480, before_sof=dht), tmp_path)


def test_progressive_jpeg_size_is_checked(tmp_path: Path) -> None:
    data = make_jpeg(30_000, 30_000).replace(b"\xff\xc0", b"\xff\xc2")
    with pytest.raises(EvidenceError, match="too large"):
        store(data, tmp_path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\evil\\x.pdf", "x.pdf"),
        ("\x00name.pdf", "name.pdf"),
        ("C:x.pdf", "x.pdf"),
        ("re\u202efdp.exe.pdf", "refdp.exe.pdf"),
        ("line\nbreak.pdf", "linebreak.pdf"),
        ("  .hidden.pdf ", "hidden.pdf"),
        ("Prüfbericht Q1 – 2024.pdf", "Prüfbericht Q1 – 2024.pdf"),
        ("..", "evidence.pdf"),
        ("/", "evidence.pdf"),
        ("../", "evidence.pdf"),
        ("\x00\x01", "evidence.pdf"),
        ("", "evidence.pdf"),
        (None, "evidence.pdf"),
    ],
)
def test_sanitise_filename(name: str | None, expected: str) -> None:
    assert sanitise_filename(name, "application/pdf") == expected


def test_sanitise_filename_fallback_uses_the_checked_type() -> None:
    assert [sanitise_filename(None, t) for t in MEDIA_EXTENSIONS] == [
        "evidence.pdf", "evidence.png", "evidence.jpg",
    ]


def test_sanitise_filename_limits_length_and_keeps_extension() -> None:
    result = sanitise_filename("a" * 500 + ".pdf", "application/pdf")
    assert len(result) == 200
    assert result.endswith("a.pdf")
    assert len(sanitise_filename("b" * 500, "image/png")) == 200


def test_traversal_name_is_metadata_only(tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    result = store(PDF, folder, "../../outside.pdf")
    assert result.filename == "outside.pdf"
    assert stored_files(tmp_path) == [evidence_path(folder, result.sha256)]


@pytest.mark.parametrize(
    "sha",
    [
        "../x",
        "../" + "a" * 61,
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 64 + "\n",
        "/" + "a" * 63,
        "",
    ],
)
def test_evidence_path_rejects_anything_but_a_sha256(tmp_path: Path, sha: str) -> None:
    with pytest.raises(EvidenceError, match="not a valid evidence file reference"):
        evidence_path(tmp_path, sha)


def test_evidence_path_layout(tmp_path: Path) -> None:
    sha = hashlib.sha256(b"x").hexdigest()
    assert evidence_path(tmp_path, sha) == tmp_path / sha[:2] / sha


# Valid starts and endings of each accepted type (and of a ZIP), so that random middles
# exercise the deeper checks and not only the first-byte refusal.
_PREFIXES = [b"", b"%PDF-1.7\n", make_png()[:33], b"\xff\xd8\xff\xe0", b"PK\x03\x04"]
_SUFFIXES = [b"", b"\n%%EOF\n", _chunk(b"IEND", b""), b"\xff\xd9"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.builds(lambda p, b, s: p + b + s, st.sampled_from(_PREFIXES),
                  st.binary(max_size=300), st.sampled_from(_SUFFIXES)),
    )
)
def test_arbitrary_bytes_are_stored_or_refused(tmp_path: Path, data: bytes) -> None:
    folder = tmp_path / "prop"
    try:
        result: StoredFile | str = store(data, folder, "x.pdf", max_bytes=512)
    except EvidenceError as exc:
        result = exc.message
    if isinstance(result, str):
        assert result
    else:
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert result.size == len(data)
        assert evidence_path(folder, result.sha256).read_bytes() == data
    assert list((folder / "tmp").iterdir()) == []
