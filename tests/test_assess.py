"""Assessment study (`dmn assess`): config/plan, Dask sweep with atomic results and resume,
and the statistics behind the seed-paper verdicts.

These tests drive the orchestration with a light synthetic executor (a closed-form
"training" whose error law is known), so they exercise Dask, resume and the report logic
without the heavy stages; the end-to-end reduced sweep on the real pipeline is in
``tests/test_assess_pipeline.py``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dmn_umat.assess import config as cfgmod
from dmn_umat.assess import report as rep
from dmn_umat.assess.config import AssessError
from dmn_umat.assess.runner import load_result, run_sweep
from dmn_umat.assess.study import run_assessment

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- synthetic pipeline
def fake_prepare(cfg, out, client=None, scheduler=None):
    return {"counter": str(Path(out) / "counter.txt"), "fail_once": cfg.get("test_fail_once"),
            "sleep": cfg.get("test_sleep", 0.0), "marker": str(Path(out) / "failed-once.marker")}


def fake_execute(spec: dict, context: dict) -> dict:
    """Closed-form stand-in for train + validate + online test with KNOWN trends:
    error ∝ n_train^-1/2 with seed noise ∝ n_train^-1/2 too, active leaves fall with λ, DMN
    training 4× slower than IMN at equal accuracy and cost, batch size / init no effect."""
    with open(context["counter"], "a") as fh:
        fh.write(spec["run_id"] + "\n")
    if context["sleep"]:
        time.sleep(context["sleep"])
    if spec["run_id"] == context["fail_once"] and not os.path.exists(context["marker"]):
        Path(context["marker"]).write_text("x")
        raise RuntimeError("injected failure")
    rng = np.random.default_rng(spec["seed"])
    n = spec["n_train"]
    noise = rng.normal()
    val = 0.2 / math.sqrt(n) * (1.0 + 0.3 * noise)
    leaves = 2 ** spec["depth"]
    active = max(1, round(leaves * (1.0 - 0.6 * (spec["lam"] / (spec["lam"] + 1e-2)))) - (spec["seed"] % 2))
    t = (4.0 if spec["formulation"] == "dmn" else 1.0) * (1.0 + 0.02 * rng.normal())
    return {"run_id": spec["run_id"], "spec": spec, "train_seconds": t, "epochs": 10,
            "seconds_per_epoch": t / 10, "val_err_mean": val, "val_err_max": 2 * val, "leaves": leaves,
            "active_leaves": active, "online_err_tension": 1.5 * val + 0.01 * rng.normal() ** 2,
            "online_err_mean": 1.5 * val + 0.001 * abs(rng.normal()),
            "online_us_per_point": 50.0 * (1.0 + 0.05 * rng.normal())}


def small_cfg(**sweep) -> dict:
    over = {
        "training": {"epochs": 3},
        "dataset": {"samples": 400, "val_fraction": 0.2, "kind": "iso", "seed": 0},
        "baseline": {"formulation": "imn", "depth": 3, "init": "uniform", "angles": "random",
                     "batch_size": 16, "n_train": 100, "lam": 1e-3},
        "sweep": {"design": "ofat", "seeds": [0, 1], "axes": {"formulation": ["dmn", "imn"]}, **sweep},
        "dask": {"workers": 2, "processes": False, "threads_per_worker": 1},
    }
    return cfgmod._merge(cfgmod.DEFAULTS, over)


# --------------------------------------------------------------------------- config and plan
def test_config_files_load_and_plan_ofat(tmp_path):
    cfg = cfgmod.load_config(ROOT / "assess_configs" / "default.toml")
    settings = cfgmod.settings(cfg)
    base = {k: cfg["baseline"][k] for k in cfgmod.BASELINE_KEYS}
    axes = cfg["sweep"]["axes"]
    expected = 1 + sum(len([v for v in vals if v != base[k]]) for k, vals in axes.items())
    assert len(settings) == expected == 17
    assert settings[0] == base
    for s in settings:  # OFAT: each setting differs from the baseline in at most one key
        assert sum(s[k] != base[k] for k in base) <= 1
    runs = cfgmod.plan(cfg)
    assert len(runs) == expected * len(cfg["sweep"]["seeds"]) and len(cfg["sweep"]["seeds"]) >= 5
    assert len({r["run_id"] for r in runs}) == len(runs)
    red = cfgmod.load_config(ROOT / "assess_configs" / "reduced.toml")
    assert len(cfgmod.plan(red)) == 4
    # JSON config + overrides; grid design is the full factorial
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"sweep": {"design": "grid", "seeds": [3],
                                       "axes": {"depth": [2, 3], "lam": [0.0, 0.1, 1.0]}}}))
    g = cfgmod.load_config(p, ["baseline.depth=2", "dataset.samples=500", "name=\"x y\""])
    assert g["baseline"]["depth"] == 2 and g["name"] == "x y"
    assert len(cfgmod.settings(g)) == 2 * 3
    # a changed training budget changes every run id (no stale result can be reused)
    g2 = cfgmod.load_config(p, ["baseline.depth=2", "dataset.samples=500", "training.epochs=7"])
    assert not {r["run_id"] for r in cfgmod.plan(g)} & {r["run_id"] for r in cfgmod.plan(g2)}


@pytest.mark.parametrize("override, msg", [
    ("baseline.depth=0", "depth"),
    ("baseline.formulation=\"xmn\"", "formulation"),
    ("sweep.seeds=[1,1]", "duplicates"),
    ("baseline.n_train=100000", "training samples"),
    ("sweep.axes.foo=[1]", "unknown"),
    ("phases.specs=[\"j2:E=1\", \"elastic:E=1,nu=0.2\"]", "j2"),
    ("nokey", "KEY=VALUE"),
    ("baseline.dpeth=3", "unknown baseline key"),
    ("sweeps.seeds=[1]", "unknown key"),
    ("training.reg=\"l2\"", "training.reg"),
])
def test_config_errors_are_one_line(override, msg):
    from dmn_umat.laws import PhaseSpecError

    with pytest.raises((AssessError, PhaseSpecError)) as exc:
        cfgmod.load_config(ROOT / "assess_configs" / "reduced.toml", [override])
    assert msg in str(exc.value) and "\n" not in str(exc.value)


def test_cli_errors(tmp_path, capsys):
    from dmn_umat.cli import main

    assert main(["assess", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[baseline\n")
    assert main(["assess", str(bad)]) == 2
    assert "bad.toml" in capsys.readouterr().err
    assert main(["assess", str(ROOT / "assess_configs" / "reduced.toml"), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_runs"] == 4


# --------------------------------------------------------------------------- Dask sweep + resume
def test_dask_sweep_resumes_after_injected_failure(tmp_path):
    cfg = small_cfg(axes={"formulation": ["dmn", "imn"], "n_train": [25, 100]})
    runs = cfgmod.plan(cfg)
    victim = runs[2]["run_id"]
    cfg["test_fail_once"] = victim
    out = tmp_path / "sweep"
    res = run_assessment(cfg, out, execute=fake_execute, prepare=fake_prepare, show_progress=False)
    assert res["planned"] == len(runs) == 6 and list(res["failed"]) == [victim]
    assert res["finished"] == 5 and (out / "runs" / f"{victim}.error.txt").is_file()
    assert load_result(out, victim) is None
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(mtimes) == 5
    with pytest.raises(AssessError, match="--resume"):
        run_assessment(cfg, out, execute=fake_execute, prepare=fake_prepare, show_progress=False)
    res2 = run_assessment(cfg, out, resume=True, execute=fake_execute, prepare=fake_prepare,
                          show_progress=False)
    assert res2["done"] == 1 and res2["skipped"] == 5 and not res2["failed"]
    # finished runs were not redone: files untouched, each run executed once (victim twice)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json") if p.name in mtimes} == mtimes
    counts = {}
    for line in (out / "counter.txt").read_text().split():
        counts[line] = counts.get(line, 0) + 1
    assert counts == {r["run_id"]: (2 if r["run_id"] == victim else 1) for r in runs}
    assert not (out / "runs" / f"{victim}.error.txt").exists()
    with open(out / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["run_id"] for r in rows) == sorted(r["run_id"] for r in runs)
    assert {r["formulation"] for r in rows} == {"dmn", "imn"}
    md = (out / "report.md").read_text()
    assert "runs finished: 6 of 6" in md and "dmn_vs_imn.png" in md
    assert (out / "plots" / "error_vs_n_train.png").stat().st_size > 1000


_KILL_SCRIPT = """
import sys, json
sys.path.insert(0, {tests!r})
import test_assess as t
from dmn_umat.assess.study import run_assessment
cfg = json.loads(open({cfgfile!r}).read())
run_assessment(cfg, {out!r}, resume=True, execute=t.fake_execute, prepare=t.fake_prepare, show_progress=False)
"""


def test_killed_sweep_resumes_without_redoing_finished_runs(tmp_path):
    cfg = small_cfg(seeds=[0, 1, 2, 3])  # 8 runs, 0.4 s each on 2 threads
    cfg["test_sleep"] = 0.4
    cfg["dask"]["workers"] = 2
    cfgfile, out = tmp_path / "cfg.json", tmp_path / "sweep"
    cfgfile.write_text(json.dumps(cfg))
    script = _KILL_SCRIPT.format(tests=str(Path(__file__).parent), cfgfile=str(cfgfile), out=str(out))
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "runs").glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert 2 <= len(before) < 8, "the sweep should have been killed midway"
    assert not list((out / "runs").glob("*.tmp"))  # no half-written results
    res = run_assessment(cfg, out, resume=True, execute=fake_execute, prepare=fake_prepare,
                         show_progress=False)
    assert res["skipped"] == len(before) and res["done"] == 8 - len(before) and res["finished"] == 8
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert all(after[k] == v for k, v in before.items())
    executed = (out / "counter.txt").read_text().split()
    for name in before:  # a run that had finished before the kill was never executed again
        assert executed.count(name[:-5]) == 1


def test_serial_and_dask_give_identical_tables(tmp_path):
    cfg = small_cfg()
    a = run_assessment(cfg, tmp_path / "a", serial=True, execute=fake_execute, prepare=fake_prepare,
                       show_progress=False)
    b = run_assessment(cfg, tmp_path / "b", execute=fake_execute, prepare=fake_prepare, show_progress=False)
    assert a["finished"] == b["finished"] == 4
    ra = json.loads((tmp_path / "a" / "results.json").read_text())
    rb = json.loads((tmp_path / "b" / "results.json").read_text())
    key = "run_id"
    assert sorted(ra, key=lambda r: r[key]) == sorted(rb, key=lambda r: r[key])


def test_run_sweep_records_exceptions_per_run(tmp_path):
    def boom(spec, ctx):
        if spec["seed"] == 1:
            raise ValueError("bad\nsecond line")
        return {"x": spec["seed"]}

    runs = [{"run_id": f"r{i}", "seed": i} for i in range(3)]
    oc = run_sweep(runs, tmp_path, boom, {})
    assert sorted(oc.done) == ["r0", "r2"] and oc.failed == {"r1": "ValueError: bad"}
    assert load_result(tmp_path, "r2")["x"] == 2
    (tmp_path / "runs" / "r0.json").write_text("{trunc")  # corrupt result → redone
    oc2 = run_sweep(runs, tmp_path, lambda s, c: {"x": -1}, {})
    assert sorted(oc2.done) == ["r0", "r1"] and oc2.skipped == ["r2"]


# --------------------------------------------------------------------------- verdict statistics
def _rows(cfg):
    return [rep.to_row(fake_execute(s, {"counter": os.devnull, "sleep": 0, "fail_once": None, "marker": ""}))
            for s in cfgmod.plan(cfg)]


def test_findings_detect_known_trends():
    cfg = small_cfg(seeds=[0, 1, 2, 3, 4], axes={"formulation": ["dmn", "imn"], "n_train": [25, 100, 400],
                                                 "lam": [0.0, 1e-3, 1e-2, 1e-1], "batch_size": [4, 16, 64],
                                                 "init": ["uniform", "normal"]})
    cfg["dataset"]["samples"] = 600
    f = {x["id"]: x for x in rep.findings(_rows(cfg), cfg["baseline"])}
    assert f["data_size"]["verdict"] == "reproduced" and f["data_size"]["rho"] < 0
    assert f["lambda"]["verdict"].startswith("partly")  # complexity yes, generalization no (by construction)
    assert f["imn_vs_dmn"]["verdict"] == "reproduced" and 3.4 < f["imn_vs_dmn"]["speedup"] < 4.7
    assert f["init_batch"]["verdict"] == "not reproduced"  # no effect built in


def test_findings_refuse_unsupported_claims():
    cfg = small_cfg(seeds=[0, 1, 2, 3, 4], axes={"formulation": ["dmn", "imn"], "n_train": [25, 100, 400]})
    cfg["dataset"]["samples"] = 600
    rows = _rows(cfg)
    for r in rows:  # flatten the data-size effect and make IMN as slow as DMN
        r["val_err_mean"] = 0.05 + 0.01 * ((r["seed"] * 7919) % 5) / 5
        r["train_seconds"] = 2.0 + 0.01 * r["seed"]
    f = {x["id"]: x for x in rep.findings(rows, cfg["baseline"])}
    assert f["data_size"]["verdict"] == "not reproduced"
    assert f["imn_vs_dmn"]["verdict"] == "not reproduced"
    assert f["lambda"]["verdict"] == "not tested" and f["init_batch"]["verdict"] == "not tested"


def test_formulation_by_depth_table_from_grid():
    cfg = small_cfg(design="grid", seeds=[0, 1, 2], axes={"formulation": ["dmn", "imn"], "depth": [2, 3]})
    rows = _rows(cfg)
    assert len(rows) == 2 * 2 * 3
    table = rep.formulation_by_depth(rows, cfg["baseline"])
    lines = [ln for ln in table.splitlines() if ln.startswith("| 2 ") or ln.startswith("| 3 ")]
    assert len(lines) == 2
    for ln in lines:  # the synthetic DMN trains 4× slower (±2 % noise) at every depth
        ratio = float(ln.split("|")[4])
        assert 3.8 < ratio < 4.2
    assert rep.formulation_by_depth(_rows(small_cfg()), cfg["baseline"]) == ""


def test_sweep_on_an_existing_scheduler(tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        res = run_assessment(small_cfg(), tmp_path / "s", scheduler=cluster.scheduler_address,
                             execute=fake_execute, prepare=fake_prepare, show_progress=False)
        assert res["finished"] == 4 and not res["failed"]
        with Client(cluster.scheduler_address) as c:  # the user's cluster is left running
            assert c.submit(lambda x: x + 1, 1).result() == 2


def test_time_to_target_on_synthetic_histories():
    from dmn_umat.assess.convergence import first_reach, time_to_target

    def hist(rate, cpu_per_epoch, floor, n=50):
        # val error decays geometrically to ``floor``; CPU time grows linearly
        return [{"epoch": e, "val_error": floor + (1 - floor) * rate**e, "cpu_time": cpu_per_epoch * e}
                for e in range(1, n + 1)]

    assert first_reach(hist(0.5, 1.0, 0.1), 0.2) == (4.0, 4)  # 0.1 + 0.9/16 ≤ 0.2 first at e = 4
    assert first_reach(hist(0.5, 1.0, 0.1), 0.05) is None
    logs = {"dmn": [hist(0.8, 2.0, 0.10)] * 2, "imn": [hist(0.5, 1.0, 0.10)] * 3}
    r = time_to_target(logs, factor=1.5)
    assert r["target"] == pytest.approx(0.15, rel=1e-3)  # dmn best = 0.1 + 0.9·0.8⁵⁰
    # dmn: 0.9·0.8^e ≤ 0.05 first at e = 13; imn: 0.9·0.5^e ≤ 0.05 at e = 5
    assert r["per"]["dmn"]["epochs_to_target"] == 13 and r["per"]["imn"]["epochs_to_target"] == 5
    assert r["speedup_to_target"] == pytest.approx(26.0 / 5.0)
    assert r["speedup_per_epoch"] == pytest.approx(2.0)
    assert r["per"]["imn"]["reached"] == 3
