"""The URLs an HTML page names, found with the standard library's parser, for report tests."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]*)["']?\s*\)""", re.I)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in {"src", "href", "srcset", "action", "data", "poster", "xlink:href"}:
                self.urls.append((tag, value))
            elif name == "style":
                self.urls += [(tag, url) for url in _CSS_URL.findall(value)]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += [("style", url) for url in _CSS_URL.findall(data)]


def page_urls(html: str) -> list[tuple[str, str]]:
    """(tag, URL) of every ``src``/``href``-like attribute and every ``url()`` in styles."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.urls


def is_external(url: str) -> bool:
    """Whether loading or following ``url`` leaves the page's own files (``//host`` too)."""
    parts = urlsplit(url.strip())
    return bool(parts.netloc) or parts.scheme not in {"", "data"}
