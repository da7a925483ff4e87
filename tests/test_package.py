"""The installed package: ``pip install .`` puts everything under the one top-level name
``easiness`` (the zoo as ``easiness.models``, the app's pages as ``easiness.pages``), and from a
folder outside the repository the scoring CLI trains a model of the user's own file, the export
and compare CLIs read the study, and ``python -m easiness.app`` serves its pages.

The installation goes into a fresh virtual environment that sees this interpreter's packages
(``--system-site-packages``, so TensorFlow is not installed twice) and installs the wheel without
dependencies: what is tested is the package, not PyPI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=24,test_per_class=4,size=16,seed=2"
USER_MODEL = textwrap.dedent("""
    import keras

    def small_net(num_classes, input_shape):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes)(x))
""")


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        cwd=out, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return next(out.glob("easiness-*.whl"))


def test_the_wheel_claims_one_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"easiness"}
    for path in ("easiness/models/wrn.py", "easiness/models/user.py", "easiness/pages/examples.py",
                 "easiness/ui/main.py", "easiness/app.py", "easiness/score.py"):
        assert path in names, path
    assert not any(n.startswith(("models/", "pages/", "tests/", "benchmarks/")) for n in names)


@pytest.mark.slow
def test_installed_package_works_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp_path, env=dict(os.environ))
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EASINESS_RUNS")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=tmp_path, env=env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run([python, "-c", "import easiness, easiness.models as m; print(easiness.__file__); print(m.__file__)"],
                cwd=work, env=env).stdout.split()
    assert all(str(venv) in path for path in where), where  # the installed copy, not the repository
    (work / "my_net.py").write_text(USER_MODEL)
    run([python, "-m", "easiness.score", "--dataset", TINY, "--model", "my_net.py:small_net", "wrn10_1",
         "--runs", "2", "--epochs", "1", "--batch-size", "16", "--out", "runs/mine"], cwd=work, env=env)
    listing = run([python, "-c", "from easiness import Study; print(Study.open('runs/mine').models)"],
                  cwd=work, env=env).stdout
    assert "['small_net', 'wrn10_1']" in listing
    from easiness.store import Study

    assert Study.open(work / "runs" / "mine").runs("small_net")[0]["config"]["spec"] == f"{work / 'my_net.py'}:small_net"
    run([python, "-m", "easiness.export", "runs/mine", "--out", "scores.csv"], cwd=work, env=env)
    header = (work / "scores.csv").read_text().splitlines()[0]
    assert header.startswith("id,label,class,easiness_small_net,rank_small_net"), header
    compared = run([python, "-m", "easiness.compare", "runs/mine", "--scores", "scores.csv", "--column",
                    "easiness_wrn10_1", "--json", "agreement.json"], cwd=work, env=env).stdout
    assert "wrn10_1" in compared
    import json

    agreement = json.loads((work / "agreement.json").read_text())
    assert agreement["wrn10_1"]["spearman"] == 1.0 and agreement["wrn10_1"]["n"] == 72  # a score against itself
    serve_the_app(python, work, env)


def serve_the_app(python: str, work: Path, env: dict[str, str]) -> None:
    """``python -m easiness.app`` from the same folder serves the installed pages; a browser (when
    Chromium and Playwright are here) opens a study page through a shared URL."""
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([python, "-m", "easiness.app", "--runs", "runs", "--server.port", str(port)],
                              cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "the app did not start"
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        render_a_page(f"{base}/examples?study=mine&model=small_net")
    finally:
        server.terminate()
        server.wait(timeout=20)
    with pytest.raises(OSError):  # the launcher became the server: terminating it stopped the server
        urllib.request.urlopen(f"{base}/_stcore/health", timeout=2)


def render_a_page(url: str) -> None:
    if not Path("/usr/bin/chromium").exists():
        return  # the health check above is what can be checked without a browser
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("Easy and hard examples · small_net").first.wait_for(timeout=60_000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()
