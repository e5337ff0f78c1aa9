"""`tinymodels build`: model types in, validated tiny checkpoints and reports out."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from tinymodels import environment, log
from tinymodels.errors import UsageError
from tinymodels.options import (
    DEFAULT_CORPUS,
    DEFAULT_OUTPUT,
    DEFAULT_SEED,
    DEFAULT_TIMEOUT,
    DEFAULT_VOCAB_SIZE,
    BuildOptions,
    parse_levels,
)
from tinymodels.preprocess.originals import parse_originals

HELP = "build and validate tiny models for model types"
DESCRIPTION = """\
Build tiny-random checkpoints for the given transformers model types, offline.

Each architecture of a model type is built from a shrunk config with a fixed seed,
given a tokenizer trained from blank to --vocab-size and processors sized to the
config, saved with safetensors, reloaded through the Auto classes and validated by a
forward pass on its own processor's output. Reports are written to OUTPUT/reports/
as each model type finishes.

Examples:
  tinymodels build bert gpt2                 # into ./tiny-models
  tinymodels build --all -o out --num-workers 2
  tinymodels build --model_types bert,gpt2 out   # upstream spelling
  tinymodels build gpt2 vit --tokenizer-source original   # from the original checkpoints' tokenizers/processors
"""


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `build` options, including upstream's spellings."""
    parser.add_argument("model_types", nargs="*", metavar="MODEL_TYPE",
                        help="model types to build (e.g. bert gpt2); with upstream's --model_types, "
                        "a single positional argument is the output path")
    parser.add_argument("--all", action="store_true", help="build every model type of the installed transformers")
    parser.add_argument("-m", "--model-types", "--model_types", dest="model_types_csv", type=_csv, default=None,
                        metavar="A,B", help="comma-separated model types (upstream spelling)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help=f"output directory (default: ./{DEFAULT_OUTPUT})")
    parser.add_argument("--skip", "--models-to-skip", "--models_to_skip", dest="skip", type=_csv, action="extend",
                        default=[], metavar="CLASS,...", help="architecture class names not to build")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE,
                        help=f"target tokenizer vocabulary (default: {DEFAULT_VOCAB_SIZE})")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS,
                        help="tokenizer training text: 'builtin' (offline, default), 'wikitext' "
                        "(Salesforce/wikitext via datasets), or a .txt/.jsonl/.parquet path")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    parser.add_argument("-j", "--num-workers", "--num_workers", dest="num_workers", type=int,
                        default=environment.num_workers(),
                        help="parallel worker processes, each model type isolated from the run (default: 1; "
                        "0 builds in-process, without isolation or timeouts, for debugging)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds allowed per model type before it is stopped (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--force", action="store_true", help="rebuild model types whose output is up to date")
    parser.add_argument("--transformers-repo", type=Path, default=None, metavar="PATH",
                        help="a transformers source checkout: take tiny configs from its test classes")
    parser.add_argument("--tokenizer-source", "--tokenizer_source", choices=("blank", "original"), default="blank",
                        help="'blank' (default): tokenizers trained from blank, processors from class defaults; "
                        "'original': each type's original checkpoint's tokenizer retrained to --vocab-size "
                        "(keeping its pipeline, special/added tokens and chat template) and its processor "
                        "settings, fetched through huggingface_hub (HF_ENDPOINT, HF_HUB_OFFLINE, the cache); "
                        "a type whose original cannot be had or used is built blank (reported as source-fallback)")
    parser.add_argument("--original", action="append", default=[], metavar="TYPE=REPO_OR_PATH",
                        help="the original checkpoint of a model type (a Hub repo id or a local folder) for "
                        "--tokenizer-source original; default: the checkpoint its config class documents (repeatable)")
    parser.add_argument("--validate", default="all", metavar="LEVELS",
                        help="validation levels, comma-separated: load, forward, generate, pipeline, chat, train "
                        "(default: all; 'forward' is the quick check)")
    parser.add_argument("--no_check", "--no-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--upload", action="store_true", help="publish built models to the Hub afterwards")
    parser.add_argument("--organization", default=None, help="Hub organization/user for --upload")
    parser.add_argument("--check-organization", action="store_true",
                        help="with --upload: refuse unless --organization is the token's user or one of its orgs")
    parser.add_argument("--token", default=None, help="Hub token for --upload (default: $HF_TOKEN)")
    parser.add_argument("--no-pr", action="store_true", help="with --upload: commit to main instead of opening PRs")


def options_from_args(args: argparse.Namespace) -> BuildOptions:
    """Validate the parsed flags and resolve them into `BuildOptions`."""
    from tinymodels.config.discover import resolve_model_types

    draft = draft_options(args)
    return replace(draft, model_types=tuple(resolve_model_types(list(draft.model_types), all_types=args.all)))


def draft_options(args: argparse.Namespace) -> BuildOptions:
    """Validate the parsed flags into `BuildOptions` whose model types are the names as given
    (not yet checked against transformers, which takes an import of torch; empty for --all)."""
    positional = list(args.model_types)
    output = args.output
    requested: list[str] = []
    if args.model_types_csv is not None:
        requested = list(args.model_types_csv)
        # Upstream takes the output path positionally next to --model_types/--all.
        if positional:
            if len(positional) > 1 or output is not None:
                raise UsageError("with --model_types, give at most one positional argument (the output path)")
            output = Path(positional[0])
    elif args.all:
        if len(positional) == 1 and output is None and ("/" in positional[0] or positional[0].startswith(".")
                                                         or Path(positional[0]).exists()):
            output = Path(positional[0])
        elif positional:
            raise UsageError("--all builds every model type; do not also name model types")
    else:
        requested = positional
    if not args.all and not requested:
        raise UsageError("name model types to build (e.g. 'tinymodels build bert gpt2') or pass --all")
    if args.vocab_size < 64:
        raise UsageError(f"--vocab-size must be at least 64 (got {args.vocab_size})")
    if args.num_workers < 0:
        raise UsageError(f"--num-workers must be 0 (build in-process) or more (got {args.num_workers})")
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive (got {args.timeout})")
    if args.original and args.tokenizer_source != "original":
        raise UsageError("--original needs --tokenizer-source original")
    try:
        originals = parse_originals(args.original)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.upload and not args.organization:
        raise UsageError("--upload needs --organization (the Hub user or organization to publish to)")
    return BuildOptions(
        output=output or Path(DEFAULT_OUTPUT),
        model_types=tuple(dict.fromkeys(requested)),
        skip=frozenset(args.skip),
        vocab_size=args.vocab_size,
        corpus=args.corpus,
        seed=args.seed,
        num_workers=args.num_workers,
        timeout=args.timeout,
        force=args.force,
        transformers_repo=args.transformers_repo,
        validate=parse_levels(args.validate),
        tokenizer_source=args.tokenizer_source,
        originals=originals,
    )


def run(args: argparse.Namespace) -> int:
    """Resolve options, build, then optionally upload."""
    from tinymodels.run.fingerprint import stamp_types, stamped_types
    from tinymodels.run.runner import early_workers, run_build

    draft = draft_options(args)
    # Workers import torch/transformers in parallel with this process resolving the types.
    with early_workers(draft, all_types=args.all) as pool:
        # Up-to-date outputs name their types: a no-change re-run never imports transformers.
        model_types = stamped_types(draft.output, list(draft.model_types), args.all)
        if model_types is None:
            from tinymodels.config.discover import resolve_model_types

            model_types = resolve_model_types(list(draft.model_types), all_types=args.all)
            if args.all:
                stamp_types(draft.output, model_types)
        options = replace(draft, model_types=tuple(model_types))
        code = run_build(options, pool=pool)
        _step_summary(options)
    if args.upload:
        from tinymodels.hub.upload import upload_output

        upload_output(options.output, organization=args.organization, token=args.token, create_pr=not args.no_pr,
                      check_organization=args.check_organization)
    return code


def _step_summary(options: BuildOptions) -> None:
    """Append the Markdown job summary to `$GITHUB_STEP_SUMMARY` when it is set (CI runs)."""
    if not environment.github_file("GITHUB_STEP_SUMMARY"):
        return
    # Lazy: a local run (no summary file) never imports the CI modules.
    from tinymodels.ci.stepsummary import write_step_summary

    try:
        write_step_summary(options.report_dir)
    except Exception as exc:  # noqa: BLE001 - the models are built; a summary problem must not fail the run
        log.warning(f"could not write the job summary: {type(exc).__name__}: {exc}")
