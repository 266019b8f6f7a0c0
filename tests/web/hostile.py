"""Hostile input for the web tests: strategies, a database fingerprint and the form property.

Every form is posted through its real view with a valid CSRF token. The property checked
for each post (``post_and_check``):

* the answer is never a 5xx;
* a post that records no audit entry changed nothing at all (every table's rows are
  fingerprinted before and after) and the user sees why: a field message, a danger flash
  (also after a redirect), an import error table or an error page with a 4xx code;
* a post that records an audit entry answered 2xx/3xx, and the spec's round-trip check
  (what was posted is what is stored) holds.

``make test`` runs ``WEB_EXAMPLES`` examples per property; ``HYPOTHESIS_PROFILE=soak`` ten
times as many (the profile itself is registered in tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.db import db
from core.models import AuditEntry
from tests.conftest import csrf_token

SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
WEB_EXAMPLES = 300 if SOAK else 30

web_settings = settings(
    max_examples=WEB_EXAMPLES, deadline=None, derandomize=not SOAK,
    phases=[Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("NO_SHRINK")
    else list(Phase),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example],
)

# ---------------------------------------------------------------- strategies

# Strings that have broken web apps: control and format characters, case mappings that grow
# ("ß".upper() == "SS"), digits that are not ASCII, numbers Python parses but people do not
# mean, spreadsheet formulas, markup, template and SQL syntax, paths.
ODD_STRINGS = (
    "\x00", "a\x00b", "\x1b[31m", "\x07", "\x7f", "\x85", "\r\n", "\u2028", "\u2029",
    "\u202e", "\u200f", "\u200b", "\u2066", "\ufeff", "\u00ad", "e\u0301", "\u0130", "ß" * 40,
    "\ufb03" * 30, "\U0001d518", "\U0001f984", "١٢٣", "²", "¼", "NaN", "nan", "-NaN",
    "sNaN", "Infinity", "-inf", "1e309", "-0", "0x10", "1_000", "９９", " 7 ", "1e-999999",
    "99999999999999999999999", "-2147483649", "=cmd|' /C calc'!A0", "+1+1", "-1+1",
    "@SUM(A1)", "\t=1", "<script>alert(1)</script>", "{{7*7}}", "'; DROP TABLE sellers; --",
    "%s%n%x", "../../etc/passwd", "C:\\Windows\\win.ini", "", " ", "\t \n",
)
text_chars = st.characters(blacklist_categories=("Cs",))
odd = st.sampled_from(ODD_STRINGS)


def long_text(limits: Sequence[int] = (200,)) -> st.SearchStrategy[str]:
    """Strings around a field's length limits, and far beyond them."""
    lengths = sorted({n + d for n in limits for d in (-1, 0, 1)} | {5_000, 70_000})
    return st.tuples(st.sampled_from([n for n in lengths if n >= 0]),
                     st.sampled_from("xßİ\U0001f984\u202e")).map(lambda t: t[1] * t[0])


def nasty_text(limits: Sequence[int] = (200,)) -> st.SearchStrategy[str]:
    """Arbitrary unicode (no surrogates), odd strings, mixtures and very long strings."""
    return st.one_of(
        st.text(text_chars, max_size=40),
        odd,
        st.lists(st.one_of(odd, st.text(text_chars, max_size=4)), max_size=5).map("".join),
        long_text(limits),
    )


def nasty_number() -> st.SearchStrategy[str]:
    """Numbers as a browser would send them: negative, zero, huge, NaN, words."""
    return st.one_of(
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        odd,
    )


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def hostile(valid: st.SearchStrategy[Any], limits: Sequence[int] = (200,),
            numeric: bool = False) -> st.SearchStrategy[Any]:
    """A field's value: valid, hostile, missing, or sent twice (first one valid or not)."""
    bad = nasty_number() if numeric else nasty_text(limits)
    single = st.one_of(valid, bad)
    return st.one_of(valid, bad, st.just(MISSING),
                     st.lists(single, min_size=2, max_size=3).map(Repeated))


@dataclass(frozen=True)
class Repeated:
    """A field sent more than once (``name=a&name=b``)."""

    values: list[Any]


@dataclass(frozen=True)
class Current:
    """A value read at post time (a record's current version), so it is valid when posted."""

    read: Callable[[], Any]


def encode(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Turn drawn field values into test-client form data."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if value is MISSING:
            continue
        if isinstance(value, Current):
            value = value.read()
        if isinstance(value, Repeated):
            value = [v.read() if isinstance(v, Current) else v for v in value.values
                     if v is not MISSING]
        out[prefix + name] = value
    return out


def first(value: Any) -> Any:
    """What a single-valued form field reads from a drawn value (None when missing)."""
    if isinstance(value, Current):
        return value.read()
    if isinstance(value, Repeated):
        sent = [v for v in value.values if v is not MISSING]
        return first(sent[0]) if sent else None
    return None if value is MISSING else value


# ---------------------------------------------------------------- the database fingerprint

def fingerprint(exclude: frozenset[str] = frozenset()) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table (but ``exclude``)."""
    db.session.commit()
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in exclude:
            continue
        rows = db.session.execute(select(table)).all()
        digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        out[table.name] = (len(rows), digest)
    db.session.commit()
    return out


def audit_count() -> int:
    """How many audit entries exist."""
    return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


ERROR_PAGE = re.compile(r"\((4\d\d)\)</small>")
MESSAGE_MARKERS = ("invalid-feedback", "alert-danger", "alert-warning", "Nothing was imported",
                   "text-danger")


def shows_a_problem(html: str) -> bool:
    """True when the page tells the user something went wrong."""
    return any(m in html for m in MESSAGE_MARKERS) or ERROR_PAGE.search(html) is not None


# ---------------------------------------------------------------- posting

@dataclass
class Outcome:
    """What a post did: the response, whether it was accepted, the page the user saw."""

    status: int
    accepted: bool
    page: str
    location: str = ""


@dataclass
class Poster:
    """Posts forms for one signed-in client, reusing the session's CSRF token."""

    client: FlaskClient
    exclude: frozenset[str] = frozenset()
    token_from: str = "/"
    _token: str = field(default="", init=False)

    def token(self) -> str:
        if not self._token:
            self._token = csrf_token(self.client, self.token_from)
        return self._token

    def post(self, path: str, data: Mapping[str, Any], *, csrf_prefix: str = "",
             multipart: bool = False, noop_ok: bool = False,
             follow: bool = True) -> Outcome:
        """POST ``data`` (already encoded) and check the hostile-input property."""
        before = fingerprint(self.exclude)
        audits = audit_count()
        kwargs: dict[str, Any] = {"content_type": "multipart/form-data"} if multipart else {}
        response = self.client.post(
            path, data={**data, csrf_prefix + "csrf_token": self.token()}, **kwargs)
        status = response.status_code
        sent = repr(data)[:1500]
        assert status < 500, (status, path, sent, response.get_data(as_text=True)[-2000:])
        page = response.get_data(as_text=True)
        location = response.headers.get("Location", "")
        if 300 <= status < 400 and follow:
            page = self.client.get(location).get_data(as_text=True)
        accepted = audit_count() > audits
        if accepted:
            assert status < 400, (status, sent, page[-2000:])
            return Outcome(status, True, page, location)
        after = fingerprint(self.exclude)
        changed = [t for t in before if before[t] != after[t]]
        assert not changed, f"a post without an audit entry changed {changed}: {sent}"
        if not noop_ok:
            assert shows_a_problem(page), f"no visible message ({status}) for {path} {sent}"
        return Outcome(status, False, page, location)
