"""`tinymodels aggregate`: merge shard report directories into one set of reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinymodels import log

HELP = "merge shard reports into one set of report files"
DESCRIPTION = """\
Merge the creation reports of CI shards (and their failed_uploads.json) and write the
five report files to --output, exactly as a single-process build of the same model
types would. Each PARTIAL is a tiny_model_creation_report.json, its report directory,
a build output directory, or a directory whose sub-directories are any of those. Pass
download-artifact's path itself: it holds the report files when one shard artifact was
downloaded and one sub-directory per artifact when several were, and both work. A report
file other than the creation report (what a glob such as 'partials/*' names after a
one-artifact download) is refused with that explanation.

Everything is checked before anything is written: a partial that is not valid JSON or
does not have the creation-report shape, or a config class reported differently by two
partials, is an error (exit code 5) and leaves --output untouched. The same entry
reported identically twice is kept once, with a warning. When $GITHUB_STEP_SUMMARY is
set, a Markdown table of the merged result is appended to it.

Examples:
  tinymodels aggregate shard-0/reports shard-1/reports -o tiny-models/reports
  tinymodels aggregate partials -o merged   # partials/reports-0/, reports-1/, ... or one shard's files
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `aggregate` options."""
    parser.add_argument("partials", nargs="+", type=Path, metavar="PARTIAL",
                        help="shard report directories (or their creation report files)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                        help="report directory to write the merged reports to")


def run(args: argparse.Namespace) -> int:
    """Merge, write, summarise."""
    from tinymodels.ci import aggregate, stepsummary
    from tinymodels.errors import OutputDirError
    from tinymodels.run import reports
    from tinymodels.run.report_types import PYTORCH

    merged = aggregate.merge_partials(args.partials)
    if not merged.report:
        log.warning("the partial reports are all empty")
    try:
        aggregate.write_merged(args.output, merged)
    except OSError as exc:
        raise OutputDirError(f"cannot write the merged reports to {args.output}: {exc}") from exc
    archs = [i for e in merged.report.values() for i in e.get(PYTORCH, {}).values()]
    failed = sum(1 for i in archs if not reports.arch_ok(i))
    log.info(f"merged {len(merged.sources)} partial report(s): {len(merged.report)} config class(es), "
             f"{len(archs) - failed} architecture(s) built, {failed} failed -> {args.output}")
    try:
        log.append_github_file("GITHUB_STEP_SUMMARY", stepsummary.render_markdown(merged.report))
    except OSError as exc:
        # The reports are written; a job summary is a courtesy, not a reason to fail.
        log.warning(f"cannot write $GITHUB_STEP_SUMMARY: {exc}")
    return 0
