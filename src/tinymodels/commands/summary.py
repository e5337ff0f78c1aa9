"""`tinymodels summary`: update a tiny_model_summary.json, or print a Markdown summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinymodels import log
from tinymodels.options import DEFAULT_OUTPUT

HELP = "update tests/utils/tiny_model_summary.json, or print a report as Markdown"
DESCRIPTION = f"""\
update    Merge a build's tiny_model_summary.json into a repository's summary file, with
          upstream's rules: new architectures are added whole; for known ones the
          tokenizer/processor/model class lists are unioned and 'sha' is replaced when
          the new one is set; keys and lists are then sorted and deduplicated. The file
          is rewritten in place, atomically (created if absent), and what changed is
          printed. A merge that changes nothing leaves the file's bytes untouched.
markdown  Print the Markdown table of a creation report (what CI writes to
          $GITHUB_STEP_SUMMARY).
counts    Print report-dir=, built= and failed= lines for a report directory (appended
          to $GITHUB_OUTPUT too when set: the composite action's outputs).
coverage  Write the coverage table (pairs validated, failures by category, one row per
          model type) of a creation report, e.g. into docs/coverage.md. --refresh FILE
          also writes FILE, but only when the report covers every model type of the
          installed transformers: a partial run never shrinks the committed table.
pr-body   Write the body of the summary PR: the run's link and the headline of a coverage
          table written by 'coverage'.
note      Append to $GITHUB_STEP_SUMMARY (and print) which token opened the summary PR;
          with GITHUB_TOKEN, explain that no CI runs on that PR and how to fix it.

Examples:
  tinymodels summary update --into tests/utils/tiny_model_summary.json --from {DEFAULT_OUTPUT}/reports
  tinymodels summary update --into summary.json --from new/tiny_model_summary.json --dry-run
  tinymodels summary markdown {DEFAULT_OUTPUT}/reports
  tinymodels summary coverage {DEFAULT_OUTPUT}/reports -o docs/coverage.md
  tinymodels summary counts {DEFAULT_OUTPUT}/reports
  tinymodels summary coverage merged -o run-coverage.md --refresh docs/coverage.md
  tinymodels summary pr-body --coverage run-coverage.md --run-url "$RUN_URL" -o pr-body.md
  tinymodels summary note --pr-token github-token
"""

# How each kind of token the pipeline can open the summary PR with behaves (see README).
PR_TOKEN_NOTES = {
    "app": "The summary PR is opened with a GitHub App installation token: CI runs on it.",
    "secret": "The summary PR is opened with the `PR_TOKEN` secret: CI runs on it.",
    "github-token": (
        "> [!WARNING]\n"
        "> The summary PR is opened with `GITHUB_TOKEN`, and GitHub starts no workflow for events that "
        "token causes: **no CI runs on that PR** until someone pushes to it (or closes and reopens it). "
        "Configure a GitHub App (variable `TINY_MODELS_APP_ID`, secret `TINY_MODELS_APP_PRIVATE_KEY`) "
        "or a fine-grained token in the `PR_TOKEN` secret (contents and pull requests: write) so that "
        "CI checks the PR. Opening it at all needs the repository setting *Allow GitHub Actions to "
        "create and approve pull requests* (see README, \"The summary PR\")."
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the `update`, `markdown` and `coverage` actions."""
    sub = parser.add_subparsers(dest="summary_action", metavar="ACTION")
    sub.required = True
    update = sub.add_parser("update", help="merge a build summary into a tiny_model_summary.json",
                            description="Merge a build's tiny_model_summary.json into --into (upstream's rules).",
                            allow_abbrev=False)
    update.add_argument("--into", type=Path, required=True, metavar="FILE",
                        help="the summary file to update, e.g. tests/utils/tiny_model_summary.json")
    update.add_argument("--from", dest="source", type=Path, default=Path(DEFAULT_OUTPUT) / "reports",
                        metavar="PATH", help="the new tiny_model_summary.json, its report directory or the "
                        f"build output directory (default: {DEFAULT_OUTPUT}/reports)")
    update.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    markdown = sub.add_parser("markdown", help="print a creation report as a Markdown table",
                              description="Print the Markdown summary of a creation report.",
                              allow_abbrev=False)
    markdown.add_argument("report_dir", type=Path, metavar="REPORT_DIR",
                          help="a report directory, build output directory or creation report file")
    counts = sub.add_parser("counts", help="count built and failed architectures of a report directory",
                            description="Print (and export to $GITHUB_OUTPUT) report-dir, built and failed.",
                            allow_abbrev=False)
    counts.add_argument("report_dir", type=Path, metavar="REPORT_DIR",
                        help="a report directory (a missing creation report counts as nothing built)")
    coverage = sub.add_parser("coverage", help="write the coverage table of a creation report",
                              description="Write the Markdown coverage table of a creation report.",
                              allow_abbrev=False)
    coverage.add_argument("report_dir", type=Path, metavar="REPORT_DIR",
                          help="a report directory, build output directory or creation report file")
    coverage.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                          help="write here instead of stdout (e.g. docs/coverage.md)")
    coverage.add_argument("--refresh", type=Path, default=None, metavar="FILE",
                          help="also write FILE (e.g. docs/coverage.md), when the report covers every model "
                          "type of the installed transformers (a partial run must not replace the full table)")
    body = sub.add_parser("pr-body", help="write the summary PR's body (run link, coverage headline)",
                          description="Write the Markdown body of the summary PR.", allow_abbrev=False)
    body.add_argument("--coverage", type=Path, required=True, metavar="FILE",
                      help="a coverage table written by 'tinymodels summary coverage'")
    body.add_argument("--run-url", default="", help="link to the workflow run that built the models")
    body.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="where to write the body")
    note = sub.add_parser("note", help="note in the job summary which token opens the summary PR",
                          description="Append a note on the summary PR's token to $GITHUB_STEP_SUMMARY.",
                          allow_abbrev=False)
    note.add_argument("--pr-token", required=True, choices=sorted(PR_TOKEN_NOTES),
                      help="which token opens the PR: a GitHub App's, the PR_TOKEN secret, or GITHUB_TOKEN")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    if args.summary_action == "markdown":
        from tinymodels.ci.stepsummary import render_report_dir

        print(render_report_dir(args.report_dir), end="", flush=True)
        return 0

    if args.summary_action == "counts":
        from tinymodels.run.report_types import PYTORCH
        from tinymodels.run.reports import CREATION_REPORT, arch_ok, load_report

        report = load_report(args.report_dir / CREATION_REPORT)
        archs = [info for entry in report.values() for info in entry.get(PYTORCH, {}).values()]
        built = sum(map(arch_ok, archs))
        # A type that failed before listing any architecture still counts as one failure.
        failed = len(archs) - built + sum(1 for e in report.values() if e.get("error") and not e.get(PYTORCH))
        text = f"report-dir={args.report_dir}\nbuilt={built}\nfailed={failed}\n"
        print(text, end="", flush=True)
        log.append_github_file("GITHUB_OUTPUT", text)
        return 0

    if args.summary_action == "note":
        text = PR_TOKEN_NOTES[args.pr_token]
        print(text, flush=True)
        if args.pr_token == "github-token":
            log.warning("the summary PR is opened with GITHUB_TOKEN: no CI runs on it (see the job summary)")
        log.append_github_file("GITHUB_STEP_SUMMARY", f"\n{text}\n")
        return 0

    if args.summary_action == "pr-body":
        from tinymodels.ci.coverage import headline
        from tinymodels.errors import ReportError
        from tinymodels.run.reports import atomic_write_text

        try:
            lines = headline(args.coverage.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReportError(f"{args.coverage}: cannot read the coverage table: {exc}") from exc
        if not lines:
            raise ReportError(f"{args.coverage}: no coverage headline (write it with 'tinymodels summary coverage')")
        run = f"Tiny models rebuilt by {args.run_url}." if args.run_url else "Tiny models rebuilt."
        body = [run, "The merged reports are attached to that run as the `merged-reports` artifact.",
                "", "### Coverage of this run", "", *lines, ""]
        atomic_write_text(args.output, "\n".join(body))
        log.info(f"PR body written to {args.output}")
        return 0

    if args.summary_action == "coverage":
        from tinymodels.ci.aggregate import find_report_file, read_json, validate_creation_report
        from tinymodels.ci.coverage import render_coverage
        from tinymodels.run.reports import CREATION_REPORT, atomic_write_text

        path = find_report_file(args.report_dir, CREATION_REPORT)
        from tinymodels.config.discover import auto_mapped_pairs

        report = validate_creation_report(read_json(path), str(path))
        text = render_coverage(report, auto_mapped_pairs())
        if args.refresh:
            from tinymodels.config.discover import resolve_model_types

            covered = {e.get("model_type") for e in report.values()}
            missing = sorted(set(resolve_model_types([], all_types=True)) - covered)
            if missing:
                log.info(f"the report misses {len(missing)} model type(s) (e.g. {', '.join(missing[:3])}): "
                         f"a partial run; {args.refresh} left as is")
            else:
                atomic_write_text(args.refresh, text)
                log.info(f"coverage table refreshed: {args.refresh}")
        if args.output:
            atomic_write_text(args.output, text)
            log.info(f"coverage table written to {args.output}")
        else:
            print(text, end="", flush=True)
        return 0

    from tinymodels.ci.summary import load_new_summary, update_summary_file

    new = load_new_summary(args.source)
    if not new:
        log.warning(f"{args.source}: the new summary is empty (no architecture was built)")
    result = update_summary_file(args.into, new, dry_run=args.dry_run)
    print(("(dry run) " if args.dry_run else "") + result.format(), flush=True)
    return 0
