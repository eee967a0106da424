"""Time-to-target analysis of a finished sweep: how long DMN and IMN train to reach the same
validation error (the seed paper's 3.4–4.7× is a time to convergence, not a time per epoch).

Reads the training logs ``DIR/models/<run-id>.log.json`` (per-epoch ``val_error`` and process
``cpu_time``) of the runs on the formulation slice of the baseline (every other key at the
baseline).  Target = ``factor`` × the largest best validation error of any of these runs, a
level every run of both formulations reaches.  Usage::

    python -m dmn_umat.assess.convergence assess_out/default [--config C.toml] [--factor 1.1] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np


def first_reach(history: list[dict], target: float) -> tuple[float, int] | None:
    """(CPU seconds, epoch) of the first epoch whose mean validation error is ≤ target, or None."""
    for h in history:
        if h["val_error"] <= target:
            return float(h.get("cpu_time", h.get("time", math.nan))), int(h["epoch"])
    return None


def time_to_target(logs: dict[str, list[list[dict]]], factor: float = 1.1) -> dict:
    """``logs``: formulation → list of per-run histories.  Returns target, per-formulation
    statistics (runs reaching it, mean CPU s and epochs to it, CPU s per epoch) and the
    DMN/IMN ratios."""
    bests = {f: [min(h["val_error"] for h in run) for run in runs] for f, runs in logs.items()}
    best = {f: float(np.mean(b)) for f, b in bests.items()}
    target = factor * max(max(b) for b in bests.values())
    out: dict = {"target": target, "factor": factor, "best_val_mean": best, "per": {}}
    for f, runs in logs.items():
        hits = [first_reach(run, target) for run in runs]
        ok = [h for h in hits if h is not None]
        per_epoch = [run[-1].get("cpu_time", math.nan) / run[-1]["epoch"] for run in runs]
        out["per"][f] = {
            "runs": len(runs),
            "reached": len(ok),
            "cpu_s_to_target": float(np.mean([h[0] for h in ok])) if ok else math.nan,
            "epochs_to_target": float(np.mean([h[1] for h in ok])) if ok else math.nan,
            "cpu_s_per_epoch": float(np.mean(per_epoch)),
        }
    if {"dmn", "imn"} <= set(out["per"]):
        d, i = out["per"]["dmn"], out["per"]["imn"]
        out["speedup_to_target"] = d["cpu_s_to_target"] / i["cpu_s_to_target"]
        out["speedup_per_epoch"] = d["cpu_s_per_epoch"] / i["cpu_s_per_epoch"]
        out["epochs_ratio"] = d["epochs_to_target"] / i["epochs_to_target"]
    return out


def collect(out_dir: str | Path, cfg: dict) -> dict[str, list[list[dict]]]:
    """Histories of the formulation-slice runs of the baseline found in ``out_dir/models``."""
    from . import config as cfgmod

    base = cfg["baseline"]
    logs: dict[str, list[list[dict]]] = {}
    for spec in cfgmod.plan(cfg):
        if any(spec[k] != base[k] for k in cfgmod.BASELINE_KEYS if k != "formulation"):
            continue
        p = Path(out_dir) / "models" / f"{spec['run_id']}.log.json"
        try:
            hist = json.loads(p.read_text())["history"]
        except (OSError, ValueError, KeyError):
            continue
        if hist:
            logs.setdefault(spec["formulation"], []).append(hist)
    return logs


def main(argv: list[str] | None = None) -> int:
    from . import config as cfgmod

    ap = argparse.ArgumentParser(prog="python -m dmn_umat.assess.convergence",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("out", help="sweep output folder DIR (with models/*.log.json and config.json)")
    ap.add_argument("--config", default=None, help="config (default: DIR/config.json)")
    ap.add_argument("--factor", type=float, default=1.1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    cfg_path = a.config or str(Path(a.out) / "config.json")
    cfg = cfgmod.load_config(cfg_path)
    logs = collect(a.out, cfg)
    if not logs:
        print(f"no training logs of the baseline formulation slice under {a.out}/models", file=sys.stderr)
        return 1
    res = time_to_target(logs, a.factor)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    best = ", ".join(f"{f} {v:.4g}" for f, v in sorted(res["best_val_mean"].items()))
    print(f"target validation error {res['target']:.4g} (= {a.factor} × the worst run's best; "
          f"mean best: {best})")
    print("| formulation | runs | reached | CPU s to target | epochs to target | CPU s / epoch |")
    print("|---|---|---|---|---|---|")
    for f, s in sorted(res["per"].items()):
        print(f"| {f} | {s['runs']} | {s['reached']} | {s['cpu_s_to_target']:.3g} "
              f"| {s['epochs_to_target']:.3g} | {s['cpu_s_per_epoch']:.3g} |")
    if "speedup_to_target" in res:
        print(f"DMN/IMN: time to target {res['speedup_to_target']:.3g}×, "
              f"per epoch {res['speedup_per_epoch']:.3g}×, epochs to target {res['epochs_ratio']:.3g}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
