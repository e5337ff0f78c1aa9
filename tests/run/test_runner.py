"""The runner: worker isolation, timeouts, resumable and incremental builds, determinism.

Every build here is a real `tinymodels build` subprocess over small real model types.
Crashes and hangs are injected with the runner's testing hook TINYMODELS_FAULT_INJECT,
which makes a worker segfault or sleep forever when handed a given type.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import cli_env, run_cli
from tinymodels.run.output import STAMP
from tinymodels.run.reports import output_digests

pytestmark = pytest.mark.slow

# Small, quick types: an image model, a causal LM with a BPE tokenizer, an encoder with WordPiece.
TYPES = ["vit", "gpt2", "distilbert"]
REPORT = Path("reports") / "tiny_model_creation_report.json"


def build_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """`tinymodels build ARGS` as a subprocess."""
    return run_cli("build", *args, env=env, timeout=timeout)


def _build_once(factory: pytest.TempPathFactory, name: str, workers: str) -> Path:
    out = factory.mktemp(name)
    proc = build_cli(*TYPES, "-o", str(out), "--num-workers", workers)
    assert proc.returncode == 0, proc.stderr
    return out




def mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")
            if not p.relative_to(root).as_posix().startswith("reports")}


def creation_report(out: Path) -> dict[str, Any]:
    return json.loads((out / REPORT).read_text())


@pytest.fixture(scope="module")
def clean_n1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_once(tmp_path_factory, "clean-n1", "1")


@pytest.fixture(scope="module")
def built_n2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_once(tmp_path_factory, "built-n2", "2")


def test_clean_build_layout(clean_n1: Path) -> None:
    report = creation_report(clean_n1)
    assert {e["model_type"] for e in report.values()} == set(TYPES)
    for model_type in TYPES:
        stamp = json.loads((clean_n1 / model_type / STAMP).read_text())
        assert stamp["entry"] == report[stamp["config_class"]]
        assert stamp["fingerprint"]["model_type"] == model_type
        built = {a for a, i in stamp["entry"]["pytorch"].items() if i.get("model")}
        assert built and built == {p.name for p in (clean_n1 / model_type).iterdir() if p.is_dir()}
    assert not [p for p in clean_n1.iterdir() if p.name.startswith((".staging-", ".old-"))]


def test_one_and_two_workers_give_identical_files(clean_n1: Path, built_n2: Path) -> None:
    one, two = output_digests(clean_n1), output_digests(built_n2)
    assert any(name.endswith("model.safetensors") for name in one)
    assert any(name.endswith("tokenizer.json") for name in one)
    assert any(name.endswith("preprocessor_config.json") for name in one)
    assert one == two


def test_second_run_skips_up_to_date_types(built_n2: Path) -> None:
    before, hashes = mtimes(built_n2), output_digests(built_n2)
    proc = build_cli(*TYPES, "-o", str(built_n2), "--num-workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(TYPES)} model type(s) up to date" in proc.stderr
    assert "0 built" in proc.stderr and "building" not in proc.stderr
    assert mtimes(built_n2) == before
    assert output_digests(built_n2) == hashes


def test_up_to_date_rerun_imports_neither_torch_nor_transformers(built_n2: Path) -> None:
    """Staleness is decided from stamps and package metadata: the no-change re-run is import-cheap."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tinymodels", "build", *TYPES, "-o", str(built_n2),
                           "--num-workers", "2"], capture_output=True, text=True, env=cli_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(TYPES)} model type(s) up to date" in proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "tinymodels.run.runner" in imported
    assert not {m for m in imported if m.split(".")[0] in ("torch", "transformers")}


def test_build_appends_the_job_summary_in_ci(built_n2: Path, tmp_path: Path) -> None:
    # `tinymodels build` writes it after the run (the run package knows nothing of CI).
    summary = tmp_path / "summary.md"
    proc = build_cli(*TYPES, "-o", str(built_n2), "--num-workers", "2", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Tiny models") and all(f"| `{t}` |" in text for t in TYPES)


def test_stamped_types_name_the_types_of_an_unchanged_environment(built_n2: Path, tmp_path: Path) -> None:
    from tinymodels.run.fingerprint import TYPES_STAMP, stamp_types, stamped_types

    assert stamped_types(built_n2, ["gpt2", "vit", "gpt2"], all_types=False) == ["gpt2", "vit"]
    # A name without a stamp (unknown, or never built here) needs transformers to resolve it.
    assert stamped_types(built_n2, ["gpt2", "not-a-type"], all_types=False) is None
    assert stamped_types(tmp_path, [], all_types=True) is None
    stamp_types(tmp_path, ["bert", "vit"])
    assert stamped_types(tmp_path, [], all_types=True) == ["bert", "vit"]
    # Another environment (here: another transformers version) resolves the list afresh.
    data = json.loads((tmp_path / TYPES_STAMP).read_text())
    data["environment"]["transformers"] = "0.0.1"
    (tmp_path / TYPES_STAMP).write_text(json.dumps(data))
    assert stamped_types(tmp_path, [], all_types=True) is None


def test_force_rebuilds(built_n2: Path) -> None:
    before, hashes = mtimes(built_n2), output_digests(built_n2)
    # In-process (--num-workers 0) on purpose: the debugging mode must produce the same files.
    proc = build_cli("vit", "-o", str(built_n2), "--num-workers", "0", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "✓ vit" in proc.stderr and "model type(s) up to date" not in proc.stderr
    after = mtimes(built_n2)
    assert after["vit/ViTModel/model.safetensors"] != before["vit/ViTModel/model.safetensors"]
    assert {k: v for k, v in after.items() if k.startswith("gpt2/")} == \
        {k: v for k, v in before.items() if k.startswith("gpt2/")}
    assert output_digests(built_n2) == hashes


def test_changed_options_rebuild_only_what_changed(built_n2: Path, tmp_path: Path) -> None:
    """A skip list touching only gpt2's architectures changes only gpt2's fingerprint."""
    before = mtimes(built_n2)
    proc = build_cli(*TYPES, "-o", str(built_n2), "--num-workers", "0", "--skip", "GPT2ForTokenClassification")
    assert proc.returncode == 0, proc.stderr
    assert "2 model type(s) up to date" in proc.stderr
    after = mtimes(built_n2)
    assert not (built_n2 / "gpt2" / "GPT2ForTokenClassification").exists()
    assert after["gpt2/GPT2Model/model.safetensors"] != before["gpt2/GPT2Model/model.safetensors"]
    assert after["vit/ViTModel/model.safetensors"] == before["vit/ViTModel/model.safetensors"]
    report = creation_report(built_n2)
    assert "GPT2ForTokenClassification" not in report["GPT2Config"]["pytorch"]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_sigkill_then_rerun_matches_clean_build(clean_n1: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "tinymodels", "build", *TYPES, "-o", str(out), "-j", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())
    try:
        deadline = time.monotonic() + 240
        while not any((out / t / STAMP).exists() for t in TYPES):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no model type finished in time"
            time.sleep(0.05)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # Workers die with the parent (PR_SET_PDEATHSIG) instead of building on as orphans.
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    # Whatever the kill interrupted, no folder claims to be complete without its stamp.
    finished = [t for t in TYPES if (out / t / STAMP).exists()]
    assert finished and len(finished) < len(TYPES)
    assert all((out / t / STAMP).exists() for t in TYPES if (out / t).exists())

    rerun = build_cli(*TYPES, "-o", str(out), "-j", "1")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} model type(s) up to date" in rerun.stderr
    assert output_digests(out) == output_digests(clean_n1)


def test_crashing_worker_fails_only_its_type(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = build_cli("vit", "distilbert", "-o", str(out), "-j", "1", env={"TINYMODELS_FAULT_INJECT": "vit=crash"})
    assert proc.returncode == 1, proc.stderr
    assert "✕ vit" in proc.stderr and "✓ distilbert" in proc.stderr
    assert "Fatal Python error: Segmentation fault" in proc.stderr  # the worker's own last words
    report = creation_report(out)
    entry = report["ViTConfig"]
    assert entry["error"][0].startswith("[crash] worker process died while building vit (killed by SIGSEGV)")
    assert entry["pytorch"] and all(
        info == {"model": None, "checkpoint": None, "error": entry["error"], "category": "crash"}
        for info in entry["pytorch"].values())
    assert not (out / "vit").exists()
    assert all("error" not in i for i in report["DistilBertConfig"]["pytorch"].values())
    assert (out / "distilbert" / STAMP).exists()
    failed = (out / "reports" / "simple_failed_report.txt").read_text()
    assert "ViTModel: [crash] worker process died" in failed

    # A crash leaves no stamp: the next run retries vit (and only vit).
    rerun = build_cli("vit", "distilbert", "-o", str(out), "-j", "1")
    assert rerun.returncode == 0, rerun.stderr
    assert "1 model type(s) up to date" in rerun.stderr and "✓ vit" in rerun.stderr


def test_hanging_type_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = build_cli("gpt2", "-o", str(out), "-j", "1", "--timeout", "4",
                   env={"TINYMODELS_FAULT_INJECT": "gpt2=hang"})
    assert proc.returncode == 1, proc.stderr
    entry = creation_report(out)["GPT2Config"]
    assert entry["error"] == ["[timeout] timed out after 4 s (worker stopped)", None]
    assert {i["category"] for i in entry["pytorch"].values()} == {"timeout"}
    assert "_inject_fault" in proc.stderr  # the hung worker's stack, dumped before it was killed
    assert not (out / "gpt2").exists()


def test_composite_folders_count_as_present(tmp_path: Path) -> None:
    """Composites are keyed by class but live in `<Class>-<enc>-<dec>`: an unchanged re-run must not rebuild them."""
    from tinymodels.run.runner import _folders_present

    type_dir = tmp_path / "encoder-decoder"
    folder = type_dir / "EncoderDecoderModel-bert-bert"
    folder.mkdir(parents=True)
    entry = {"pytorch": {"EncoderDecoderModel": {"model": "EncoderDecoderModel",
                                                 "checkpoint": "encoder-decoder/EncoderDecoderModel-bert-bert"}}}
    assert not _folders_present(type_dir, entry)
    (folder / "config.json").write_text("{}")
    assert _folders_present(type_dir, entry)


def test_workers_start_early_only_for_certain_work(built_n2: Path, tmp_path: Path) -> None:
    # Judged from stamps alone, before transformers is imported: a type without a stamp is
    # certain work, an up-to-date one is not (its fingerprint is checked later).
    from tinymodels.options import BuildOptions
    from tinymodels.run.runner import _surely_builds

    fresh = BuildOptions(output=tmp_path, model_types=("gpt2", "vit"), num_workers=2)
    assert _surely_builds(fresh, all_types=False) == 2
    assert _surely_builds(BuildOptions(output=tmp_path, model_types=("gpt2",), num_workers=2), False) == 1
    assert _surely_builds(BuildOptions(output=tmp_path, num_workers=2), all_types=True) == 2
    done = BuildOptions(output=built_n2, model_types=tuple(TYPES), num_workers=2)
    assert _surely_builds(done, all_types=False) == 0
    assert _surely_builds(BuildOptions(output=built_n2, num_workers=2), all_types=True) == 0
    assert _surely_builds(BuildOptions(output=built_n2, model_types=("vit",), num_workers=2, force=True), False) == 1
    assert _surely_builds(BuildOptions(output=tmp_path, model_types=("vit",), num_workers=0), False) == 0


def test_one_type_starts_one_worker(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    proc = build_cli("vit", "-o", str(tmp_path / "out"), "--num-workers", "2", env={"TINYMODELS_RUN_STATS": str(stats)})
    assert proc.returncode == 0, proc.stderr
    run = json.loads(stats.read_text())
    assert run["built"] == 1 and len(run["workers"]) == 1 and run["workers"][0]["types"] == 1


def test_no_process_outlives_the_build(tmp_path: Path) -> None:
    """Workers and multiprocessing's helper are reaped before `build` exits: under a subreaper
    (as on CI runners and in containers) nothing is left behind, not even a zombie."""
    harness = (
        "import ctypes, os, subprocess, sys, time\n"
        "ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER\n"
        "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "time.sleep(0.5)\n"
        "kids = open(f'/proc/{os.getpid()}/task/{os.getpid()}/children').read().split()\n"
        "print(code, len(kids))\n"
    )
    proc = subprocess.run([sys.executable, "-c", harness, sys.executable, "-m", "tinymodels", "build", "bert", "gpt2",
                           "-o", str(tmp_path), "-j", "2", "--validate", "forward"],
                          capture_output=True, text=True, env=cli_env(), timeout=300)
    assert proc.stdout.split() == ["0", "0"], proc.stdout + proc.stderr


def test_a_second_build_on_a_locked_output_dir_is_refused(tmp_path: Path) -> None:
    # The lock is what lets clean_stale delete another run's staging folders safely.
    from tinymodels.errors import OutputDirError
    from tinymodels.run.output import output_lock

    with output_lock(tmp_path):
        with pytest.raises(OutputDirError, match="another tinymodels build is writing to") as caught:
            with output_lock(tmp_path):
                pass
        assert caught.value.return_code == 3
        # Another process (a second `tinymodels build`) is refused too, with exit code 3.
        proc = run_cli("build", "bert", "-o", str(tmp_path), "--num-workers", "0", timeout=300)
        assert proc.returncode == 3, proc.stderr[-2000:]
        assert "another tinymodels build is writing to" in proc.stderr
    with output_lock(tmp_path):  # released on exit: the next build proceeds
        pass
