"""``dmn assess CONFIG``: the DMN vs IMN assessment study (see :mod:`dmn_umat.assess.study`)."""

from __future__ import annotations

import argparse
import sys

from ..cliutil import CLIError, check_outputs, emit_json


def register(sub) -> None:
    p = sub.add_parser(
        "assess",
        help="assessment sweep: DMN vs IMN over the offline-online pipeline (Dask)",
        description=(
            "Run the assessment sweep described by CONFIG (TOML or JSON): dataset and DNS references "
            "generated once and cached in DIR, one training + validation + online test per run on Dask, "
            "results in DIR/runs/<run-id>.json (atomic; --resume skips finished runs), then "
            "DIR/results.csv|json, DIR/plots/*.png and DIR/report.md."
        ),
    )
    p.add_argument("config", help="sweep config (.toml or .json), e.g. assess_configs/default.toml")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. --set baseline.depth=3 --set sweep.seeds=[0,1]")
    p.add_argument("--out", default=None, help="output folder DIR (default: assess_out/<config name>)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing Dask scheduler (default: start a LocalCluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="LocalCluster workers (default: config dask.workers)")
    p.add_argument("--resume", action="store_true", help="continue a sweep in DIR, skipping finished runs")
    p.add_argument("--serial", action="store_true", help="run in this process without Dask (debugging)")
    p.add_argument("--report", default=None, metavar="FILE.md",
                   help="also write the report here, figures and CSV in FILE/ next to it")
    p.add_argument("--dry-run", action="store_true", help="print the planned runs and exit")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """``dmn assess``: library errors (:class:`~dmn_umat.assess.config.AssessError`) become one line."""
    from .config import AssessError

    try:
        return _handle(args)
    except AssessError as exc:
        raise CLIError(str(exc)) from None


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import config as cfgmod
    from .study import describe, run_assessment

    cfg = cfgmod.load_config(args.config, args.sets)
    if args.workers is not None and args.workers < 1:
        raise CLIError("--workers must be ≥ 1")
    if args.dry_run:
        d = describe(cfg)
        if args.json:
            emit_json(d)
        else:
            print(f"{d['n_runs']} runs in {len(d['settings'])} settings × {len(cfg['sweep']['seeds'])} seeds")
            for r in d["runs"]:
                print(r)
        return 0
    out = Path(args.out) if args.out else Path("assess_out") / str(cfg.get("name", "assessment"))
    check_outputs({"config": args.config}, {"--out": out, "--report": args.report})
    try:
        res = run_assessment(cfg, out, resume=args.resume, scheduler=args.scheduler, workers=args.workers,
                             serial=args.serial, report=args.report)
    except OSError as exc:
        raise CLIError(f"cannot write results: {exc}") from None
    if args.json:
        emit_json(res)
    else:
        print(f"{res['finished']}/{res['planned']} runs finished ({res['done']} now, "
              f"{res['skipped']} resumed), {len(res['failed'])} failed; report: {res['report']}")
        for f in res["findings"]:
            print(f"- {f['claim']}: {f['verdict']}")
    if res["failed"]:
        for rid, msg in res["failed"].items():
            print(f"dmn assess: run {rid} failed: {msg}", file=sys.stderr)
        return 1
    return 0
