"""A few real-browser tests: Debian's Chromium, headless, driven by Playwright, against
``streamlit run app.py`` on 127.0.0.1. A shared URL opens the view it names, a widget writes
its value back into the URL, and every page renders; screenshots are saved as test artifacts.

Needs ``apt-get install chromium`` and ``pip install playwright`` (never ``playwright
install``: the system Chromium is used). Skipped with the reason when either is missing.

Screenshots go to ``test-artifacts/`` (gitignored), or to $EASINESS_SCREENSHOTS; with
$EASINESS_BROWSER_RUNS the server shows that runs root instead of a small fake study (this is
how the README's screenshots are made, from a real study).
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from easiness import fake
from easiness.analysis import metrics
from easiness.store import Study

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PAGES = [("start", "", "easiness"), ("runs", "runs", "Runs of"), ("examples", "examples", "Easy and hard examples"),
         ("averaged", "averaged", "Averaged images"), ("matching", "matching", "Matching rates"),
         ("ground-truth", "ground-truth", "Ground truth"), ("jobs", "jobs", "Scoring jobs"),
         ("scores", "scores", "Difficulty scores")]
MAX_PNG_BYTES = 300_000

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run browser tests")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}: apt-get install chromium")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    given = os.environ.get("EASINESS_BROWSER_RUNS")
    if given:
        return Path(given).resolve()
    root = tmp_path_factory.mktemp("runs")
    fake.write_fake_study(root / "fake", fake.FakeSpec(n=240, classes=4, runs=3, checkpoints=5, image_size=16))
    return root


@pytest.fixture(scope="module")
def server(runs_root, tmp_path_factory):
    """``streamlit run app.py`` on a free port of 127.0.0.1; its base URL."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "EASINESS_RUNS": str(runs_root), "PYTHONPATH": str(REPO)})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    yield context.new_page()
    context.close()


def settle(page, text: str, timeout: float = 60_000) -> None:
    """Wait until ``text`` is shown and the script has finished running."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.wait_for_timeout(1200)  # charts and images draw after the script ends
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def save(page, name: str) -> Path:
    """A screenshot of the whole page (the window grown to the content's height, since
    Streamlit scrolls inside its main area) as a palette-reduced PNG under the artifacts folder."""
    folder = Path(os.environ.get("EASINESS_SCREENSHOTS", REPO / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    width = page.viewport_size["width"]
    height = page.evaluate("document.querySelector('[data-testid=stMainBlockContainer]')"
                           ".getBoundingClientRect().bottom")
    page.set_viewport_size({"width": width, "height": int(min(max(height + 40, 700), 3200))})
    page.wait_for_timeout(800)
    shot = page.screenshot()
    try:
        from PIL import Image

        image = Image.open(io.BytesIO(shot)).convert("RGB")
        image.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    except ImportError:
        path.write_bytes(shot)
    return path


def easiest(runs_root: Path, scope: str, percent: int = 10) -> str:
    """The easy grid's heading on the fake study: the easy set of ``scope``, up to 48 examples."""
    labels = Study.open(runs_root / "fake").labels
    pool = len(labels) if scope == "all classes" else int((labels == int(scope.rsplit("-", 1)[1])).sum())
    return f"Easiest {min(48, metrics.set_size(pool, fraction=percent / 100))} of {scope}"


def study_name(runs_root: Path) -> str:
    return sorted(p.name for p in runs_root.iterdir() if (p / "study.json").exists())[0]


def test_a_shared_url_opens_the_view_it_names(server, runs_root, page):
    if os.environ.get("EASINESS_BROWSER_RUNS"):
        pytest.skip("the view checked here is the fake study's")
    url = f"{server}/examples?study=fake&model=densenet_bc100_k12&t=3&class=class-1&frac=20"
    page.goto(url)
    settle(page, easiest(runs_root, "class class-1", 20))
    assert page.get_by_text("T = 3 of 5").count() == 1
    assert page.get_by_role("combobox", name="Model").input_value() == "densenet_bc100_k12"
    assert page.get_by_role("combobox", name="Class").input_value() == "class-1"
    for part in ("study=fake", "model=densenet_bc100_k12", "t=3", "class=class-1", "frac=20"):
        assert part in page.url
    save(page, "shared-url")


def test_choosing_a_class_writes_it_into_the_url(server, runs_root, page):
    if os.environ.get("EASINESS_BROWSER_RUNS"):
        pytest.skip("the view checked here is the fake study's")
    page.goto(f"{server}/examples?study=fake")
    settle(page, easiest(runs_root, "all classes"))
    page.get_by_role("combobox", name="Class").click()
    page.get_by_role("option", name="class-2", exact=True).click()
    settle(page, easiest(runs_root, "class class-2"))
    page.wait_for_url(re.compile(r"class=class-2"), timeout=10_000)
    copied = page.url
    other = page.context.browser.new_context().new_page()  # another browser session opens the copied link
    other.goto(copied)
    settle(other, easiest(runs_root, "class class-2"))
    other.context.close()


def test_every_page_renders_through_the_navigation(server, runs_root, page):
    page.goto(f"{server}/?")
    settle(page, "easiness")
    save(page, "start")
    name = study_name(runs_root)
    first_id = str(Study.open(runs_root / name).ids[0])
    for shot, path, title in PAGES[1:]:
        extra = f"&example={urllib.parse.quote(first_id)}" if path == "examples" else ""
        page.goto(f"{server}/{path}?study={name}{extra}")
        settle(page, title)
        save(page, shot)
    page.goto(f"{server}/runs?study={name}")
    settle(page, "Runs of")
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Matching rates").click()
    settle(page, "Between models over training")
    assert "/matching" in page.url and f"study={name}" in page.url  # the study survives navigation
