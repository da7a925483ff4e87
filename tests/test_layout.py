"""The layout's promises: numpy-only modules never import TensorFlow, no import cycles, and no
library module or page imports a command-line module (they call the library instead)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "easiness"

# the modules that may import TensorFlow: the trainer's package, the data loaders that build
# tf.data pipelines, the Keras callback and the commands that train
TENSORFLOW_MODULES = {"easiness.score", "easiness.keras", "easiness.data.loading",
                      "easiness.data.augment", "easiness.data.resident"}
TENSORFLOW_PACKAGES = ("easiness.training.",)
# python -m easiness.<name>: argument parsing and printing over library calls
COMMANDS = {"easiness.score", "easiness.ablate", "easiness.export", "easiness.compare", "easiness.agreement_report",
            "easiness.truth", "easiness.fake", "easiness.app", "easiness.prepare"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    if parts[0] == "pages":
        parts = ("easiness", "pages", *parts[1:])
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


SOURCES = {module_name(p): p for p in [*PACKAGE.rglob("*.py"), *(REPO / "pages").glob("*.py")]
           if "__pycache__" not in p.parts}


def uses_tensorflow(name: str) -> bool:
    return name in TENSORFLOW_MODULES or name.startswith(TENSORFLOW_PACKAGES)


NUMPY_ONLY = sorted(n for n in SOURCES if not uses_tensorflow(n) and n != "easiness.ui.main"
                    and not n.startswith("easiness.pages"))


@pytest.mark.parametrize("name", NUMPY_ONLY)
def test_numpy_only_modules_never_import_tensorflow(name, tmp_path):
    # A stand-in tensorflow package that fails loudly: importing it is the failure, even through keras.
    for fake in ("tensorflow", "keras"):
        (tmp_path / fake).mkdir()
        (tmp_path / fake / "__init__.py").write_text(f"raise ImportError('{fake} was imported')\n")
    code = (f"import importlib, sys; importlib.import_module({name!r}); "
            "bad = [m for m in ('tensorflow', 'keras', 'tensorflow_datasets') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{name}: {done.stderr.strip().splitlines()[-1:]}"


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The easiness modules ``path`` imports (top-level statements only, or all of them)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    # top level: the module's statements, into if/try blocks but not into functions or classes
    nodes = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))] \
        if top_level_only else [tree]
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                found |= {a.name for a in sub.names}
            elif isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                found.add(sub.module)
                found |= {f"{sub.module}.{a.name}" for a in sub.names}
    return {n for n in found if n in SOURCES}


def test_no_import_cycles():
    graph = {name: imports(path, top_level_only=True) - {name} for name, path in SOURCES.items()}
    for name in graph:  # a module's package __init__ runs first; leave packages importing their own modules out
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_no_library_module_or_page_imports_a_command():
    offenders = sorted(f"{name} imports {cmd}" for name, path in SOURCES.items() if name not in COMMANDS
                       for cmd in imports(path, top_level_only=False) & COMMANDS)
    assert offenders == []


def test_the_commands_listed_here_are_the_packages_entry_points():
    runnable = {name for name, path in SOURCES.items() if "if __name__ == \"__main__\"" in path.read_text()
                and not name.startswith("easiness.pages")}
    assert runnable - {"easiness.ui.main"} == COMMANDS
