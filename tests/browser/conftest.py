"""Headless Chromium (Debian's, never a downloaded build) driven by Playwright, and the chat page in it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a webhook round trip through the whole stack, short enough to fail fast.
expect.set_options(timeout=10_000)

OpenPage = Callable[[str], Page]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"headless Chromium is missing at {CHROMIUM}: run `make browser-deps` (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)  # CI must never pass by skipping the browser tests
        pytest.skip(message)
    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh temporary profile, removed on close.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Open a URL in a fresh browser context (its own localStorage, like another person's browser).

    Script errors on any opened page fail the test.
    """
    contexts = []
    errors: list[str] = []

    def open_url(url: str) -> Page:
        context = browser.new_context(viewport={"width": 900, "height": 760}, locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        return page

    yield open_url
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
