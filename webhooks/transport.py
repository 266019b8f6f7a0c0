"""The HTTP request of one webhook delivery, with the standard library's urllib.

A plain POST with a timeout is all a webhook needs, so no HTTP client library is added.
Redirects are not followed (the body would be re-sent elsewhere or turned into a GET): a
3xx answer counts as a failed attempt, like any other non-2xx status.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from webhooks.services import Outcome
from webhooks.signing import compute_headers

_ANSWER_BYTES = 200  # of a failing answer's body, kept in last_error for the admin


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _snippet(data: bytes) -> str:
    return data[:_ANSWER_BYTES].decode("utf-8", "replace").strip()


def post(url: str, secret: str, event_key: str, topic: str, body: bytes, timestamp: int,
         timeout: float) -> Outcome:
    """Send one signed event; any 2xx answer is success, everything else a failure."""
    headers = compute_headers(secret, event_key, topic, timestamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - admins register only http(s) URLs
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
            response.read(_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        detail = _snippet(exc.read() or b"") if exc.fp is not None else ""
        exc.close()
        return Outcome(False, exc.code, f"HTTP {exc.code}" + (f": {detail}" if detail else ""))
    except TimeoutError:
        return Outcome(False, None, f"timed out after {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return Outcome(False, None, f"timed out after {timeout:g} s")
        return Outcome(False, None, f"connection failed: {reason}")
    except (OSError, ValueError) as exc:  # e.g. connection reset mid-answer, bad URL
        return Outcome(False, None, f"request failed: {exc}")
    if 200 <= status < 300:
        return Outcome(True, status)
    return Outcome(False, status, f"HTTP {status}")
