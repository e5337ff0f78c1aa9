"""`tinymodels upload`: publish the validated folders of an output dir to the Hub."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinymodels import environment
from tinymodels.errors import UsageError

HELP = "publish built models to the Hub as ORG/tiny-random-{Architecture}"
DESCRIPTION = """\
Publish every architecture that OUTPUT_DIR/reports/tiny_model_creation_report.json
marks as built and validated (and whose folder exists) to the Hub repo
ORG/tiny-random-{Architecture}, with a generated model card (README.md).

A new repo gets a direct commit; an existing repo gets a pull request (or a commit to
main with --no-pr); a repo (or one of its PRs) already holding identical content gets no
commit at all, so re-runs are cheap and never spam PRs. Transient Hub errors (429, 5xx,
timeouts, dropped connections) are retried with backoff; a commit whose response was
lost is detected before retrying, so it is never made twice.

Afterwards the reports in OUTPUT_DIR/reports/ carry each model's commit sha (and PR
URL); failures are listed in reports/failed_uploads.json and make the exit code 6.

--check-organization first asks the Hub who the token belongs to and refuses (exit 6,
nothing uploaded) unless ORG is that user or one of its organizations.

Token: --token, else $HF_TOKEN, else the login stored by `hf auth login`. The token
is never printed. Hub endpoint: $HF_ENDPOINT (default: the public Hub).

Examples:
  HF_TOKEN=hf_xxx tinymodels upload tiny-models --organization my-org
  tinymodels upload out --organization my-org --no-pr --max-workers 2
  tinymodels upload out --organization my-org --check-organization   # what the CI publish job runs
  tinymodels build bert gpt2 -o out --upload --organization my-org
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `upload` options."""
    from tinymodels.hub.session import DEFAULT_TIMEOUT
    from tinymodels.hub.upload import DEFAULT_MAX_WORKERS

    parser.add_argument("output", type=Path, metavar="OUTPUT_DIR", help="output directory of 'tinymodels build'")
    parser.add_argument("--organization", "--org", required=True,
                        help="Hub user or organization that owns the tiny-random-* repos")
    parser.add_argument("--token", default=None,
                        help="Hub token with write access (default: $HF_TOKEN, then the stored login); "
                        "prefer HF_TOKEN, since command-line arguments are visible to other processes")
    parser.add_argument("--check-organization", action="store_true",
                        help="refuse to upload unless --organization is the token's user or one of its "
                        "organizations (checked with the Hub's whoami; what CI uses)")
    parser.add_argument("--no-pr", action="store_true",
                        help="commit to main in existing repos instead of opening pull requests")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS,
                        help=f"repos uploaded in parallel (default: {DEFAULT_MAX_WORKERS})")
    parser.add_argument("--timeout", type=float,
                        default=environment.hub_timeout(DEFAULT_TIMEOUT),
                        help=f"seconds allowed per Hub request (default: {DEFAULT_TIMEOUT:g}, "
                        "or $TINYMODELS_HUB_TIMEOUT)")


def run(args: argparse.Namespace) -> int:
    """Validate the flags, upload, print one line per model (stdout) and return 0."""
    from tinymodels.hub.upload import upload_output

    if args.max_workers < 1:
        raise UsageError(f"--max-workers must be at least 1 (got {args.max_workers})")
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive (got {args.timeout})")
    if not args.output.is_dir():
        raise UsageError(f"{args.output} is not a directory: pass the output dir of 'tinymodels build'")
    summary = upload_output(args.output, organization=args.organization, token=args.token,
                            create_pr=not args.no_pr, max_workers=args.max_workers, timeout=args.timeout,
                            check_organization=args.check_organization)
    for r in summary.results:
        extra = f" {r.pr_url}" if r.pr_url else ""
        print(f"{r.repo_id}\t{r.status}\t{r.sha}{extra}", flush=True)
    return 0
