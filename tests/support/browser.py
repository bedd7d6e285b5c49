"""A real browser for UI tests: Playwright driving Debian's chromium (installed with apt).

Each login gets its own browser context (its own cookies), logged in through Airflow's own
login form. With ``only_local``, every request to a host other than 127.0.0.1 is refused
and remembered, so a page that needs the internet shows it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class Tab:
    """One page of a logged-in context."""

    def __init__(self, base_url: str, page: Any) -> None:
        self.base_url = base_url
        self.page = page

    def open(self, path: str) -> Tab:
        """Go to ``path`` on the stack; fail on an HTTP error."""
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return self

    def click(self, label: str) -> Tab:
        """Press the button labelled ``label`` and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=label).first.click()
        return self

    def open_link(self, label: str) -> Tab:
        """Follow the link labelled ``label`` in a new tab of the same context."""
        href = self.page.get_by_role("link", name=label).first.get_attribute("href")
        tab = Tab(self.base_url, self.page.context.new_page())
        return tab.open(href)

    def count(self, selector: str) -> int:
        """How many elements match ``selector``."""
        return self.page.locator(selector).count()

    def text(self) -> str:
        """The page's visible text."""
        return self.page.inner_text("body")

    def screenshot(self, path: Path) -> None:
        """Save the whole page as PNG."""
        self.page.screenshot(path=str(path), full_page=True)


class Browser:
    """Headless chromium, for ``with`` blocks."""

    def __init__(self, base_url: str, *, only_local: bool = True) -> None:
        self.base_url = base_url
        self.only_local = only_local
        self.blocked: list[str] = []
        self._playwright: Any = None
        self._browser: Any = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        executable = shutil.which("chromium")
        if executable is None:
            pytest.fail("Debian's chromium is not installed (.ci/run installs it with apt)")
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._browser.close()
        self._playwright.stop()

    def login(self, user: str, password: str) -> Tab:
        """A fresh context logged in as ``user`` through Airflow's login form."""
        context = self._browser.new_context(viewport={"width": 1280, "height": 900})
        if self.only_local:
            context.route("**/*", self._local_only)
        tab = Tab(self.base_url, context.new_page())
        tab.page.goto(f"{self.base_url}/auth/login?next={self.base_url}/")
        tab.page.locator("input[name=username]").fill(user)
        tab.page.locator("input[name=password]").fill(password)
        tab.page.get_by_role("button", name="Sign in").click()
        tab.page.wait_for_url(lambda url: "/auth/login" not in url)
        assert any(c["name"] == "_token" for c in context.cookies()), f"{user} is not logged in"
        return tab

    def _local_only(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()
