"""`tinymodels plan`: split model types into a CI matrix of balanced shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinymodels import log
from tinymodels.errors import UsageError

HELP = "split model types into a balanced CI matrix (JSON)"
DESCRIPTION = """\
Validate model types and split them into at most --shards groups of similar expected
build time, printed as a GitHub Actions matrix on stdout:

  {"include": [{"shard": 0, "model_types": "bert,gpt2", "cost": 12.3}, ...]}

Each shard passes its "model_types" to 'tinymodels build --model-types'. Costs are the
seconds recorded in a previous creation report (--timings), otherwise an estimate from
the number of architectures of each type. Assignment is greedy longest-first, so the
same input always gives the same matrix; there are never more shards than model types,
and never more than 256 (GitHub's limit on the jobs of one matrix): a larger --shards
is a usage error (exit code 2).
When $GITHUB_OUTPUT is set, 'matrix=<json>' and 'shards=<n>' are appended to it.

Examples:
  tinymodels plan --all --shards 8
  tinymodels plan bert gpt2 t5 --shards 2
  tinymodels plan --model-types bert,gpt2 --shards 2 --timings previous/reports
  # in a workflow:  strategy: {matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}}
"""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `plan` options."""
    parser.add_argument("model_types", nargs="*", metavar="MODEL_TYPE", help="model types to plan (e.g. bert gpt2)")
    parser.add_argument("--all", action="store_true", help="plan every model type of the installed transformers")
    parser.add_argument("-m", "--model-types", "--model_types", dest="model_types_csv", type=_csv, action="extend",
                        default=[], metavar="A,B", help="comma-separated model types")
    parser.add_argument("-n", "--shards", type=int, default=1, metavar="N",
                        help="maximum number of shards (default: 1)")
    parser.add_argument("--timings", type=Path, default=None, metavar="PATH",
                        help="a previous tiny_model_creation_report.json (or its report/output directory) "
                        "whose recorded seconds balance the shards; missing = estimate only")


def run(args: argparse.Namespace) -> int:
    """Resolve the model types, balance the shards, print and export the matrix."""
    from tinymodels.ci import plan

    requested = list(dict.fromkeys([*args.model_types, *args.model_types_csv]))
    if args.all and requested:
        raise UsageError("--all plans every model type; do not also name model types")
    if not args.all and not requested:
        raise UsageError("name model types to plan (e.g. 'tinymodels plan bert gpt2') or pass --all")
    # Before resolving model types (which imports transformers): a bad count fails fast.
    plan.check_shard_count(args.shards)

    timings: dict[str, float] = {}
    if args.timings is not None:
        from tinymodels.ci.aggregate import find_report_file
        from tinymodels.errors import ReportError
        from tinymodels.run.reports import CREATION_REPORT

        try:
            report_file = find_report_file(args.timings, CREATION_REPORT)
        except ReportError as exc:
            # First run of a pipeline: no previous report yet. Say so, but plan anyway;
            # a report that exists but is malformed is still an error (exit code 5).
            log.warning(f"--timings: {exc}; using estimates")
        else:
            timings = plan.load_timings(report_file)

    from tinymodels.config.discover import resolve_model_types

    model_types = resolve_model_types(requested, all_types=args.all)
    costs = plan.expected_costs(model_types, timings)
    shards = plan.assign_shards(costs, args.shards)
    text = plan.matrix_json(shards)

    timed = sum(1 for t in model_types if t in timings)
    log.info(f"{len(model_types)} model type(s) in {len(shards)} shard(s); costs from "
             f"{timed} recorded timing(s) and {len(model_types) - timed} estimate(s)")
    for shard in shards:
        log.info(f"  shard {shard.index}: ~{shard.cost:.0f}s, {len(shard.model_types)} type(s)")
    print(text, flush=True)
    log.append_github_file("GITHUB_OUTPUT", f"matrix={text}\nshards={len(shards)}\n")
    return 0
