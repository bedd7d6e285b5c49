"""Data Docs that work offline and under a strict Content-Security-Policy.

GX 1.24's page templates load Bootstrap, jQuery, bootstrap-table, bootstrap-datepicker,
Font Awesome, popper.js and Vega from public CDNs, and its logo from GX's own bucket.
``make install`` copies the same files, from the npm packages pinned in
``vendor/package-lock.json``, into ``datadocs_assets/`` beside this module
(``python -m driftloop.validation.datadocs <node_modules> <folder>``). :func:`localise_site`
copies them into a built site (``static/vendor/``) and points every page at them by
relative path; outbound links (GX's docs, its newsletter) are dropped, so nothing on a page
leaves the site. The pages then need :data:`DATA_DOCS_CSP`.
"""

from __future__ import annotations

import base64
import filecmp
import logging
import mimetypes
import os
import re
import shutil
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from driftloop.exceptions import ConfigError

logger = logging.getLogger(__name__)

ASSET_DIR = Path(__file__).with_name("datadocs_assets")

DATA_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self'"
)
"""What a localised Data Docs page needs.

GX writes inline scripts (table set-up, filters) and ``onclick`` handlers, inline style
blocks and ``style`` attributes; Bootstrap's CSS draws icons from ``data:`` images. A page
with a Vega chart (no driftloop suite draws one) needs ``'unsafe-eval'`` in ``script-src``
too: Vega compiles its expressions with ``Function``. GX writes unexpected values into the
page unescaped, and ``'unsafe-inline'`` lets markup among them run: serve the pages in a
sandbox without ``allow-same-origin``.
"""


@dataclass(frozen=True)
class Asset:
    """One vendored file: ``file`` is its path in ``node_modules`` and in the assets folder.

    ``served_at`` is the URL path (the host aside) GX's templates load it from; ``None`` for
    a file another asset loads by relative path (Font Awesome's fonts) or a licence.
    """

    file: str
    served_at: str | None = None


_FONTS = "@fortawesome/fontawesome-free/webfonts/fa-"
ASSETS = (
    Asset("bootstrap/dist/css/bootstrap.min.css", "/bootstrap/4.3.1/css/bootstrap.min.css"),
    Asset("bootstrap/dist/js/bootstrap.min.js", "/bootstrap/4.3.1/js/bootstrap.min.js"),
    Asset(
        "bootstrap-table/dist/bootstrap-table.min.css",
        "/bootstrap-table@1.19.1/dist/bootstrap-table.min.css",
    ),
    Asset(
        "bootstrap-table/dist/bootstrap-table.min.js",
        "/bootstrap-table@1.19.1/dist/bootstrap-table.min.js",
    ),
    Asset(
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
        "/bootstrap-table@1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.js",
    ),
    # GX asks for the filter-control styles of the release before its bootstrap-table's.
    Asset(
        "bootstrap-table-1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    Asset(
        "bootstrap-table-1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css",
        "/bootstrap-table@1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css",
    ),
    Asset(
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
        "/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
    ),
    Asset(
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
        "/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
    ),
    Asset(
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
        "/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
    ),
    Asset(
        "@fortawesome/fontawesome-free/css/all.min.css",
        "/ajax/libs/font-awesome/6.6.0/css/all.min.css",
    ),
    *(
        Asset(f"{_FONTS}{face}.{kind}")
        for face in ("brands-400", "regular-400", "solid-900", "v4compatibility")
        for kind in ("woff2", "ttf")
    ),
    Asset("jquery/dist/jquery.min.js", "/jquery-3.7.1.min.js"),
    Asset("popper.js/dist/umd/popper.min.js", "/ajax/libs/popper.js/1.12.9/umd/popper.min.js"),
    # The CDN serves the newest 5.x (6.x) of each; the lock pins the newest at locking time.
    Asset("vega/build/vega.min.js", "/npm/vega@5"),
    Asset("vega-lite/build/vega-lite.min.js", "/npm/vega-lite@5"),
    Asset("vega-embed/build/vega-embed.min.js", "/npm/vega-embed@6"),
    # Their licences, where the package ships one (vega and popper.js do not: popper.js'
    # bundle names its MIT licence, vega's package.json its BSD-3-Clause).
    *(
        Asset(f"{package}/{name}")
        for package, name in (
            ("bootstrap", "LICENSE"),
            ("bootstrap-table", "LICENSE"),
            ("bootstrap-table-1.19.0", "LICENSE"),
            ("bootstrap-datepicker", "LICENSE"),
            ("@forevolve/bootstrap-dark", "LICENSE"),
            ("@fortawesome/fontawesome-free", "LICENSE.txt"),
            ("jquery", "LICENSE.txt"),
            ("vega-lite", "LICENSE"),
            ("vega-embed", "LICENSE"),
        )
    ),
)
# GX's logo, from its bucket; GX ships the light one in the site's static/images. The dark
# one (a CSS background in dark mode) is not published anywhere else: the light one stands in.
_GX_IMAGES = {"/logo-long.png": "logo-long.png", "/full_logo_dark.png": "logo-long.png"}
_VENDOR = "static/vendor"
_MARK = '<meta name="driftloop-datadocs" content="localised">'
_ATTRIBUTE = re.compile(r"""(?<=\s)(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_SRI = re.compile(r"""\s(?:integrity|crossorigin)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?""", re.I)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)


def localise_site(site: Path, *, assets: Path = ASSET_DIR) -> list[Path]:
    """Copy the vendored assets into ``site`` and point its pages at them; return the pages changed.

    Pages already localised are skipped (GX rewrites its index on every build).

    Raises:
        ConfigError: the assets were not installed (``make install`` builds them).
    """
    missing = [asset.file for asset in ASSETS if not (assets / asset.file).is_file()]
    if missing:
        raise ConfigError(
            f"the Data Docs assets are not installed ({len(missing)} files missing in "
            f"{assets.name}/, e.g. {missing[0]}): run `make install`"
        )
    for asset in ASSETS:
        _copy(assets / asset.file, site / _VENDOR / asset.file)
    changed = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if _MARK in text:
            continue
        page.write_text(localise_page(text, page, site), encoding="utf-8")
        changed.append(page)
    return changed


def localise_page(text: str, page: Path, site: Path) -> str:
    """``text`` with every URL local: vendored copies, GX's images, or dropped."""
    pieces, last = [], 0
    for begin, end, is_tag in _Spans(text).found:
        span = text[begin:end]
        rewritten = _tag(span, page, site) if is_tag else _css(span, page, site)
        pieces += [text[last:begin], rewritten]
        last = end
    pieces.append(text[last:])
    return _mark("".join(pieces))


_VENDORED_TAG = re.compile(
    r"""<(link|script)\b[^>]*?(?:href|src)="(?:\.\./)*static/vendor/([^"]+)"[^>]*>(?:</script>)?""",
    re.I,
)


def inline_page(text: str, *, assets: Path = ASSET_DIR) -> str:
    """A localised page with its vendored CSS and JS inside it, fonts and images as data URIs.

    For a page served alone, away from its site (a quarantined batch's page in the store):
    it then needs nothing else, so it can be served in a sandbox whose requests carry no
    credentials. Vendored files it names that are not installed are left out.
    """

    def inlined(match: re.Match[str]) -> str:
        kind, name = match.group(1).lower(), match.group(2)
        source = (assets / name).resolve()
        if not source.is_relative_to(assets.resolve()) or not source.is_file():
            return ""
        body = source.read_text(encoding="utf-8")
        if kind == "script":
            return "<script>" + body.replace("</script", "<\\/script") + "</script>"
        return "<style>" + _data_urls(body, source.parent) + "</style>"

    return _VENDORED_TAG.sub(inlined, text)


def _data_urls(css: str, folder: Path) -> str:
    """CSS with each relative ``url()`` to a file beside it turned into a data URL."""

    def url(match: re.Match[str]) -> str:
        found = next(group for group in match.groups() if group is not None)
        path = (folder / urlsplit(found).path).resolve()
        if urlsplit(found).scheme or not path.is_file():
            return match.group(0)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"url(data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()})"

    return _CSS_URL.sub(url, css)


def _tag(raw: str, page: Path, site: Path) -> str:
    """A start tag, its ``src``/``href`` local or gone, and ``url()`` in its style local.

    A CDN file's ``integrity`` and ``crossorigin`` go with it: browsers refuse both on pages
    opened from disk. The copies are the files those hashes name (a test checks).
    """
    is_link = re.match(r"<a\b", raw, re.I) is not None
    localised = False

    def attribute(match: re.Match[str]) -> str:
        nonlocal localised
        url = next(group for group in match.groups() if group is not None)
        local = _local(url, page, site)
        if local is None:
            if not is_link:
                logger.warning("Data Docs page %s: dropped %s (no local copy)", page.name, url)
            return ""
        localised = localised or bool(urlsplit(url).netloc)
        return match.group(0).replace(url, local)

    raw = _ATTRIBUTE.sub(attribute, raw)
    if localised:
        raw = _SRI.sub("", raw)
    return _css(raw, page, site)


def _css(css: str, page: Path, site: Path) -> str:
    """CSS (a style element's text or a tag) with each ``url()`` local, or ``none``."""

    def url(match: re.Match[str]) -> str:
        found = next(group for group in match.groups() if group is not None)
        local = _local(found, page, site)
        if local is None:
            logger.warning("Data Docs page %s: dropped %s (no local copy)", page.name, found)
            return "none"
        return match.group(0).replace(found, local)

    return _CSS_URL.sub(url, css)


def _local(url: str, page: Path, site: Path) -> str | None:
    """The URL, as seen from ``page``, that replaces ``url``; ``None`` drops it."""
    parts = urlsplit(url)
    if not parts.netloc:
        return _repaired(url, page, site) if not parts.scheme else url
    target = _BY_PATH.get(parts.path)
    if target is None:
        return None
    return Path(os.path.relpath(site / target, page.parent)).as_posix()


def _repaired(url: str, page: Path, site: Path) -> str:
    """A relative link into ``static/`` that GX got wrong (its favicon, one level short)."""
    path = urlsplit(url).path
    if "static/" not in path or (page.parent / path).exists():
        return url
    fixed = site / "static" / path.rsplit("static/", 1)[1]
    return Path(os.path.relpath(fixed, page.parent)).as_posix() if fixed.exists() else url


_BY_PATH = {
    **{asset.served_at: f"{_VENDOR}/{asset.file}" for asset in ASSETS if asset.served_at},
    **{path: f"static/images/{name}" for path, name in _GX_IMAGES.items()},
}


def _mark(text: str) -> str:
    head = re.search(r"<head[^>]*>", text, re.I)
    if head is None:
        return _MARK + text
    return text[: head.end()] + _MARK + text[head.end() :]


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` with its times, unless ``target`` already has its size and times."""
    if target.is_file() and filecmp.cmp(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


class _Spans(HTMLParser):
    """Where a page may name URLs: its start tags, and the text of its style elements.

    ``found`` holds their spans in the page, in order, each marked as a tag or as CSS.
    Script text and comments are left alone.
    """

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        self._lines = [0, *(match.end() for match in re.finditer("\n", text))]
        self._in_style = False
        self.found: list[tuple[int, int, bool]] = []
        self.feed(text)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        self.found.append((start, start + len(self.get_starttag_text() or ""), True))
        self._in_style = tag == "style"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            start = self._offset()
            self.found.append((start, start + len(data), False))


def vendor(node_modules: Path, target: Path) -> None:
    """Copy each asset from ``node_modules`` into ``target``, which is emptied first.

    Raises:
        ConfigError: a file is not in ``node_modules`` (run ``npm ci`` in ``vendor/``).
    """
    missing = [asset.file for asset in ASSETS if not (node_modules / asset.file).is_file()]
    if missing:
        raise ConfigError(f"not in {node_modules}: {', '.join(missing)}")
    shutil.rmtree(target, ignore_errors=True)
    for asset in ASSETS:
        _copy(node_modules / asset.file, target / asset.file)


if __name__ == "__main__":
    vendor(Path(sys.argv[1]), Path(sys.argv[2]))
