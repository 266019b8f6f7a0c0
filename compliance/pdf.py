"""PDF rendering with WeasyPrint, allowed to read nothing but the project's static files."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.request import url2pathname

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse


class StaticOnlyFetcher(URLFetcher):
    """Serve file:// URLs inside `root` and refuse everything else (no network, no files)."""

    def __init__(self, root: Path) -> None:
        super().__init__(allowed_protocols={"file"}, allow_redirects=False)
        self.root = root.resolve()

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        """Return a static file's content, or raise for anything outside the static folder."""
        if not url.startswith("file:"):
            raise ValueError(f"reports may only use the static folder, not {url!r}")
        path = Path(url2pathname(url.split("?")[0].split("#")[0].removeprefix("file:"))).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise ValueError(f"reports may only use the static folder, not {url!r}")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered document and its page count."""

    data: bytes
    pages: int


def render_pdf(html: str, static_root: Path) -> RenderedPdf:
    """Lay out `html` (relative URLs resolve inside `static_root`) and write the PDF."""
    document = HTML(string=html, base_url=static_root.resolve().as_uri() + "/",
                    url_fetcher=StaticOnlyFetcher(static_root)).render()
    return RenderedPdf(document.write_pdf(), len(document.pages))
