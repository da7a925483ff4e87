"""The README and the docs stay true.

* Every ```python block of README.md and docs/*.md runs as written, in a fresh interpreter whose
  working folder holds a study shaped like the demo's at ``runs/synthetic`` (what
  ``python -m easiness.score`` writes: ``wrn10_1`` and ``densenet_bc22_k12``, 4 runs each, 3
  checkpoints, the synthetic set's class names, images, ground truth, margins and EL2N). The
  study is faked through the real store (:mod:`easiness.fake`) in a second instead of trained in
  minutes. A block that is not meant to run must use another fence (```text, ```bash...).
* Every ``python -m easiness.X`` they name is a module whose ``--help`` answers with status 0.
* Every relative link leads to a file (and a ``#heading`` to a heading) that exists.
* The README's test command is the one CI runs (``.ci/run``), and no text names a path of the
  development machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from easiness.data import synthetic
from easiness.fake import FakeSpec, write_fake_study

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCUMENTS = [README, *sorted((REPO / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
COMMAND = re.compile(r"python -m (easiness(?:\.[a-z_]+)+)")  # module names are lower case
LINK = re.compile(r"\]\(([^)\s]+)\)")

# the demo study's shape: python -m easiness.score (preset demo) on the synthetic set
DEMO = FakeSpec(n=2500, classes=10, class_names=synthetic.SHAPES, models=("wrn10_1", "densenet_bc22_k12"),
                runs=4, checkpoints=3, image_size=32, steps_per_epoch=19)


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def python_blocks() -> list:
    """One pytest param per ```python block: (document, first line, code); blocks that import
    Keras or TensorFlow train something and are marked slow."""
    params = []
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        for match in PYTHON_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(1)) + 1
            code = match.group(1)
            slow = re.search(r"^\s*(import|from)\s+(keras|tensorflow)\b", code, re.M)
            params.append(pytest.param(doc, line, code, id=f"{relative(doc)}:{line}",
                                       marks=[pytest.mark.slow] if slow else []))
    return params


@pytest.fixture
def demo_folder(tmp_path: Path) -> Path:
    """A working folder whose runs/synthetic is shaped like the demo study."""
    write_fake_study(tmp_path / "runs" / "synthetic", DEMO)
    return tmp_path


def child_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}


def test_the_readme_has_python_blocks():
    assert len([p for p in python_blocks() if p.values[0] == README]) >= 2


@pytest.mark.parametrize(("doc", "line", "code"), python_blocks())
def test_python_block_runs(doc: Path, line: int, code: str, demo_folder: Path):
    done = subprocess.run([sys.executable, "-c", code], cwd=demo_folder, env=child_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (f"the python block at {relative(doc)}:{line} failed "
                                  f"(status {done.returncode}):\n{done.stderr[-3000:]}")


def named_commands() -> list[str]:
    found = {m for doc in DOCUMENTS for m in COMMAND.findall(doc.read_text(encoding="utf-8"))}
    return sorted(found)


def test_the_readme_names_commands():
    assert {"easiness.score", "easiness.app", "easiness.ablate"} <= set(named_commands())


@pytest.mark.parametrize("module", named_commands())
def test_named_command_answers_help(module: str, tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=child_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "usage:" in done.stdout, \
        f"python -m {module} --help: status {done.returncode}\n{done.stderr[-2000:]}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", doc.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


@pytest.mark.parametrize("doc", DOCUMENTS, ids=relative)
def test_relative_links_lead_somewhere(doc: Path):
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no such heading in {dest.name})")
    assert broken == [], f"{relative(doc)}: " + "; ".join(broken)


def test_the_readme_test_command_is_what_ci_runs():
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line.strip().startswith("python -m pytest")]
    readme = re.findall(r"^(python -m pytest[^\n#]*?)\s*$", README.read_text(encoding="utf-8"), re.M)
    assert ci and readme and ci[-1] == readme[0] == "python -m pytest -q"


@pytest.mark.parametrize("doc", DOCUMENTS, ids=relative)
def test_no_path_of_the_development_machine(doc: Path):
    assert "/".join(("", "work", "")) not in doc.read_text(encoding="utf-8")  # a development-machine path


def test_the_fake_demo_has_what_the_blocks_read(demo_folder: Path):
    from easiness import Study

    study = Study.open(demo_folder / "runs" / "synthetic")
    assert study.models == sorted(DEMO.models) and study.losses("wrn10_1").shape == (4, 3, 2500)
    assert study.recorded("wrn10_1") == ["margins", "el2n"] and study.images is not None
    assert study.class_names == list(synthetic.SHAPES) and {"mode", "flipped"} <= set(study.extras)
