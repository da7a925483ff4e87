"""Server-side render time and memory of every app page on a CIFAR-10-sized and an ImageNet-sized study.

    python benchmarks/bench_app.py [--keep DIR] [--only cifar|imagenet] [--json PATH]
    python benchmarks/bench_app.py --scores-only [--keep DIR] [--scores-checkpoints C]

1. Builds the two fake studies with ``python -m easiness.fake`` (through the real study writer)
   in a temporary folder, or in ``--keep DIR`` where they are reused on the next run:
   cifar (N = 50,000, 3 models x 10 runs x 300 checkpoints, float32, 32x32 images, 1.8 GB of
   losses) and imagenet (N = 1,281,167, 2 models x 10 runs x 200 checkpoints, float16, 8x8
   thumbnails, 10 GB of losses; ``--imagenet-models 3`` for a third model, 15 GB). Their runs
   record margins and EL2N too, as the trainer does, which triples those sizes (``--fake-args=--no-records``
   keeps losses only).
2. For each study, a fresh process opens every page with ``streamlit.testing.v1.AppTest`` as a
   shared link would and times each server-side render, in wall and in CPU seconds (CPU time is
   what to compare on a busy machine): ``first`` (nothing of this study cached yet; the process
   has imported Altair already, as any earlier request would have), ``again`` (a rerun, caches
   warm) and, for pages with a checkpoint slider, ``new T`` (the slider moved to a checkpoint not
   yet seen). It reports the process's peak resident memory (``resource.getrusage``), which
   includes Streamlit, pandas and Altair themselves.

3. The scores table (issue 12): :func:`easiness.analysis.study_scores.scores_table` of one model of an
   ImageNet-sized study that records margins and EL2N (N = 1,281,167, 10 runs, float16, no
   images), in a fresh process: wall seconds and peak memory, as the peak of the process's
   anonymous resident memory (what the computation holds; sampled every 20 ms), tracemalloc's
   peak (numpy's allocations) and the peak resident set (VmHWM, which also counts the pages of
   the memory-mapped arrays read, reclaimable page cache). The study is written with
   ``--scores-checkpoints`` checkpoints (default 20, not 200: writing 200 takes about 30 min
   and 15 GB); the pass streams one checkpoint at a time, so its memory does not grow with C
   and its time grows linearly.

The Scores page's first view computes every score over all the checkpoints up to T; the
study then keeps that view (:mod:`easiness.analysis.score_cache`), as ``python -m easiness.score``
does when a model finishes. So each study is measured with nothing kept (the kept view is removed
first), and then the Scores page once more in a fresh process, reading the kept view.

The targets (issue 3): every page <= 1 s on the CIFAR-sized study; <= 3 s with the app under
2 GB resident on the ImageNet-sized one. Issue 12: the scores table of the ImageNet-sized study
within 2 GB. This is a benchmark, not a timed test: numbers depend
on the machine and on whether the study's files are in the page cache (``--drop-caches``, as
root, empties it first to measure a cold open).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STUDIES = {"cifar": "cifar", "imagenet": "imagenet"}  # study folder -> easiness.fake preset
# (page script, query parameters beyond the study, the slider to move for "new T")
PAGES = [
    ("pages/start.py", {}, None),
    ("pages/runs.py", {}, None),
    ("pages/examples.py", {"example": "ex-12345"}, "t"),
    ("pages/averaged.py", {}, "t"),
    ("pages/matching.py", {}, "t"),
    ("pages/ground_truth.py", {}, None),
    ("pages/jobs.py", {}, None),
    ("pages/scores.py", {}, "t"),
]
SCORES_STUDY = "imagenet-scores"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", help="build the studies here and keep them (reused when present)")
    p.add_argument("--only", choices=sorted(STUDIES), help="benchmark one study")
    p.add_argument("--imagenet-models", type=int, default=2, help="models in the ImageNet-sized study")
    p.add_argument("--drop-caches", action="store_true", help="empty the page cache before each study (root)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--fake-args", default="", help="extra arguments of python -m easiness.fake, e.g. --fake-args=--no-records")
    p.add_argument("--scores-only", action="store_true", help="measure only the scores table (issue 12)")
    p.add_argument("--scores-checkpoints", type=int, default=20, help="checkpoints of the scores study (default 20)")
    p.add_argument("--render", nargs=2, metavar=("ROOT", "STUDY"), help=argparse.SUPPRESS)  # the child
    p.add_argument("--scores-child", metavar="STUDY", help=argparse.SUPPRESS)  # the scores child
    p.add_argument("--only-page", help=argparse.SUPPRESS)  # the child renders this page alone
    return p.parse_args(argv)


def build(root: Path, name: str, models: int, extra: list[str] = ()) -> dict:
    """Write the fake study ``name`` under ``root`` unless it is there; time and disk use."""
    out = root / name
    if (out / "study.json").exists():
        return {"built_s": None, "note": "reused"}
    command = [sys.executable, "-m", "easiness.fake", "--preset", STUDIES[name], "--out", str(out), "--force"]
    if name == "imagenet":
        command += ["--models", str(models)]
    command += list(extra)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return {"built_s": round(time.perf_counter() - started, 1)}


def disk_gib(path: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file()) / 2**30


def measure(root: Path, name: str, only: str | None = None) -> dict:
    """Render every page (or the ``only`` one) in a fresh process (so its peak memory is the app's alone)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, __file__, "--render", str(root), name, "--json", out.name,
                        *(["--only-page", only] if only else [])], cwd=REPO,
                       check=True, env={**os.environ, "PYTHONPATH": str(REPO), "EASINESS_RUNS": str(root)})
        return json.loads(Path(out.name).read_text())


def forget_kept_scores(study: Path) -> None:
    """Remove the scores a study keeps for its Scores page (easiness.analysis.score_cache), so
    the page's first view computes them as on a study that never kept them."""
    shutil.rmtree(study / ".easiness-cache", ignore_errors=True)


def render_all(root: str, name: str, only: str | None = None) -> dict:
    """The child: every page, timed first, again and with a new T; then the peak RSS."""
    from streamlit.testing.v1 import AppTest

    os.environ["EASINESS_RUNS"] = root
    warm_up()
    rows = []
    for script, params, slider in [page for page in PAGES if only in (None, Path(page[0]).stem)]:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.run()
        at.switch_page(script)
        at.query_params.update({"study": name, **params})
        row = {"page": Path(script).stem}
        row["first"], row["first cpu"] = timed(at)
        row["again"], row["again cpu"] = timed(at)
        row["new T"] = row["new T cpu"] = None
        if slider:
            widget = at.slider(key=slider)
            widget.set_value(max(widget.min, widget.value // 2))
            row["new T"], row["new T cpu"] = timed(at)
        row["errors"] = [str(e.value)[:200] for e in at.exception]
        rows.append(row)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"pages": rows, "peak_rss_mib": round(peak)}


def warm_up() -> None:
    """What any earlier request would have paid once per server process: importing the chart
    stack and loading Altair's schema (about half a second), so ``first`` times the view."""
    import altair as alt
    import pandas as pd

    alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q").to_dict()


def timed(at) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all threads of this process) of one render."""
    wall, cpu = time.perf_counter(), time.process_time()
    at.run()
    return round(time.perf_counter() - wall, 3), round(time.process_time() - cpu, 3)


def build_scores_study(root: Path, checkpoints: int) -> dict:
    """The ImageNet-sized one-model study with margins and EL2N (reused when present)."""
    out = root / f"{SCORES_STUDY}-c{checkpoints}"
    if (out / "study.json").exists():
        return {"built_s": None, "path": out}
    from easiness import fake

    spec = dataclasses.replace(fake.PRESETS["imagenet"], models=("resnet50",), checkpoints=checkpoints,
                               image_size=None, records=True)
    started = time.perf_counter()
    fake.write_fake_study(out, spec)
    return {"built_s": round(time.perf_counter() - started, 1), "path": out}


def measure_scores(path: Path) -> dict:
    """The scores table in a fresh process (so that its peaks are the table's alone)."""
    done = subprocess.run([sys.executable, __file__, "--scores-child", str(path)], cwd=REPO, check=True,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def scores_child(path: str) -> dict:
    """Open the study, build the scores table of its model, report time and memory peaks."""
    import threading
    import tracemalloc

    from easiness.analysis import study_scores
    from easiness.store import Study

    peak = {"anon": _anon_kib()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak["anon"] = max(peak["anon"], _anon_kib())

    study = Study.open(path)
    model = study.models[0]
    shape = study.losses(model).shape
    thread = threading.Thread(target=sample, daemon=True)
    before = _anon_kib()
    tracemalloc.start()
    thread.start()
    wall, cpu = time.perf_counter(), time.process_time()
    frame = study_scores.scores_table(study, model)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    thread.join()
    traced = tracemalloc.get_traced_memory()[1]
    return {"shape": list(shape), "columns": list(frame.columns[3:]), "seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1), "peak_anon_mib": round(peak["anon"] / 1024),
            "anon_before_mib": round(before / 1024), "tracemalloc_peak_mib": round(traced / 2**20),
            "peak_rss_mib": round(_status_kib("VmHWM") / 1024)}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _anon_kib() -> int:
    return _status_kib("RssAnon")


def report_scores(result: dict, checkpoints: int) -> None:
    m, c, n = result["shape"]
    built = f"written in {result['built_s']} s" if result["built_s"] is not None else "reused"
    reduced = (f"; {c} checkpoints instead of ImageNet's 200 to keep writing the fake study short: the pass "
               "streams one checkpoint at a time, so its memory does not depend on C and its time grows "
               "linearly") if c < 200 else ""
    print(f"\nscores table, one model: N={n:,}, {m} runs x {c} checkpoints (float16, margins and EL2N{reduced}), "
          f"{built}")
    print(f"  {len(result['columns'])} scores ({', '.join(result['columns'])}) in {result['seconds']} s "
          f"({result['cpu_seconds']} s CPU)")
    print(f"  peak anonymous memory {result['peak_anon_mib']} MiB (process at start {result['anon_before_mib']} MiB), "
          f"numpy peak (tracemalloc) {result['tracemalloc_peak_mib']} MiB, peak RSS incl. mapped file pages "
          f"{result['peak_rss_mib']} MiB; target: within 2 GB")


def drop_caches() -> None:
    subprocess.run(["sync"], check=False)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def report(results: dict) -> None:
    for name, result in results.items():
        built = f"built in {result['built_s']} s" if result["built_s"] is not None else "reused"
        print(f"\n{name}: {result['disk_gib']:.2f} GiB on disk, {built}, app peak RSS {result['peak_rss_mib']} MiB")
        print(f"  {'page':14s} {'first':>7s} {'again':>7s} {'new T':>7s}   "
              f"{'(cpu':>6s} {'first':>6s} {'again':>6s} {'new T)':>7s}   wall and CPU seconds")
        for row in result["pages"]:
            wall = " ".join(_cell(row[k], 7) for k in ("first", "again", "new T"))
            cpu = " ".join(_cell(row[f"{k} cpu"], 6) for k in ("first", "again", "new T"))
            print(f"  {row['page']:14s} {wall}   {'':6s} {cpu}{'  ERROR ' + row['errors'][0] if row['errors'] else ''}")
        kept = result.get("kept")
        if kept:
            print(f"  scores page again in a fresh process, its view kept by the first one (as python -m "
                  f"easiness.score leaves it): first {kept['first']:.3f} s wall ({kept['first cpu']:.3f} s CPU), "
                  f"new T {kept['new T']:.3f} s")


def _cell(value: float | None, width: int) -> str:
    return f"{value:{width}.3f}" if value is not None else " " * width


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        Path(args.json).write_text(json.dumps(render_all(*args.render, only=args.only_page)))
        return 0
    if args.scores_child:
        print(json.dumps(scores_child(args.scores_child)))
        return 0
    if args.scores_only:
        return scores_main(args)
    names = [args.only] if args.only else list(STUDIES)
    with tempfile.TemporaryDirectory(prefix="bench_app_") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        results = {}
        for name in names:
            built = build(root, name, args.imagenet_models, args.fake_args.split())
            if args.drop_caches:
                drop_caches()
            forget_kept_scores(root / name)
            results[name] = {**built, "disk_gib": round(disk_gib(root / name), 2), **measure(root, name)}
            results[name]["kept"] = measure(root, name, only="scores")["pages"][0]
    report(results)
    if args.only in (None, "imagenet"):
        results["scores"] = scores_main(args, quiet=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    rows = [r for v in results.values() for r in [*v.get("pages", []), *([v["kept"]] if v.get("kept") else [])]]
    return 0 if all(not r["errors"] for r in rows) else 1


def scores_main(args: argparse.Namespace, *, quiet: bool = False):
    """Issue 12's measurement: build (or reuse) the scores study, time the table, report."""
    if str(REPO) not in sys.path:  # why: the study is written in this process (easiness.fake)
        sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="bench_scores_") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        built = build_scores_study(root, args.scores_checkpoints)
        if args.drop_caches:
            drop_caches()
        result = {"built_s": built["built_s"], **measure_scores(built["path"])}
    report_scores(result, args.scores_checkpoints)
    if quiet:
        return result
    if args.json:
        Path(args.json).write_text(json.dumps({"scores": result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
