"""Store evidence files for seller applications, addressed by the SHA-256 of their content.

Only PDF, PNG and JPEG files are accepted, and the type is decided by the bytes, never by
the file name:

| type | must start with                 | must end with                                      |
|------|---------------------------------|----------------------------------------------------|
| PDF  | ``%PDF-`` at offset 0           | ``%%EOF`` somewhere in the last 1024 bytes         |
| PNG  | the PNG signature, then IHDR    | the IEND chunk, as the very last 12 bytes          |
|      | (length 13, correct CRC)        |                                                    |
| JPEG | SOI ``FF D8 FF``                | EOI ``FF D9``, then at most 32 bytes of whitespace |
|      |                                 | or NULs                                            |

A file with a ZIP end-of-central-directory record in its last 64 KiB is refused whatever it
starts with: that is how PDF/ZIP and image/ZIP polyglots are built, since ZIP readers look for
the archive from the end of the file. Images must state their size in the header (PNG IHDR, JPEG
SOF0..SOF15 but not DHT/JPG/DAC) and may have at most ``MAX_SIDE`` pixels a side and
``MAX_PIXELS`` pixels in all, so a "decompression bomb" is refused before anyone decodes it.

The stream is read in chunks, hashed while it is written to a temporary file in
``<folder>/tmp/``, and never read beyond ``max_bytes + 1`` bytes. A valid file is then moved
atomically (``os.replace``) to ``<folder>/<sha[:2]>/<sha>``; the same content uploaded twice
is stored once. The temporary file is removed on every error. Directories are created with
mode 0o750, files get mode 0o640.

The original file name is metadata only: ``sanitise_filename`` keeps a harmless basename for
display and downloads, and no path is ever built from it; paths come from ``evidence_path``,
which accepts nothing but a 64-character lowercase hex digest.

The caller supplies the folder and the size limit; the defaults are ``DEFAULT_FOLDER_NAME``
under the application's instance folder and ``DEFAULT_MAX_BYTES`` (10 MB, 1 MB = 1024 * 1024
bytes).

Pure module: no Flask, no SQLAlchemy; plain values in, frozen dataclasses out.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DEFAULT_FOLDER_NAME",
    "DEFAULT_MAX_BYTES",
    "HEAD_BYTES",
    "MAX_FILENAME_LENGTH",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MEDIA_EXTENSIONS",
    "TAIL_BYTES",
    "EvidenceError",
    "StoredFile",
    "check_dimensions",
    "evidence_path",
    "image_dimensions",
    "sanitise_filename",
    "sniff_content_type",
    "store_evidence",
]

MEDIA_EXTENSIONS: dict[str, str] = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
}
MB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MB
DEFAULT_FOLDER_NAME = "evidence"
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
MAX_FILENAME_LENGTH = 200
# The head must hold the PNG signature and the whole IHDR chunk (8 + 25 bytes).
HEAD_BYTES = 64
# A ZIP end-of-central-directory record (22 bytes) may be followed by a comment of up to
# 65535 bytes, so this much of the end is kept to find one.
TAIL_BYTES = 22 + 65535
PDF_EOF_WINDOW = 1024
JPEG_MAX_TRAILING = 32

DIR_MODE = 0o750
FILE_MODE = 0o640
_CHUNK = 64 * 1024

_PDF_MAGIC = re.compile(rb"%PDF-[0-9]\.[0-9]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR = b"\x00\x00\x00\x0dIHDR"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_SOI = b"\xff\xd8\xff"
_JPEG_EOI = b"\xff\xd9"
_JPEG_PADDING = b" \t\r\n\x0b\x0c\x00"
# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG, reserved) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# TEM and RST0..RST7 have no length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Real files have a few dozen segments before the frame header; more means a crafted file.
_JPEG_MAX_SEGMENTS = 1024
_JPEG_MAX_FILL = 1024
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_END_RECORD = b"PK\x05\x06"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Control (Cc), format (Cf, e.g. right-to-left override), surrogate (Cs, from undecodable
# bytes) and line/paragraph separators: none belongs in a file name shown to people.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")

_NOT_ACCEPTED = "This file is not a PDF, PNG or JPEG (it was checked by content, not by name)."


class EvidenceError(ValueError):
    """An evidence file was refused; ``message`` can be shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A stored evidence file: its digest, size, checked content type and display name."""

    sha256: str
    size: int
    content_type: str
    filename: str


def _has_zip_end_record(tail: bytes) -> bool:
    """Return True when ``tail`` (the end of a file) holds a ZIP end-of-central-directory record.

    ZIP readers search the last 64 KiB for this record and tolerate bytes after its comment,
    so the record need not end the file. Besides the signature, the disk numbers must be 0
    (or 0xFFFF for ZIP64), both entry counts equal and the comment must fit: random bytes in a
    PDF stream or image data almost never look like that.
    """
    position = tail.rfind(_ZIP_END_RECORD)
    while position != -1:
        record = tail[position : position + 22]
        if (
            len(record) == 22
            and record[4:8] in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff")
            and record[8:10] == record[10:12]
            and position + 22 + int.from_bytes(record[20:22], "little") <= len(tail)
        ):
            return True
        position = tail.rfind(_ZIP_END_RECORD, 0, position)
    return False


def _sniff_pdf(tail: bytes) -> str:
    if b"%%EOF" not in tail[-PDF_EOF_WINDOW:]:
        raise EvidenceError(
            "This PDF is incomplete or damaged: it does not end with the %%EOF marker."
        )
    return "application/pdf"


def _sniff_png(head: bytes, tail: bytes, size: int) -> str:
    if head[8:16] != _PNG_IHDR or len(head) < 33:
        raise EvidenceError("This PNG is damaged: its header (IHDR chunk) is missing.")
    if zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big"):
        raise EvidenceError("This PNG is damaged: its header (IHDR chunk) has a wrong checksum.")
    if size < 33 + len(_PNG_IEND) or not tail.endswith(_PNG_IEND):
        raise EvidenceError(
            "This PNG is incomplete or has extra data after its end (IEND chunk)."
        )
    return "image/png"


def _sniff_jpeg(tail: bytes, size: int) -> str:
    body = tail.rstrip(_JPEG_PADDING)
    if len(tail) - len(body) > JPEG_MAX_TRAILING or size < 4 or not body.endswith(_JPEG_EOI):
        raise EvidenceError(
            "This JPEG is incomplete or has extra data after its end (EOI marker)."
        )
    return "image/jpeg"


def sniff_content_type(head: bytes, tail: bytes, size: int) -> str:
    """Return the media type of a file from its first and last bytes, or raise EvidenceError."""
    # ``head`` is the first HEAD_BYTES bytes (or the whole file), ``tail`` the last TAIL_BYTES
    # (or the whole file): the checks below rely on both touching the file's ends.
    if size <= 0:
        raise EvidenceError("The file is empty.")
    if head.startswith(_ZIP_LOCAL_HEADER):
        raise EvidenceError(
            "This file is a ZIP archive (Word and Excel files are ZIP archives too), "
            "not a PDF, PNG or JPEG."
        )
    if head.startswith(_PNG_SIGNATURE):
        content_type = _sniff_png(head, tail, size)
    elif head.startswith(_JPEG_SOI):
        content_type = _sniff_jpeg(tail, size)
    elif _PDF_MAGIC.match(head):
        content_type = _sniff_pdf(tail)
    else:
        raise EvidenceError(_NOT_ACCEPTED)
    if _has_zip_end_record(tail):
        raise EvidenceError(
            "This file also contains a ZIP archive; files that are two formats at once "
            "are refused."
        )
    return content_type


def _read_exact(stream: BinaryIO, count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise EvidenceError(f"This {what} is damaged: it ends before its image size.")
    return data


def _png_dimensions(stream: BinaryIO) -> tuple[int, int]:
    header = _read_exact(stream, 33, "PNG")
    if header[:8] != _PNG_SIGNATURE or header[8:16] != _PNG_IHDR:
        raise EvidenceError("This PNG is damaged: its header (IHDR chunk) is missing.")
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def _jpeg_marker(stream: BinaryIO) -> int:
    if _read_exact(stream, 1, "JPEG") != b"\xff":
        raise EvidenceError("This JPEG is damaged: a segment does not start with a marker.")
    for _ in range(_JPEG_MAX_FILL):
        byte = _read_exact(stream, 1, "JPEG")[0]
        if byte != 0xFF:
            return byte
    raise EvidenceError("This JPEG is damaged: it has too many fill bytes.")


def _jpeg_dimensions(stream: BinaryIO) -> tuple[int, int]:
    if _read_exact(stream, 2, "JPEG") != _JPEG_SOI[:2]:
        raise EvidenceError("This JPEG is damaged: it does not start with an SOI marker.")
    for _ in range(_JPEG_MAX_SEGMENTS):
        marker = _jpeg_marker(stream)
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0x00, 0xD8, 0xD9, 0xDA):
            raise EvidenceError(
                "This JPEG is damaged: its image size (SOF segment) is missing."
            )
        length = int.from_bytes(_read_exact(stream, 2, "JPEG"), "big")
        if marker in _JPEG_SOF:
            if length < 8:
                raise EvidenceError("This JPEG is damaged: its SOF segment is too short.")
            frame = _read_exact(stream, 5, "JPEG")
            height = int.from_bytes(frame[1:3], "big")
            width = int.from_bytes(frame[3:5], "big")
            if height == 0:
                # Legal (a DNL segment gives the height later) but unheard of outside crafted
                # files, and it would hide the size from this check.
                raise EvidenceError("This JPEG does not state its height, so it is refused.")
            return width, height
        if length < 2:
            raise EvidenceError("This JPEG is damaged: a segment has an invalid length.")
        stream.seek(length - 2, os.SEEK_CUR)
    raise EvidenceError("This JPEG is damaged: its image size (SOF segment) was not found.")


def image_dimensions(stream: BinaryIO, content_type: str) -> tuple[int, int] | None:
    """Return (width, height) read from an image's header, None for a PDF; rewinds ``stream``."""
    if content_type not in MEDIA_EXTENSIONS:
        raise ValueError(f"unknown evidence content type {content_type!r}")
    if content_type == "application/pdf":
        return None
    stream.seek(0)
    if content_type == "image/png":
        return _png_dimensions(stream)
    return _jpeg_dimensions(stream)


def check_dimensions(width: int, height: int) -> None:
    """Raise EvidenceError unless the size is positive and within MAX_SIDE and MAX_PIXELS."""
    if width <= 0 or height <= 0:
        raise EvidenceError(
            f"This image is damaged: its size is {width} × {height} pixels."
        )
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise EvidenceError(
            f"This image is too large: {width:,} × {height:,} pixels (the limit is "
            f"{MAX_SIDE:,} pixels a side and {MAX_PIXELS // 1_000_000} million pixels in all)."
        )


def sanitise_filename(name: str | None, content_type: str) -> str:
    """Return a display-safe basename of ``name``, or ``evidence.<ext>`` when nothing is left."""
    extension = MEDIA_EXTENSIONS.get(content_type)
    if extension is None:
        raise ValueError(f"unknown evidence content type {content_type!r}")
    fallback = f"evidence.{extension}"
    if not name:
        return fallback
    text = unicodedata.normalize("NFC", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    # Browsers on Windows send full paths; take the last component with either separator.
    text = re.split(r"[/\\]", text)[-1]
    text = _DRIVE_PREFIX.sub("", text)
    # Leading dots would make a hidden file on download; ".." and "." mean nothing.
    text = text.strip().lstrip(".").strip()
    if not text:
        return fallback
    if len(text) > MAX_FILENAME_LENGTH:
        stem, dot, suffix = text.rpartition(".")
        if dot and stem and 0 < len(suffix) <= 10:
            text = stem[: MAX_FILENAME_LENGTH - len(suffix) - 1].rstrip() + "." + suffix
        else:
            text = text[:MAX_FILENAME_LENGTH].rstrip()
    return text


def evidence_path(folder: Path, sha256: str) -> Path:
    """Return ``folder/<sha[:2]>/<sha>`` after checking ``sha256`` is 64 lowercase hex digits."""
    if not isinstance(sha256, str) or _SHA256_HEX.fullmatch(sha256) is None:
        raise EvidenceError("This is not a valid evidence file reference.")
    return folder / sha256[:2] / sha256


def _format_limit(max_bytes: int) -> str:
    megabytes = max_bytes / MB
    if max_bytes % MB == 0:
        return f"{max_bytes // MB} MB"
    if megabytes >= 0.1:
        return f"{megabytes:.1f} MB"
    return f"{megabytes:.6f} MB ({max_bytes:,} bytes)"


def _make_dir(path: Path) -> None:
    """Create ``path`` (mode DIR_MODE) unless it exists; its parents get the default mode."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    # mkdir's mode is filtered by the umask; set it exactly.
    os.chmod(path, DIR_MODE)


@dataclass(frozen=True, slots=True)
class _Copied:
    sha256: str
    size: int
    head: bytes
    tail: bytes


def _copy(stream: BinaryIO, out: BinaryIO, max_bytes: int) -> _Copied:
    """Copy at most ``max_bytes + 1`` bytes, hashing them and keeping both ends."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    while size <= max_bytes:
        chunk = stream.read(min(_CHUNK, max_bytes + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise EvidenceError(
                f"The file is too large: the limit is {_format_limit(max_bytes)}."
            )
        digest.update(chunk)
        out.write(chunk)
        if len(head) < HEAD_BYTES:
            head = (head + chunk[:HEAD_BYTES])[:HEAD_BYTES]
        tail = (tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]
    return _Copied(digest.hexdigest(), size, head, tail)


def store_evidence(
    stream: BinaryIO, original_name: str | None, folder: Path, max_bytes: int
) -> StoredFile:
    """Check and store the file read from ``stream`` under ``folder``; raise EvidenceError."""
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    tmp_dir = folder / "tmp"
    _make_dir(folder)
    _make_dir(tmp_dir)
    fd, tmp_name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
    tmp_path = Path(tmp_name)
    try:
        with open(fd, "w+b") as out:
            copied = _copy(stream, out, max_bytes)
            if copied.size == 0:
                raise EvidenceError("The file is empty.")
            content_type = sniff_content_type(copied.head, copied.tail, copied.size)
            out.flush()
            dimensions = image_dimensions(out, content_type)
            if dimensions is not None:
                check_dimensions(*dimensions)
            os.fsync(out.fileno())
        os.chmod(tmp_path, FILE_MODE)
        target = evidence_path(folder, copied.sha256)
        _make_dir(target.parent)
        if target.exists():
            # Same name, same content: the file is already stored.
            tmp_path.unlink()
        else:
            os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return StoredFile(
        sha256=copied.sha256,
        size=copied.size,
        content_type=content_type,
        filename=sanitise_filename(original_name, content_type),
    )
