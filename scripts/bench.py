#!/usr/bin/env python
"""Benchmarks of `tinymodels build` (run by `nox -s bench`; not a test, numbers vary by machine).

Measures, each as a real subprocess with wall-clock time:
  * `python -c "import torch, transformers"` (the fixed cost every worker pays once);
  * `tinymodels build bert` into an empty directory (median of `--repeat` runs);
  * throughput (model types per minute) over a set of model types with 1 and 2 workers,
    plus whether both runs produced identical files (reports compared without `seconds`);
  * a no-change re-run (everything up to date), of bert alone and of the sample;
  * the floor of one type: `import torch, transformers; transformers.PreTrainedModel` (importing
    a model class pulls torchvision and torch._dynamo in), and every figure as a ratio of it or of
    the bare import, measured in the same run;
  * checkpoint sizes (median, max, over 5 MB / 10 MB), and with `--transformers-repo PATH` the
    parameter count of each architecture against the same type built from upstream's test-class
    configs (ratio per architecture: share at or below 1x, above 3x);
  * peak RSS per worker (reported by the runner via TINYMODELS_RUN_STATS) and the peak
    RSS of any child process (getrusage RUSAGE_CHILDREN).
Prints a table and writes JSON to bench-results/bench.json.

    python scripts/bench.py                       # ~60 sampled types, 1 and 2 workers
    python scripts/bench.py --types bert,gpt2,vit # an explicit list
    python scripts/bench.py --full --workers 2    # every model type (long: hours on 2 cores)
    python scripts/bench.py --src ../old/src      # the same figures for another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tinymodels.run.reports import output_digests

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLE = 60


def sample_types(n: int) -> list[str]:
    """`n` model types spread evenly over the sorted list: deterministic for a transformers version."""
    code = "from tinymodels.config.discover import all_model_types; print('\\n'.join(all_model_types()))"
    types = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    if n >= len(types):
        return types
    return [types[i * len(types) // n] for i in range(n)]


def timed(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> tuple[float, int]:
    """(wall seconds, return code) of a subprocess; its stderr goes to `log`."""
    start = time.perf_counter()
    with open(log or os.devnull, "w") as err:
        code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env).returncode
    return time.perf_counter() - start, code


def children_max_rss() -> int:
    """Peak RSS in bytes of the largest child process waited for so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def median_of(n: int, code: str) -> dict[str, float]:
    """Wall seconds of `python -c code`, min and median of `n` runs."""
    times = [timed([sys.executable, "-c", code])[0] for _ in range(n)]
    return {"min": round(min(times), 2), "median": round(statistics.median(times), 2)}


def parameter_counts(out: Path) -> dict[str, int]:
    """{type/Architecture: parameters} of every saved checkpoint under `out` (safetensors headers)."""
    counts = {}
    for path in sorted(out.glob("*/*/model.safetensors")):
        with open(path, "rb") as f:
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        total = 0
        for name, meta in header.items():
            if name != "__metadata__":
                size = 1
                for d in meta["shape"]:
                    size *= d
                total += size
        counts[f"{path.parent.parent.name}/{path.parent.name}"] = total
    return counts


def checkpoint_sizes(out: Path) -> dict[str, Any]:
    """Median and max checkpoint size (KB) and how many exceed 5 MB and 10 MB."""
    sizes = sorted(p.stat().st_size for p in out.glob("*/*/model.safetensors"))
    if not sizes:
        return {}
    return {"checkpoints": len(sizes), "median_kb": round(statistics.median(sizes) / 1024),
            "max_kb": round(sizes[-1] / 1024), "over_5mb": sum(s > 5 * 2**20 for s in sizes),
            "over_10mb": sum(s > 10 * 2**20 for s in sizes)}


def versus_upstream(ours: Path, upstream: Path) -> dict[str, Any]:
    """Our parameter counts over those built from upstream's test-class configs, per architecture."""
    a, b = parameter_counts(ours), parameter_counts(upstream)
    ratio = {k: round(a[k] / b[k], 2) for k in sorted(a.keys() & b.keys()) if b[k]}
    values = sorted(ratio.values())
    if not values:
        return {"architectures": 0}
    return {"architectures": len(values), "median_ratio": round(statistics.median(values), 2),
            "at_or_below_1x": round(sum(v <= 1 for v in values) / len(values), 3),
            "above_3x": {k: v for k, v in ratio.items() if v > 3}}


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """Every timing as a ratio of the bare import or the floor, all from this run."""
    out: dict[str, float] = {}
    bare = (results.get("import_torch_transformers_seconds") or {}).get("median")
    floor = (results.get("floor_seconds") or {}).get("median")
    bert, noop = results["build_bert"]["wall_seconds"], results["noop_bert"]["wall_seconds"]
    if floor:
        out["floor_over_bare_import"] = round(floor / bare, 2) if bare else 0.0
        out["bert_over_floor"] = round(bert / floor, 2)
        out["bert_minus_floor_seconds"] = round(bert - floor, 2)
    if bare:
        out["noop_bert_over_bare_import"] = round(noop / bare, 2)
        reruns = [r for r in results.get("runs", []) if r["name"] == "no-change-rerun"]
        if reruns:
            out["noop_selection_over_bare_import"] = round(reruns[0]["wall_seconds"] / bare, 2)
    cold = [r for r in results.get("runs", []) if r["name"].startswith("types-j")]
    reruns = [r for r in results.get("runs", []) if r["name"] == "no-change-rerun"]
    if cold and reruns:
        out["noop_selection_over_cold_run"] = round(reruns[0]["wall_seconds"] / cold[-1]["wall_seconds"], 3)
    return out


def report_counts(out: Path) -> dict[str, int]:
    path = out / "reports" / "tiny_model_creation_report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    archs = [info for entry in report.values() for info in entry.get("pytorch", {}).values()]
    ok = sum(1 for i in archs if i.get("model") is not None and "error" not in i)
    categories: dict[str, int] = {}
    for info in archs:
        if "error" in info:
            categories[info.get("category", "?")] = categories.get(info.get("category", "?"), 0) + 1
    types_ok = sum(1 for e in report.values()
                   if e.get("pytorch") and all("error" not in i for i in e["pytorch"].values()))
    return {"types": len(report), "types_all_ok": types_ok, "architectures": len(archs), "architectures_ok": ok,
            "architectures_failed": len(archs) - ok, **{f"failed_{k}": v for k, v in sorted(categories.items())}}


def build(args: argparse.Namespace, types: list[str] | None, out: Path, workers: int, name: str,
          logs: Path) -> dict[str, Any]:
    """One `tinymodels build` run, with the runner's statistics."""
    stats_file = logs / f"{name}.stats.json"
    env = {**os.environ, "TINYMODELS_RUN_STATS": str(stats_file)}
    if args.src is not None:  # another checkout's package shadows the installed one
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(args.src), env.get("PYTHONPATH"))))
    env.pop("GITHUB_STEP_SUMMARY", None)
    selection = ["--all"] if types is None else types
    cmd = [sys.executable, "-m", "tinymodels", "build", *selection, "-o", str(out), "-j", str(workers),
           "--timeout", str(args.timeout)]
    print(f"… {name}: {len(types) if types is not None else 'all'} types, {workers} worker(s)", file=sys.stderr,
          flush=True)
    wall, code = timed(cmd, env, logs / f"{name}.log")
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    peaks = [w.get("peak_rss", 0) for w in stats.get("workers", [])]
    row = {
        "name": name, "workers": workers, "wall_seconds": round(wall, 2), "exit_code": code,
        "built": stats.get("built"), "up_to_date": stats.get("up_to_date"),
        "fingerprint_seconds": stats.get("fingerprint_seconds"),
        "worker_processes": len(peaks),
        "peak_worker_rss_mb": round(max(peaks) / 2**20) if peaks else None,
        "peak_worker_rss_mb_each": [round(p / 2**20) for p in peaks],
        "children_max_rss_mb": round(children_max_rss() / 2**20),
        "counts": report_counts(out),
    }
    built = stats.get("built") or 0
    row["types_per_minute"] = round(built / wall * 60, 2) if built else None
    return row


def build_bert(args: argparse.Namespace, workdir: Path, logs: Path) -> dict[str, Any]:
    """`build bert` into an empty directory `--repeat` times, its wall time the median: one run
    varies by a few tenths of a second here, as much as the gap to the floor being measured."""
    runs = []
    for i in range(args.repeat):
        out = workdir / ("bert" if i == args.repeat - 1 else f"bert-{i}")
        runs.append(build(args, ["bert"], out, 1, "bert", logs))
    row = dict(sorted(runs, key=lambda r: r["wall_seconds"])[len(runs) // 2])
    row["wall_seconds_each"] = [r["wall_seconds"] for r in runs]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", default="sample",
                        help="'sample' (default: --sample-size types spread over all), 'all', or A,B,C")
    parser.add_argument("--full", action="store_true", help="same as --types all (every model type; long)")
    parser.add_argument("--sample-size", type=int, default=DEFAULT_SAMPLE)
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default: 1,2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per-type timeout passed to the builds")
    parser.add_argument("--workdir", type=Path, default=None, help="keep build outputs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="where bench.json goes")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the import, the floor and `build bert` (medians; default 3)")
    parser.add_argument("--src", type=Path, default=None, metavar="PATH",
                        help="build with the package in PATH (another checkout's src/), to compare two versions "
                             "on the same machine in one session")
    parser.add_argument("--skip-import", action="store_true", help="do not time the bare torch import")
    parser.add_argument("--transformers-repo", type=Path, default=None, metavar="PATH",
                        help="a transformers checkout: compare parameter counts with its test-class configs")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    selection = "all" if args.full else args.types
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tinymodels-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_start": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "selection": selection,
    }
    if not args.skip_import:
        results["import_torch_transformers_seconds"] = median_of(args.repeat, "import torch, transformers")
        results["floor_seconds"] = median_of(args.repeat, "import torch, transformers; transformers.PreTrainedModel")
    results["build_bert"] = build_bert(args, workdir, logs)
    results["noop_bert"] = build(args, ["bert"], workdir / "bert", 1, "bert-no-change", logs)

    if selection == "all":
        types: list[str] | None = None
    elif selection == "sample":
        types = sample_types(args.sample_size)
    else:
        types = [t.strip() for t in selection.split(",") if t.strip()]
    results["types"] = types if types is not None else "all"
    runs = []
    for n in worker_counts:
        runs.append(build(args, types, workdir / f"j{n}", n, f"types-j{n}", logs))
    if runs:
        last = runs[-1]
        rerun = build(args, types, workdir / f"j{last['workers']}", last["workers"], "no-change-rerun", logs)
        runs.append(rerun)
    results["runs"] = runs
    if len(worker_counts) >= 2:
        a, b = (output_digests(workdir / f"j{n}") for n in worker_counts[:2])
        differing = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        results["identical_outputs"] = {"workers": worker_counts[:2], "identical": not differing,
                                        "files": len(a), "differing": differing[:20]}
    if runs:
        results["sizes"] = checkpoint_sizes(workdir / f"j{worker_counts[-1]}")
    if args.transformers_repo is not None and types is not None:
        upstream = workdir / "upstream"
        cmd = [sys.executable, "-m", "tinymodels", "build", *types, "-o", str(upstream), "-j", str(worker_counts[-1]),
               "--validate", "forward", "--transformers-repo", str(args.transformers_repo)]
        timed(cmd, None, logs / "upstream.log")
        results["vs_upstream"] = versus_upstream(workdir / f"j{worker_counts[-1]}", upstream)
    results["ratios"] = ratios(results)
    results["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    results["workdir"] = str(workdir) if args.workdir else None

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nJSON: {args.out / 'bench.json'}")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_table(results: dict[str, Any]) -> None:
    imp = results.get("import_torch_transformers_seconds")
    if imp:
        print(f"import torch, transformers: {imp['min']:.2f}s min, {imp['median']:.2f}s median")
    floor = results.get("floor_seconds")
    if floor:
        print(f"floor (a model class imported): {floor['min']:.2f}s min, {floor['median']:.2f}s median")
    rows = [results["build_bert"], results["noop_bert"], *results.get("runs", [])]
    header = ("run", "workers", "wall s", "built", "up to date", "types/min", "archs ok/total", "peak RSS/worker MB")
    table = [header]
    for r in rows:
        c = r["counts"]
        table.append((r["name"], str(r["workers"]), f"{r['wall_seconds']:.1f}", str(r["built"]), str(r["up_to_date"]),
                      str(r["types_per_minute"] or "-"), f"{c['architectures_ok']}/{c['architectures']}",
                      str(r["peak_worker_rss_mb"] or "-")))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for name, value in results.get("ratios", {}).items():
        print(f"{name}: {value}")
    if results.get("sizes"):
        print("sizes: " + ", ".join(f"{k} {v}" for k, v in results["sizes"].items()))
    vs = results.get("vs_upstream")
    if vs:
        print(f"vs upstream test configs: {vs}")
    same = results.get("identical_outputs")
    if same:
        print(f"outputs with {same['workers'][0]} and {same['workers'][1]} workers identical: {same['identical']}"
              + ("" if same["identical"] else f" (differing: {', '.join(same['differing'][:5])})"))


if __name__ == "__main__":
    raise SystemExit(main())
