"""Validators for seller data: country, VAT identifier, website and device categories.

Every ``check_*`` function returns ``None`` when the value is acceptable and otherwise one
sentence a user can act on. Formats only are checked: whether a VAT number really exists is
LEGAL-2 of the checklist (a VIES look-up by a person), not something a regex can know.

Pure module: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DEVICE_CATEGORIES",
    "EU_VAT_COUNTRIES",
    "ISO_COUNTRY_CODES",
    "check_country",
    "check_device_categories",
    "check_email",
    "check_url",
    "check_vat_format",
    "check_vat_id",
    "normalise_country",
    "normalise_vat",
    "vat_prefix_for",
]

# ISO 3166-1 alpha-2: all 249 officially assigned codes (reserved and user-assigned codes such
# as UK, EU or XK are not countries in the standard and are refused).
ISO_COUNTRY_CODES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET
    FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU
    ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP
    KE KG KH KI KM KN KP KR KW KY KZ
    LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
    NA NC NE NF NG NI NL NO NP NR NU NZ
    OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA
    RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
    UA UG UM US UY UZ
    VA VC VE VG VI VN VU
    WF WS
    YE YT
    ZA ZM ZW
    """.split()
)

# Codes people type that are not ISO alpha-2, with the code they almost certainly meant.
_COUNTRY_HINTS: dict[str, str] = {"UK": "GB", "EL": "GR"}

DEVICE_CATEGORIES: frozenset[str] = frozenset(
    {"smartphone", "tablet", "laptop", "smartwatch", "console"}
)


@dataclass(frozen=True, slots=True)
class _VatFormat:
    country_name: str
    prefix: str
    body: re.Pattern[str]
    description: str


def _fmt(name: str, prefix: str, body: str, description: str) -> _VatFormat:
    return _VatFormat(name, prefix, re.compile(body, re.ASCII), description)


# Structure of the number after the prefix, per the European Commission's VIES format table.
_VAT_FORMATS: dict[str, _VatFormat] = {
    "AT": _fmt("Austrian", "AT", r"U\d{8}", "ATU + 8 digits"),
    "BE": _fmt("Belgian", "BE", r"[01]\d{9}", "BE + 10 digits starting with 0 or 1"),
    "BG": _fmt("Bulgarian", "BG", r"\d{9,10}", "BG + 9 or 10 digits"),
    "CY": _fmt("Cypriot", "CY", r"\d{8}[A-Z]", "CY + 8 digits + 1 letter"),
    "CZ": _fmt("Czech", "CZ", r"\d{8,10}", "CZ + 8 to 10 digits"),
    "DE": _fmt("German", "DE", r"\d{9}", "DE + 9 digits"),
    "DK": _fmt("Danish", "DK", r"\d{8}", "DK + 8 digits"),
    "EE": _fmt("Estonian", "EE", r"\d{9}", "EE + 9 digits"),
    "ES": _fmt(
        "Spanish",
        "ES",
        r"[A-Z]\d{7}[A-Z0-9]|\d{8}[A-Z]",
        "ES + a letter or digit, 7 digits and a letter or digit (not all digits)",
    ),
    "FI": _fmt("Finnish", "FI", r"\d{8}", "FI + 8 digits"),
    "FR": _fmt(
        "French",
        "FR",
        r"[0-9A-HJ-NP-Z]{2}\d{9}",
        "FR + 2 letters or digits (no I or O) + 9 digits",
    ),
    "GR": _fmt("Greek", "EL", r"\d{9}", "EL + 9 digits"),
    "HR": _fmt("Croatian", "HR", r"\d{11}", "HR + 11 digits"),
    "HU": _fmt("Hungarian", "HU", r"\d{8}", "HU + 8 digits"),
    "IE": _fmt(
        "Irish",
        "IE",
        r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
        "IE + 7 digits and 1 or 2 letters",
    ),
    "IT": _fmt("Italian", "IT", r"\d{11}", "IT + 11 digits"),
    "LT": _fmt("Lithuanian", "LT", r"\d{9}|\d{12}", "LT + 9 or 12 digits"),
    "LU": _fmt("Luxembourgish", "LU", r"\d{8}", "LU + 8 digits"),
    "LV": _fmt("Latvian", "LV", r"\d{11}", "LV + 11 digits"),
    "MT": _fmt("Maltese", "MT", r"\d{8}", "MT + 8 digits"),
    "NL": _fmt("Dutch", "NL", r"\d{9}B\d{2}", "NL + 9 digits + B + 2 digits"),
    "PL": _fmt("Polish", "PL", r"\d{10}", "PL + 10 digits"),
    "PT": _fmt("Portuguese", "PT", r"\d{9}", "PT + 9 digits"),
    "RO": _fmt("Romanian", "RO", r"[1-9]\d{1,9}", "RO + 2 to 10 digits, not starting with 0"),
    "SE": _fmt("Swedish", "SE", r"\d{10}01", "SE + 12 digits ending in 01"),
    "SI": _fmt("Slovenian", "SI", r"\d{8}", "SI + 8 digits"),
    "SK": _fmt("Slovak", "SK", r"\d{10}", "SK + 10 digits"),
    # Outside the EU, but common among the marketplace's sellers.
    "GB": _fmt("UK", "GB", r"\d{9}|\d{12}", "GB + 9 or 12 digits"),
    "CH": _fmt(
        "Swiss",
        "CHE",
        r"\d{9}(?:MWST|TVA|IVA)?",
        "CHE + 9 digits, optionally followed by MWST, TVA or IVA",
    ),
}

EU_VAT_COUNTRIES: frozenset[str] = frozenset(_VAT_FORMATS) - {"GB", "CH"}

# Longest prefix first so that "CHE..." is recognised before any two-letter prefix.
_KNOWN_PREFIXES: tuple[tuple[str, str], ...] = tuple(
    sorted(((f.prefix, c) for c, f in _VAT_FORMATS.items()), key=lambda pc: -len(pc[0]))
)

_VAT_CHARS = re.compile(r"[A-Z0-9+*]+", re.ASCII)  # + and * occur in old Irish numbers
_OTHER_TAX_ID = re.compile(r"[A-Z0-9]{4,20}", re.ASCII)
_VAT_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015]")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)
_MAX_URL_LENGTH = 2048
_MAX_EMAIL_LENGTH = 254
# Dot-atom local part of RFC 5322 (no quoted strings: no real seller uses them).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*", re.ASCII)
_TLD = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}", re.ASCII)


def normalise_country(code: str) -> str:
    """Return ``code`` stripped and upper-cased (``" de "`` -> ``"DE"``)."""
    return code.strip().upper()


def check_country(code: str) -> str | None:
    """Return an error unless ``code`` is an assigned ISO 3166-1 alpha-2 code in capitals."""
    if not code:
        return "Country is required (a two-letter ISO code such as DE)"
    if code in ISO_COUNTRY_CODES:
        return None
    if code.upper() in ISO_COUNTRY_CODES:
        return f"Country code {code!r} must be written in capitals: {code.upper()}"
    hint = _COUNTRY_HINTS.get(code.upper())
    if hint is not None:
        return f"{code!r} is not an ISO 3166-1 country code; use {hint}"
    return f"{code!r} is not an ISO 3166-1 alpha-2 country code (for example DE, FR, NL)"


def normalise_vat(vat: str) -> str:
    """Return ``vat`` without spaces, dots and dashes, upper-cased (``de 123.456-789``)."""
    return _VAT_SEPARATORS.sub("", vat).upper()


def vat_prefix_for(country: str) -> str | None:
    """Return the VAT prefix of ``country`` (``GR`` -> ``EL``), or None outside EU/GB/CH."""
    fmt = _VAT_FORMATS.get(country)
    return fmt.prefix if fmt is not None else None


def _prefix_country(vat: str) -> str | None:
    for prefix, country in _KNOWN_PREFIXES:
        if vat.startswith(prefix):
            return country
    return None


def _check_format(vat: str, fmt: _VatFormat) -> str | None:
    body = vat[len(fmt.prefix) :]
    if vat.startswith(fmt.prefix) and fmt.body.fullmatch(body):
        return None
    return f"VAT ID {vat} does not have the {fmt.country_name} format: {fmt.description}"


def check_vat_format(vat: str) -> str | None:
    """Return an error unless ``vat`` fits the format its own prefix implies (no country check)."""
    value = normalise_vat(vat)
    if not value:
        return "VAT ID is required"
    if not _VAT_CHARS.fullmatch(value):
        return f"VAT ID {value} may only contain letters and digits"
    own = _prefix_country(value)
    if own is not None:
        return _check_format(value, _VAT_FORMATS[own])
    if not _OTHER_TAX_ID.fullmatch(value):
        return f"Tax ID {value} must be 4 to 20 letters and digits"
    return None


def check_vat_id(vat: str, country: str) -> str | None:
    """Return an error unless ``vat`` has the VAT format of ``country`` and its prefix."""
    value = normalise_vat(vat)
    if check_country(country) is not None:
        return check_vat_format(value) or "VAT ID cannot be checked without a valid country"
    if not value:
        return "VAT ID is required"
    if not _VAT_CHARS.fullmatch(value):
        return f"VAT ID {value} may only contain letters and digits"
    fmt = _VAT_FORMATS.get(country)
    other = _prefix_country(value)
    if fmt is None:
        # Only a full match counts as a foreign VAT number: tax IDs elsewhere may start with
        # the same letters (a Mexican RFC can start with "SE").
        if other is not None and _check_format(value, _VAT_FORMATS[other]) is None:
            return (
                f"VAT ID {value} is a {_VAT_FORMATS[other].country_name} number, "
                f"but the seller's country is {country}"
            )
        if not _OTHER_TAX_ID.fullmatch(value):
            return f"Tax ID {value} must be 4 to 20 letters and digits"
        return None
    if not value.startswith(fmt.prefix):
        if country == "GR" and value.startswith("GR"):
            return f"Greek VAT IDs start with EL, not GR: EL{value[2:]}"
        if other is not None:
            return (
                f"VAT ID {value} starts with {_VAT_FORMATS[other].prefix}, "
                f"but the seller's country {country} uses {fmt.prefix}"
            )
        return f"VAT ID {value} must start with {fmt.prefix} ({fmt.description})"
    return _check_format(value, fmt)


def check_email(email: str) -> str | None:
    """Return an error unless ``email`` looks like a deliverable address (syntax only)."""
    if not email:
        return "E-mail address is required"
    if len(email) > _MAX_EMAIL_LENGTH:
        return f"E-mail address is longer than {_MAX_EMAIL_LENGTH} characters"
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return f"E-mail address {email!r} needs a name, an @ and a domain (name@example.com)"
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        return f"E-mail address {email!r} has an invalid part before the @"
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
    ):
        return f"E-mail address {email!r} has an invalid domain after the @"
    return None


def check_url(url: str) -> str | None:
    """Return an error unless ``url`` is an absolute http(s) URL with a valid host."""
    example = "for example https://www.example.com"
    if not url:
        return "Website is empty"
    if len(url) > _MAX_URL_LENGTH:
        return f"Website address is longer than {_MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "Website address may not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        return f"Website {url!r} is not a valid address ({example})"
    if parts.scheme.lower() not in ("http", "https"):
        return f"Website must start with http:// or https:// ({example})"
    if parts.username is not None or parts.password is not None:
        return "Website address may not contain a user name or password"
    if not hostname:
        return f"Website {url!r} has no host name ({example})"
    if not _valid_host(hostname):
        return f"Website host {hostname!r} is not a valid domain name ({example})"
    return None


def _valid_host(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return True
    try:
        ascii_host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    ascii_host = ascii_host.removesuffix(".")
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or len(labels) < 2:
        return False
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def check_device_categories(values: Iterable[str]) -> str | None:
    """Return an error if ``values`` is empty or names a category the marketplace lacks."""
    given = list(values)
    if not given:
        return "At least one device category is required"
    unknown = list(dict.fromkeys(v for v in given if v not in DEVICE_CATEGORIES))
    if not unknown:
        return None
    allowed = ", ".join(sorted(DEVICE_CATEGORIES))
    names = ", ".join(repr(v) for v in unknown)
    noun = "category" if len(unknown) == 1 else "categories"
    return f"Unknown device {noun} {names} (allowed: {allowed})"


# The most units a month a seller may declare (form, API and CSV import).
MAX_VOLUME = 1_000_000

# The width of the registration columns (the number as given and its normalised key).
MAX_REGISTRATION_LENGTH = 64


def normalise_registration(registration: str) -> str:
    """The comparison key of a company registration number ("HRB 12345" == "hrb12345")."""
    return re.sub(r"\s+", "", registration).casefold()
