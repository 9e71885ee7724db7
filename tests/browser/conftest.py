"""Fixtures for real-browser tests: one JupyterLab, one Voila and one chromium per session.

Every fixture stops what it started, also when a test fails. Without chromium the tests do not
skip: pytest reports an error at setup, with a message that says how to install it.
"""

from __future__ import annotations

import re

import pytest

from .harness import (
    ARTIFACTS_DIR,
    INSTALL_HINT,
    VIEWPORT,
    CHROMIUM_PATH,
    copy_notebooks,
    launch_chromium,
    shutdown_kernels,
    start_jupyter_lab,
    start_voila,
    stop_process,
)


_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so `page` can tell whether its test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def chromium_executable():
    """Debian's chromium; fails (does not skip) the browser tests when it is missing."""
    if not CHROMIUM_PATH.exists():
        pytest.fail(INSTALL_HINT.format(path=CHROMIUM_PATH), pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the browser tests need playwright: pip install -e '.[dev]'", pytrace=False)
    return CHROMIUM_PATH


@pytest.fixture(scope="session")
def browser_scratch(tmp_path_factory):
    """A temporary directory for the servers' config, runtime, settings, logs and run cache."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="session")
def notebooks_dir(browser_scratch):
    """A temporary copy of the repo's notebooks/: the servers' root; tests may add notebooks."""
    return copy_notebooks(browser_scratch / "notebooks")


@pytest.fixture(scope="session")
def _launched_servers(request, chromium_executable, notebooks_dir, browser_scratch):
    """Launch, side by side, the servers that the selected tests use (each takes a few seconds
    to start); `jupyter_lab` and `voila_server` wait for theirs. Stops them all at the end."""
    launchers = {"jupyter_lab": start_jupyter_lab, "voila_server": start_voila}
    wanted = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    servers = {}
    try:
        for name, launch in launchers.items():
            if name in wanted:
                servers[name] = launch(notebooks_dir, browser_scratch / name, wait=False)
        yield servers
    finally:
        # On SIGTERM a server shuts its kernels down.
        stop_process(*(server.process for server in servers.values()))


def _server(servers: dict, name: str, launch, notebooks_dir, browser_scratch):
    if name not in servers:  # requested by a fixture or getfixturevalue, unseen at collection
        servers[name] = launch(notebooks_dir, browser_scratch / name, wait=False)
    return servers[name].wait_until_serving()


@pytest.fixture(scope="session")
def jupyter_lab(_launched_servers, notebooks_dir, browser_scratch):
    """A JupyterLab server (harness.Server) on the temporary notebooks, for the whole session."""
    return _server(_launched_servers, "jupyter_lab", start_jupyter_lab, notebooks_dir,
                   browser_scratch)


@pytest.fixture(scope="session")
def voila_server(_launched_servers, notebooks_dir, browser_scratch):
    """A Voila server (harness.Server) serving the temporary notebooks at /voila/render/NAME."""
    return _server(_launched_servers, "voila_server", start_voila, notebooks_dir,
                   browser_scratch)


@pytest.fixture(scope="session")
def browser(chromium_executable):
    """Headless chromium driven by playwright's sync API, shared by the session's tests."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(request, browser):
    """A fresh browser tab (own context) for one test.

    On failure it saves a screenshot and the browser console to test-artifacts/failures/.
    Afterwards it closes the tab and shuts down the kernels of the servers the test used
    (`jupyter_lab`, `voila_server`), so the next test starts on idle cores.
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    console: list[str] = []
    tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    tab.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        yield tab
    finally:
        try:
            reports = request.node.stash.get(_REPORTS, {})
            if any(report.failed for report in reports.values()):
                failures = ARTIFACTS_DIR / "failures"
                failures.mkdir(parents=True, exist_ok=True)
                stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
                try:
                    tab.screenshot(path=str(failures / f"{stem}.png"), timeout=10_000)
                except Exception:  # the page may be what broke
                    pass
                (failures / f"{stem}.console.txt").write_text("\n".join(console))
        finally:
            context.close()
            for name in ("jupyter_lab", "voila_server"):
                if name in request.fixturenames:
                    shutdown_kernels(request.getfixturevalue(name))
