"""Run the builder over many model types and keep the reports current (sequential for now)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tinymodels import log
from tinymodels.errors import OutputDirError
from tinymodels.options import BuildOptions
from tinymodels.reports import CREATION_REPORT, load_report, write_reports


def _check_output(output: Path) -> None:
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / ".tinymodels-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputDirError(f"cannot write to output directory {output}: {exc.strerror or exc}. "
                             "Choose another one with -o/--output.") from exc


def run_build(options: BuildOptions) -> int:
    """Build every requested type; returns 0 when all architectures validated, else 1."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tinymodels.builder import build_model_type, quiet_libraries

    quiet_libraries()

    _check_output(options.output)
    report = load_report(options.report_dir / CREATION_REPORT)
    failed = 0
    for model_type in options.model_types:
        staging = options.output / f".staging-{model_type}"
        shutil.rmtree(staging, ignore_errors=True)
        with log.group(f"{model_type}"):
            config_name, entry = build_model_type(model_type, options, staging)
            final = options.output / model_type
            shutil.rmtree(final, ignore_errors=True)
            if staging.exists():
                staging.rename(final)
            report[config_name] = entry
            write_reports(options.report_dir, report)
            for arch, info in entry.get("pytorch", {}).items():
                ok = "error" not in info
                failed += not ok
                log.info(f"  {'✓' if ok else '✕'} {arch}" + ("" if ok else f": {info['error'][0][:200]}"))
            if entry.get("error") and not entry.get("pytorch"):
                failed += 1
                log.info(f"  ✕ {entry['error'][0]}")
    print(f"reports written to {options.report_dir}", file=sys.stderr)
    return 1 if failed else 0
