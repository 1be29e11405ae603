"""End to end in a real browser: `make lab`, a release notebook, Run All, and what the learner sees.

The test starts JupyterLab with the course's own command (`make lab`, with
LAB_ARGS for a headless, token-protected server on 127.0.0.1), drives Debian's
chromium headless with Playwright, opens a copy of a release notebook, runs
all cells from the Run menu, and checks that the page shows:

- the setup cell's line "Course utils ready",
- a "[FAIL] test_..." line from `utils.checks.exercise` and the
  NotImplementedError of the unfinished exercise,
- no other error,
- and nbgrader's own menu (its lab extensions are available in `make lab`).

A screenshot is saved as test-artifacts/browser-<notebook>.png (git-ignored).
The test installs chromium itself with apt-get when /usr/bin/chromium is
missing (as root, as on CI); it never downloads a browser build of its own.

    .venv/bin/python -m pytest tests/test_browser.py -m browser -q -p no:cacheprovider
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the requirements pin playwright; the tests below say so if it is missing
    PlaywrightTimeout = TimeoutError

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVER_START_S = 120  # `make lab` may first bring .venv up to date
PAGE_S = 90  # JupyterLab and the notebook appear
RUN_S = 240  # Run All until the first test cell has reported

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _release_notebook() -> Path:
    preferred = ROOT / "release" / "01_hidden_state" / "01_hidden_state.ipynb"
    found = sorted((ROOT / "release").glob("*/*.ipynb"))
    assert found, "release/ has no notebooks: run `make release`"
    return preferred if preferred.exists() else found[0]


@pytest.fixture(scope="module")
def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("Debian's chromium is not installed and this user cannot apt-get install it (not root)")
    import fcntl
    import tempfile

    # two test workers may want it at once (this test and the class report's picture): one installs,
    # the other waits for it, and apt-get itself waits for dpkg's lock rather than failing
    with open(Path(tempfile.gettempdir()) / "course-tests-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return CHROMIUM
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=600"]
        subprocess.run(["apt-get", *wait, "update", "-qq"], check=True, env=env, timeout=900)
        subprocess.run(["apt-get", *wait, "install", "-y", "-qq", "chromium"], check=True, env=env, timeout=1200)
    assert CHROMIUM.exists(), "apt-get installed chromium but /usr/bin/chromium is missing"
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """JupyterLab started by `make lab`; yields (base url, token); killed at the end."""
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = (
        f"--no-browser --port={port} --ServerApp.token={token} --ServerApp.ip=127.0.0.1 "
        "--ServerApp.port_retries=0 --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
    )
    # `make lab` itself adds --allow-root when it runs as root (CI, containers).
    log_path = tmp_path_factory.mktemp("lab") / "lab.log"
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_FORCE_COLAB", "COURSE_REPOSITORY")}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"`make lab` exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield base, token
    finally:
        # `make` and the jupyter server it started share one new process group.
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _answer_dialogs(page, seen: list) -> None:
    """Answer any JupyterLab dialog as a learner would (its default button), noting its text.

    A modal dialog (e.g. the kernel choice, when the server is slow to list
    kernels) swallows every click on the page until it is answered.
    """
    dialogs = page.locator(".jp-Dialog")
    for _ in range(5):
        if not dialogs.count() or not dialogs.first.is_visible():
            return
        dialog = dialogs.first
        seen.append(" ".join(dialog.inner_text().split()))
        accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)


def _run_all_cells(page, dialogs: list, tries: int = 3) -> None:
    """Run > Run All Cells; retried while the app is still settling and the click is lost."""
    started = page.locator(".jp-InputArea-prompt").filter(has_text=re.compile(r"\[(\*|\d+)\]"))
    for _ in range(tries):
        _answer_dialogs(page, dialogs)
        try:
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=20_000)
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click(timeout=20_000)
            started.first.wait_for(state="attached", timeout=20_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"Run > Run All Cells did not start any cell after {tries} tries; dialogs seen: {dialogs}")


def test_run_all_in_jupyterlab_shows_the_checks(chromium, lab_server):
    from playwright.sync_api import sync_playwright

    base, token = lab_server
    source = _release_notebook()
    # Run a copy in the git-ignored artifacts folder: JupyterLab may autosave the
    # executed notebook, and release/ must stay exactly as generated.
    work = ARTIFACTS / "browser"
    work.mkdir(parents=True, exist_ok=True)
    copy = work / source.name
    shutil.copy(source, copy)
    rel = copy.relative_to(ROOT).as_posix()
    screenshot = ARTIFACTS / f"browser-{source.stem}.png"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(PAGE_S * 1000)
            page.goto(f"{base}/lab/tree/{rel}?reset&token={token}", wait_until="domcontentloaded")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="visible")
            # the kernel is up when the toolbar's status says idle; the run is retried
            # below in case the app was still settling
            idle = page.locator(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']")
            idle.wait_for(state="attached")

            outputs = page.locator(".jp-OutputArea-output")
            dialogs = []
            try:
                _run_all_cells(page, dialogs)
                fail_line = outputs.filter(has_text="[FAIL] test_").first
                fail_line.wait_for(state="attached", timeout=RUN_S * 1000)
                idle.wait_for(state="attached", timeout=RUN_S * 1000)
                error_box = outputs.filter(has_text="NotImplementedError").first
                error_box.wait_for(state="attached")
                error_box.scroll_into_view_if_needed()
            finally:
                page.screenshot(path=str(screenshot))  # also what went wrong, when it did
                if dialogs:
                    print(f"JupyterLab dialogs answered: {dialogs}")
            texts = outputs.all_text_contents()
            # `make lab` serves nbgrader's lab extensions: its menu is in the menu bar
            menus = page.locator(".lm-MenuBar-itemLabel").all_text_contents()
        finally:
            browser.close()

    shown = "\n".join(texts)
    assert "Course utils ready" in shown, shown[:2000]
    assert "[FAIL] test_" in shown and "Read the message below" in shown, shown[:2000]
    assert "NotImplementedError" in shown
    for bad in ("ModuleNotFoundError", "ImportError", "SyntaxError"):
        assert bad not in shown, f"the page shows {bad}:\n{shown[:3000]}"
    assert "Nbgrader" in menus, f"nbgrader's lab extension is missing from `make lab`: menus {menus}"
    assert screenshot.stat().st_size > 10_000
