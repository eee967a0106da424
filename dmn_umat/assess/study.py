"""The assessment study end to end: config → cached inputs → Dask sweep → tables, plots, report.

Output folder ``DIR`` layout::

    DIR/config.json            resolved config of the last invocation
    DIR/cache/                 microstructure, dataset (HDF5), DNS references (.npz) — reused
    DIR/models/<run-id>.dmn    trained networks
    DIR/runs/<run-id>.json     one result per finished run (atomic; resume skips these)
    DIR/results.csv|json       table of all planned runs that finished
    DIR/summary.json           per-axis statistics and the seed-paper verdicts
    DIR/plots/*.png, DIR/report.md
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from . import config as cfgmod
from .config import AssessError
from .runner import atomic_write_json, load_result, make_client, run_sweep


def existing_results(out: Path) -> int:
    d = out / "runs"
    return sum(1 for p in d.glob("*.json")) if d.is_dir() else 0


def run_assessment(
    cfg: dict,
    out: str | Path,
    *,
    resume: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    report: str | Path | None = None,
    assets: str | Path | None = None,
    execute: Callable[[dict, dict], dict] | None = None,
    prepare: Callable | None = None,
    show_progress: bool | None = None,
) -> dict:
    """Run (or resume) the sweep described by ``cfg`` into ``out``; returns a summary dict
    with ``planned``, ``done``, ``skipped``, ``failed`` and the ``findings``.

    ``execute``/``prepare`` default to :mod:`dmn_umat.assess.pipeline` (the real pipeline);
    tests inject lighter ones.  ``serial`` runs in this process without Dask.
    """
    from ..progress import progress
    from . import pipeline
    from . import report as rep

    out = Path(out)
    n_old = existing_results(out)
    if n_old and not resume:
        raise AssessError(f"{out} already holds {n_old} finished runs; pass --resume to continue that sweep "
                       "or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", cfg)
    runs = cfgmod.plan(cfg)
    execute = execute or pipeline.execute_run
    prepare = prepare or pipeline.prepare
    dcfg = cfg.get("dask", {})
    client = None
    try:
        if not serial:
            try:
                client = make_client(scheduler, workers or dcfg.get("workers", 2),
                                     dcfg.get("processes", True), dcfg.get("threads_per_worker", 1))
            except (OSError, TimeoutError, RuntimeError) as exc:
                where = f"scheduler {scheduler}" if scheduler else "a local Dask cluster"
                raise AssessError(f"cannot start/connect to {where}: {exc}".splitlines()[0]) from None
        address = None if client is None else client.scheduler.address
        try:
            context = prepare(cfg, out, client=client, scheduler=address)
        except AssessError:
            raise
        except (ValueError, RuntimeError, OSError) as exc:
            msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise AssessError(f"preparing the sweep inputs (micro, dataset, DNS) failed: {msg}") from None
        outcome = run_sweep(runs, out, execute, context, client=client,
                            progress=lambda n: progress(total=n, desc="assess", disable=show_progress is False
                                                        if show_progress is not None else None))
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None and scheduler is None:
                cluster.close()
    results = [r for r in (load_result(out, s["run_id"]) for s in runs) if r is not None]
    summ = rep.write_outputs(cfg, results, out, len(runs), outcome.failed, md_path=report, assets=assets)
    return {
        "out": str(out),
        "planned": len(runs),
        "finished": len(results),
        "done": len(outcome.done),
        "skipped": len(outcome.skipped),
        "failed": outcome.failed,
        "seconds": outcome.seconds,
        "findings": [{k: f[k] for k in ("id", "claim", "verdict", "evidence")} for f in summ["findings"]],
        "report": str(out / "report.md"),
        "csv": str(out / "results.csv"),
    }


def describe(cfg: dict) -> dict:
    """The plan without running it (``--dry-run``)."""
    runs = cfgmod.plan(cfg)
    return {"settings": cfgmod.settings(cfg), "runs": [r["run_id"] for r in runs], "n_runs": len(runs),
            "fingerprint": cfgmod.fingerprint(cfg)}


def dump_config(cfg: dict) -> str:
    return json.dumps(cfg, indent=1, sort_keys=True)


__all__ = ["run_assessment", "describe", "dump_config"]
