"""Data Docs without CDNs: GX's pages point at vendored copies, opened from disk or served."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import great_expectations
import pytest

from driftloop.data.conform import conform_frame
from driftloop.exceptions import ConfigError
from driftloop.validation.datadocs import (
    ASSET_DIR,
    ASSETS,
    inline_page,
    localise_page,
    localise_site,
)
from driftloop.validation.runner import validate_frame
from driftloop.validation.suites import build_suite, write_suite
from tests.support.page_urls import is_external, page_urls
from tests.unit.validation.test_validation import sample_frame, sample_spec

TEMPLATES = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
EVIL = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Data Docs site with a passing batch and one whose category is markup."""
    folder = tmp_path_factory.mktemp("datadocs")
    sample = sample_frame()
    spec = sample_spec(sample)
    write_suite(build_suite(sample, spec), folder / "credit.json")
    good = conform_frame(sample, spec)
    bad = good.copy()
    bad["region"] = bad["region"].astype(object)
    bad.loc[0, "region"] = EVIL
    pages = [
        validate_frame(
            frame,
            spec=spec,
            suite_path=folder / "credit.json",
            reports_dir=folder / "reports",
            run_name=name,
            batch_label=f"ingest-{name}/batch.parquet",
        ).docs_path
        for name, frame in (("good", good), ("bad", bad))
    ]
    return pages[0].parents[4]


def _cdn_files() -> dict[str, str]:
    """URL -> its tag, for each file GX's templates load from a CDN."""
    found = {}
    for template in sorted(TEMPLATES.glob("*.j2")):
        for tag, url in page_urls(template.read_text(encoding="utf-8")):
            if tag in {"script", "link"} and is_external(url):
                found[url] = tag
    return found


def test_every_file_gx_loads_from_a_cdn_is_vendored() -> None:
    served = {asset.served_at: asset.file for asset in ASSETS if asset.served_at}
    cdn = _cdn_files()

    assert len(cdn) == 16
    assert {re.sub(r"^\w+://[^/]+", "", url) for url in cdn} == set(served)
    for asset in ASSETS:
        assert (ASSET_DIR / asset.file).is_file(), f"{asset.file}: run make install"


def test_the_copies_are_the_files_gx_pins_by_hash() -> None:
    imports = (TEMPLATES / "js_script_imports.j2").read_text(encoding="utf-8")
    pinned = re.findall(r'src="\w+://[^/"]+(/[^"]+)" integrity="sha384-([^"]+)"', imports)
    files = {asset.served_at: asset.file for asset in ASSETS}

    assert len(pinned) == 2
    for path, digest in pinned:
        data = (ASSET_DIR / files[path]).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == digest, path


def test_every_page_of_a_built_site_names_only_its_own_files(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))

    assert len(pages) == 3  # the index and the two validation pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "integrity=" not in text and "crossorigin" not in text
        for tag, url in page_urls(text):
            assert not is_external(url), f"{page.name}: <{tag}> {url}"
            if "static/" in url:
                assert (page.parent / url).resolve().is_file(), f"{page.name}: {url}"
    bad = next(page for page in pages if "bad" in page.parts)
    assert "static/vendor/jquery/dist/jquery.min.js" in bad.read_text(encoding="utf-8")


def test_the_vendored_styles_find_their_fonts(site: Path) -> None:
    for css in (site / "static" / "vendor").rglob("*.css"):
        for _, url in page_urls(f"<style>{css.read_text(encoding='utf-8')}</style>"):
            if not url.startswith("data:"):
                assert (css.parent / url.split("?")[0]).resolve().is_file(), f"{css.name}: {url}"


def test_localising_again_changes_nothing(site: Path) -> None:
    before = {page: page.read_bytes() for page in site.rglob("*.html")}

    assert localise_site(site) == []
    assert {page: page.read_bytes() for page in site.rglob("*.html")} == before


def test_links_and_files_without_a_local_copy_are_dropped(tmp_path: Path) -> None:
    page = (
        '<html><head><script src="https://cdn.test/x.js" integrity="sha384-x"></script>'
        '<style>.a{background:url("//cdn.test/a.png")}</style></head><body>'
        '<a href="https://docs.test/how">how</a><img src="//cdn.test/i.png" alt="i">'
        '<div style="background: url(https://cdn.test/b.png)">b</div></body></html>'
    )

    local = localise_page(page, tmp_path / "page.html", tmp_path)

    assert [url for _, url in page_urls(local) if is_external(url)] == []
    assert ">how</a>" in local and 'alt="i"' in local


def test_a_site_cannot_be_localised_without_the_assets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make install"):
        localise_site(tmp_path, assets=tmp_path / "missing")


def test_a_page_served_alone_carries_its_styles_scripts_and_fonts(site: Path) -> None:
    page = next(p for p in sorted(site.rglob("*.html")) if "bad" in p.parts)
    alone = inline_page(page.read_text(encoding="utf-8"))

    assert "static/vendor/" not in alone
    assert alone.count("<style>") >= 5 and alone.count("<script>") >= 5
    assert "url(data:font/woff2;base64," in alone
    for tag, url in page_urls(alone):
        assert not is_external(url), f"<{tag}> {url}"
