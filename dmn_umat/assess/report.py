"""Tables, statistics, plots and the markdown report of an assessment sweep.

Rows are flat dicts (one per run, see :data:`COLUMNS`).  Effects of one factor are read on
the one-factor-at-a-time slice: runs whose setting equals the baseline except for that
factor.  Every verdict on a seed-paper finding is computed from these rows with a stated
statistical rule (Spearman rank correlation, one-way ANOVA, Welch t-test, p < 0.05) — never
assumed.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import warnings
from pathlib import Path

import numpy as np

from .config import BASELINE_KEYS, PATH_NAMES
from .runner import atomic_write_json, atomic_write_text

ALPHA = 0.05
PAPER_SPEEDUP = (3.4, 4.7)

COLUMNS = [
    "run_id", *BASELINE_KEYS, "seed", "train_seconds", "train_cpu_seconds", "epochs", "seconds_per_epoch",
    "train_err",
    "val_err_mean", "val_err_max", "leaves", "active_leaves",
    *[f"online_err_{p}" for p in PATH_NAMES], "online_err_mean", "online_us_per_point",
    "online_cpu_us_per_point", "online_failed",
    "online_driver_us_per_increment",
]
METRIC_LABELS = {
    "val_err_mean": "mean validation error (linear C̄)",
    "online_err_mean": "online stress error vs DNS",
    "train_seconds": "training wall time [s]",
    "train_cpu_seconds": "training CPU time [s]",
    "online_cpu_us_per_point": "online CPU cost [µs/point/increment]",
    "active_leaves": "active leaves after pruning",
    "online_us_per_point": "online cost [µs/point/increment]",
}


# --------------------------------------------------------------------------- rows
def to_row(res: dict) -> dict:
    spec = res.get("spec", {})
    row = {k: spec.get(k) for k in (*BASELINE_KEYS, "seed")}
    row["run_id"] = res.get("run_id")
    row["online_failed"] = len(res.get("online_failed") or {})
    for c in COLUMNS:
        if c not in row:
            row[c] = res.get(c)
    if isinstance(row.get("depth"), int):
        row["leaves"] = 2 ** row["depth"]  # leaves of the complete trained tree (before pruning)
    return row


def write_table(rows: list[dict], csv_path: Path, json_path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    atomic_write_text(csv_path, buf.getvalue())
    atomic_write_json(json_path, rows)


def _num(rows: list[dict], metric: str) -> np.ndarray:
    return np.array([float(r[metric]) for r in rows if isinstance(r.get(metric), int | float)], dtype=float)


def axis_slice(rows: list[dict], baseline: dict, axis: str) -> dict:
    """{value: [rows]} for runs equal to the baseline except (possibly) for ``axis``."""
    out: dict = {}
    for r in rows:
        if all(r.get(k) == baseline[k] for k in BASELINE_KEYS if k != axis):
            out.setdefault(r.get(axis), []).append(r)
    try:
        return dict(sorted(out.items(), key=lambda kv: kv[0]))
    except TypeError:
        return out


def stats(values: np.ndarray) -> dict:
    n = int(values.size)
    return {
        "n": n,
        "mean": float(values.mean()) if n else math.nan,
        "std": float(values.std(ddof=1)) if n > 1 else (0.0 if n == 1 else math.nan),
        "min": float(values.min()) if n else math.nan,
        "max": float(values.max()) if n else math.nan,
    }


def axis_stats(rows: list[dict], baseline: dict, axis: str, metrics: list[str]) -> list[dict]:
    out = []
    for v, rs in axis_slice(rows, baseline, axis).items():
        out.append({"value": v, **{m: stats(_num(rs, m)) for m in metrics}})
    return out


# --------------------------------------------------------------------------- findings
def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import spearmanr

    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    r = spearmanr(x, y)
    return float(r.statistic), float(r.pvalue)


def _anova(groups: list[np.ndarray]) -> float:
    from scipy.stats import f_oneway

    groups = [g for g in groups if g.size >= 2]
    if len(groups) < 2 or np.ptp(np.concatenate(groups)) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(f_oneway(*groups).pvalue)


def _xy(sl: dict, metric: str, transform=float) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for v, rs in sl.items():
        for r in rs:
            if isinstance(r.get(metric), int | float):
                xs.append(transform(v))
                ys.append(float(r[metric]))
    return np.array(xs), np.array(ys)


def _fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def finding_data_size(rows: list[dict], baseline: dict) -> dict:
    sl = axis_slice(rows, baseline, "n_train")
    f = {"id": "data_size", "claim": "validation error and its variance fall with the training-data size"}
    if len(sl) < 2:
        return {**f, "verdict": "not tested", "evidence": "fewer than two data sizes in the sweep"}
    x, y = _xy(sl, "val_err_mean")
    rho, p = _spearman(np.log(x), y)
    levels = list(sl)
    s_lo, s_hi = stats(_num(sl[levels[0]], "val_err_mean")), stats(_num(sl[levels[-1]], "val_err_mean"))
    falls = bool(math.isfinite(rho) and rho < 0 and p < ALPHA and s_hi["mean"] < s_lo["mean"])
    var_falls = bool(s_hi["std"] < s_lo["std"])
    verdict = "reproduced" if falls and var_falls else ("partly reproduced" if falls or var_falls else
                                                         "not reproduced")
    ev = (f"n_train {levels[0]} → {levels[-1]}: mean error {_fmt(s_lo['mean'])} → {_fmt(s_hi['mean'])}, "
          f"std over seeds {_fmt(s_lo['std'])} → {_fmt(s_hi['std'])}; Spearman ρ(log n, error) = {_fmt(rho)} "
          f"(p = {_fmt(p)}). Mean falls significantly: {'yes' if falls else 'no'}; "
          f"spread falls: {'yes' if var_falls else 'no'}.")
    return {**f, "verdict": verdict, "evidence": ev, "rho": rho, "p": p}


def finding_init_batch(rows: list[dict], baseline: dict) -> dict:
    f = {"id": "init_batch", "claim": "initialization and batch size matter"}
    parts, matters, tested = [], {}, 0
    for axis in ("init", "angles", "batch_size"):
        sl = axis_slice(rows, baseline, axis)
        if len(sl) < 2:
            continue
        tested += 1
        groups = [_num(rs, "val_err_mean") for rs in sl.values()]
        p = _anova(groups)
        means = ", ".join(f"{v}: {_fmt(float(g.mean()))}±{_fmt(float(g.std(ddof=1)) if g.size > 1 else 0.0)}"
                          for v, g in zip(sl, groups) if g.size)
        matters[axis] = bool(math.isfinite(p) and p < ALPHA)
        parts.append(f"{axis} ({means}; ANOVA p = {_fmt(p)})")
    if not tested:
        return {**f, "verdict": "not tested", "evidence": "no init/angles/batch_size axis in the sweep"}
    init_m = matters.get("init", False) or matters.get("angles", False)
    bs_m = matters.get("batch_size", False)
    has_init = "init" in matters or "angles" in matters
    has_bs = "batch_size" in matters
    if has_init and has_bs:
        verdict = "reproduced" if init_m and bs_m else ("partly reproduced" if init_m or bs_m
                                                         else "not reproduced")
    else:
        verdict = "partly tested: " + ("matters" if (init_m or bs_m) else "no significant effect")
    return {**f, "verdict": verdict, "evidence": "validation error per level — " + "; ".join(parts),
            "significant": matters}


def finding_lambda(rows: list[dict], baseline: dict) -> dict:
    f = {"id": "lambda", "claim": "λ controls network complexity and generalization"}
    sl = axis_slice(rows, baseline, "lam")
    if len(sl) < 2:
        return {**f, "verdict": "not tested", "evidence": "fewer than two λ values in the sweep"}
    x, a = _xy(sl, "active_leaves")
    rho, p = _spearman(x, a)
    p_val = _anova([_num(rs, "val_err_mean") for rs in sl.values()])
    p_on = _anova([_num(rs, "online_err_mean") for rs in sl.values()])
    complexity = bool(math.isfinite(rho) and p < ALPHA)
    general = bool((math.isfinite(p_val) and p_val < ALPHA) or (math.isfinite(p_on) and p_on < ALPHA))
    def mean(rs, m):
        v = _num(rs, m)
        return _fmt(float(v.mean())) if v.size else "n/a"

    lv = ", ".join(f"λ={_fmt(float(v))}: {mean(rs, 'active_leaves')} leaves, val {mean(rs, 'val_err_mean')}, "
                   f"online {mean(rs, 'online_err_mean')}" for v, rs in sl.items())
    verdict = "reproduced" if complexity and general else ("partly reproduced" if complexity or general
                                                            else "not reproduced")
    ev = (f"{lv}. Spearman ρ(λ, active leaves) = {_fmt(rho)} (p = {_fmt(p)}); ANOVA over λ of validation "
          f"error p = {_fmt(p_val)}, of online error p = {_fmt(p_on)}.")
    return {**f, "verdict": verdict, "evidence": ev}


def finding_imn_dmn(rows: list[dict], baseline: dict) -> dict:
    from scipy.stats import ttest_ind

    f = {"id": "imn_vs_dmn",
         "claim": "IMN trains 3.4–4.7× faster than DMN with comparable online accuracy and cost"}
    sl = axis_slice(rows, baseline, "formulation")
    if "dmn" not in sl or "imn" not in sl:
        return {**f, "verdict": "not tested", "evidence": "the sweep lacks one of the two formulations"}
    both = sl["dmn"] + sl["imn"]
    tm = "train_cpu_seconds" if all(isinstance(r.get("train_cpu_seconds"), int | float) for r in both) \
        else "train_seconds"
    cm = "online_cpu_us_per_point" if all(isinstance(r.get("online_cpu_us_per_point"), int | float)
                                          for r in both) else "online_us_per_point"
    t_d, t_i = _num(sl["dmn"], tm), _num(sl["imn"], tm)
    e_d, e_i = _num(sl["dmn"], "online_err_mean"), _num(sl["imn"], "online_err_mean")
    c_d, c_i = _num(sl["dmn"], cm), _num(sl["imn"], cm)
    v_d, v_i = _num(sl["dmn"], "val_err_mean"), _num(sl["imn"], "val_err_mean")
    speed = float(t_d.mean() / t_i.mean())
    with warnings.catch_warnings():  # near-identical samples: scipy warns, p stays meaningful
        warnings.simplefilter("ignore", RuntimeWarning)
        p_err = (float(ttest_ind(e_d, e_i, equal_var=False).pvalue) if min(e_d.size, e_i.size) >= 2
                 else math.nan)
    rel = abs(e_d.mean() - e_i.mean()) / max(e_d.mean(), e_i.mean()) if e_d.size and e_i.size else math.nan
    acc_ok = bool((math.isfinite(p_err) and p_err >= ALPHA) or (math.isfinite(rel) and rel <= 0.25))
    cost = float(c_d.mean() / c_i.mean()) if c_d.size and c_i.size else math.nan
    cost_ok = bool(math.isfinite(cost) and 2 / 3 <= cost <= 1.5)
    in_range = PAPER_SPEEDUP[0] <= speed <= PAPER_SPEEDUP[1]
    if in_range and acc_ok and cost_ok:
        verdict = "reproduced"
    elif speed > 1 and acc_ok:
        verdict = "partly reproduced" + ("" if in_range else f" (IMN faster, {speed:.2g}×, outside 3.4–4.7×)")
    else:
        verdict = "not reproduced"
    kind = "CPU" if tm == "train_cpu_seconds" else "wall"
    sd_d = t_d.std(ddof=1) if t_d.size > 1 else 0.0
    ev = (f"training {kind} time DMN {_fmt(t_d.mean())}±{_fmt(sd_d)} s vs IMN "
          f"{_fmt(t_i.mean())}±{_fmt(t_i.std(ddof=1) if t_i.size > 1 else 0.0)} s → IMN {speed:.3g}× faster "
          f"(same epoch budget and depth); validation error DMN {_fmt(v_d.mean())} vs IMN "
          f"{_fmt(v_i.mean())}; "
          f"online error DMN {_fmt(e_d.mean())} vs IMN {_fmt(e_i.mean())} (Welch p = {_fmt(p_err)}, "
          f"relative difference {_fmt(rel)}; comparable: {'yes' if acc_ok else 'no'}); "
          f"online {kind} cost DMN/IMN = "
          f"{_fmt(cost)} (comparable: {'yes' if cost_ok else 'no'}).")
    return {**f, "verdict": verdict, "evidence": ev, "speedup": speed, "time_metric": tm}


def findings(rows: list[dict], baseline: dict) -> list[dict]:
    return [finding_data_size(rows, baseline), finding_init_batch(rows, baseline),
            finding_lambda(rows, baseline), finding_imn_dmn(rows, baseline)]


# --------------------------------------------------------------------------- plots
def plots(rows: list[dict], cfg: dict, folder: Path) -> list[Path]:
    """PNG figures into ``folder``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    folder.mkdir(parents=True, exist_ok=True)
    base = cfg["baseline"]
    made: list[Path] = []

    def save(fig, name):
        p = folder / name
        tmp = folder / f".{name}.tmp.png"
        fig.tight_layout()
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(p)
        made.append(p)

    numeric = {"n_train": ("log", "training samples"), "batch_size": ("log", "batch size"),
               "lam": ("symlog", "λ (activation regularization)"), "depth": ("linear", "depth")}
    for axis, (scale, label) in numeric.items():
        st = axis_stats(rows, base, axis, ["val_err_mean", "online_err_mean", "active_leaves"])
        if len(st) < 2:
            continue
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        x = np.array([float(s["value"]) for s in st])
        for m, mk in (("val_err_mean", "o-"), ("online_err_mean", "s--")):
            mu = np.array([s[m]["mean"] for s in st])
            sd = np.array([s[m]["std"] for s in st])
            if np.all(np.isnan(mu)):
                continue
            ax.errorbar(x, mu, yerr=sd, fmt=mk, capsize=3, label=METRIC_LABELS[m])
        if scale == "symlog":
            ax.set_xscale("symlog", linthresh=float(x[x > 0].min()) if np.any(x > 0) else 1e-3)
        else:
            ax.set_xscale(scale)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(label)
        ax.set_ylabel("relative error (mean ± std over seeds)")
        if axis in ("lam", "depth"):
            ax2 = ax.twinx()
            ax2.plot(x, [s["active_leaves"]["mean"] for s in st], "k^:", label="active leaves")
            ax2.set_ylabel("active leaves after pruning")
            max_leaves = 2 ** int(max(x) if axis == "depth" else base["depth"])
            ax2.set_ylim(0, 1.05 * max_leaves)
            ax2.legend(loc="lower right", fontsize=7)
        ax.legend(loc="upper left", fontsize=7)
        ax.set_title(f"{base['formulation'].upper()}, one factor at a time: {axis}")
        save(fig, f"error_vs_{axis}.png")
    cat = [a for a in ("init", "angles") if len(axis_slice(rows, base, a)) >= 2]
    if cat:
        fig, axs = plt.subplots(1, len(cat), figsize=(4.2 * len(cat), 3.4), squeeze=False)
        for ax, a in zip(axs[0], cat):
            st = axis_stats(rows, base, a, ["val_err_mean", "online_err_mean"])
            labels = [str(s["value"]) for s in st]
            xi = np.arange(len(st))
            for j, m in enumerate(("val_err_mean", "online_err_mean")):
                ax.bar(xi + 0.38 * j, [s[m]["mean"] for s in st], 0.36, yerr=[s[m]["std"] for s in st],
                       capsize=3, label=METRIC_LABELS[m])
            ax.set_xticks(xi + 0.19, labels)
            ax.set_title(f"initialization: {a}")
            ax.set_ylabel("relative error")
            ax.legend(fontsize=7)
        save(fig, "error_vs_init.png")
    sl = axis_slice(rows, base, "formulation")
    if len(sl) >= 2:
        fig, axs = plt.subplots(1, 3, figsize=(11, 3.4))
        names = list(sl)
        rs_all = [r for n in names for r in sl[n]]
        cpu = all(isinstance(r.get("train_cpu_seconds"), int | float) for r in rs_all)
        ms = ("train_cpu_seconds", "online_err_mean", "online_cpu_us_per_point") if cpu else \
            ("train_seconds", "online_err_mean", "online_us_per_point")
        for ax, m in zip(axs, ms):
            vals = [_num(sl[n], m) for n in names]
            ax.bar([n.upper() for n in names], [v.mean() if v.size else np.nan for v in vals],
                   yerr=[v.std(ddof=1) if v.size > 1 else 0 for v in vals], capsize=4, color=["C0", "C1"][:2])
            ax.set_title(METRIC_LABELS[m], fontsize=9)
        fig.suptitle(f"DMN vs IMN at the baseline (depth {base['depth']}, same epoch budget)", fontsize=10)
        save(fig, "dmn_vs_imn.png")
    return made


# --------------------------------------------------------------------------- markdown
def summary(rows: list[dict], cfg: dict) -> dict:
    base = cfg["baseline"]
    axes = list(cfg["sweep"].get("axes", {}))
    metrics = ["val_err_mean", "val_err_max", "online_err_mean", "train_seconds", "active_leaves",
               "online_us_per_point"]
    return {
        "n_runs": len(rows),
        "baseline": base,
        "axes": {a: axis_stats(rows, base, a, metrics) for a in axes},
        "findings": findings(rows, base),
    }


def formulation_by_depth(rows: list[dict], baseline: dict) -> str:
    """Markdown table DMN vs IMN per depth (other keys at the baseline), '' if < 2 depths."""
    sel: dict = {}
    for r in rows:
        if all(r.get(k) == baseline[k] for k in BASELINE_KEYS if k not in ("formulation", "depth")):
            sel.setdefault(r.get("depth"), {}).setdefault(r.get("formulation"), []).append(r)
    depths = sorted(d for d, g in sel.items() if "dmn" in g and "imn" in g)
    if len(depths) < 2:
        return ""
    lines = ["| depth | train time DMN [s] | IMN [s] | DMN/IMN | val err DMN | IMN | online err DMN | IMN | "
             "online cost DMN/IMN |", "|---" * 9 + "|"]
    for d in depths:
        g = sel[d]
        both = g["dmn"] + g["imn"]
        tm = "train_cpu_seconds" if all(isinstance(r.get("train_cpu_seconds"), int | float) for r in both) \
            else "train_seconds"
        cm = "online_cpu_us_per_point" if all(isinstance(r.get("online_cpu_us_per_point"), int | float)
                                              for r in both) else "online_us_per_point"

        def m(f, key, g=g):
            v = _num(g[f], key)
            return float(v.mean()) if v.size else math.nan

        lines.append(f"| {d} | {_fmt(m('dmn', tm))} | {_fmt(m('imn', tm))} | "
                     f"{_fmt(m('dmn', tm) / m('imn', tm))} | {_fmt(m('dmn', 'val_err_mean'))} | "
                     f"{_fmt(m('imn', 'val_err_mean'))} | "
                     f"{_fmt(m('dmn', 'online_err_mean'))} | {_fmt(m('imn', 'online_err_mean'))} | "
                     f"{_fmt(m('dmn', cm) / m('imn', cm))} |")
    return ("## DMN vs IMN per depth (means over seeds; CPU times where recorded)\n\n" + "\n".join(lines)
            + "\n")


def _setting_table(rows: list[dict]) -> str:
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in BASELINE_KEYS), []).append(r)
    hdr = ("| formulation | depth | init | angles | batch | n_train | λ | seeds | train s | val err mean | "
           "val err max | online err | active leaves | µs/pt/inc | train CPU s | CPU µs/pt/inc |\n"
           + "|---" * 16 + "|\n")
    lines = []

    def nf(rs):
        k = sum(1 for r in rs if r.get("online_failed"))
        return f" ({k} not driven)" if k else ""

    for key, rs in groups.items():
        def ms(m, rs=rs):
            v = _num(rs, m)
            if not v.size:
                return "n/a"
            return f"{_fmt(float(v.mean()))} ± {_fmt(float(v.std(ddof=1)) if v.size > 1 else 0.0, 2)}"
        lines.append("| " + " | ".join(str(k) for k in key) + f" | {len(rs)} | {ms('train_seconds')} | "
                     f"{ms('val_err_mean')} | {ms('val_err_max')} | {ms('online_err_mean')}{nf(rs)} | "
                     f"{ms('active_leaves')} | {ms('online_us_per_point')} | {ms('train_cpu_seconds')} | "
                     f"{ms('online_cpu_us_per_point')} |")
    return hdr + "\n".join(lines) + "\n"


def markdown(rows: list[dict], cfg: dict, summ: dict, figures: list[str], n_planned: int,
             failed: dict | None = None, extra: str = "") -> str:
    ds, tr, on, m = cfg["dataset"], cfg["training"], cfg["online"], cfg["micro"]
    seeds = cfg["sweep"]["seeds"]
    nfail = sum(1 for r in rows if r.get("online_failed"))
    micro = m.get("file") or f"{m['generator']} " + ", ".join(f"{k}={v}" for k, v in m.items()
                                                             if k not in ("generator", "file"))
    out = [f"# Assessment study: DMN vs IMN ({cfg.get('name', 'assessment')})", ""]
    out += [
        "## What was run", "",
        f"- Microstructure: {micro}; online phases: " + ", ".join(f"`{s}`" for s in cfg["phases"]["specs"]),
        f"- Dataset: {ds['samples']} samples ({ds.get('kind', 'iso')} phases), validation fraction "
        f"{ds.get('val_fraction')}",
        f"- Training: {tr['epochs']} epochs budget per run, other options: "
        + (", ".join(f"{k}={v}" for k, v in tr.items() if k != "epochs") or "defaults of `dmn train`"),
        f"- Design: {cfg['sweep'].get('design', 'ofat')} around baseline "
        + ", ".join(f"{k}={v}" for k, v in cfg["baseline"].items())
        + "; axes: " + "; ".join(f"{k} ∈ {v}" for k, v in cfg["sweep"].get("axes", {}).items()),
        f"- Seeds per setting: {len(seeds)} ({seeds}); runs finished: {len(rows)} of {n_planned}"
        + (f"; failed: {len(failed)}" if failed else ""),
        f"- Online tests vs FFT DNS: {', '.join(on['paths'])}, peak strain {on['strain']}, "
        f"{on['steps']} steps per segment; error = relative L2 of the stress over the path"
        + (f"; the online Newton could not drive {nfail} network(s) through every path (online error "
           "left out for those runs, column `online_failed`)" if nfail else ""),
        "",
        "One-factor-at-a-time (OFAT): every axis is varied alone, all other keys at the baseline; "
        "an effect is read only on that slice. This costs Σ(levels) instead of Π(levels) settings and "
        "cannot show interactions between factors.", "",
    ]
    out += [
        "Metrics per run: *validation error* = relative Frobenius error ‖C̄_net − C̄_FFT‖/‖C̄_FFT‖ "
        "(Mandel) of the exported, pruned network (numpy recursive laminate) on the held-out samples "
        "(mean and max); *training time* = wall time of the training loop reported by `dmn train` for "
        "the fixed epoch budget (`train_seconds`) and CPU time of the worker thread over the whole "
        "`dmn train` call (`train_cpu_seconds`; DMN/IMN ratios use it where every run has it); "
        "*active leaves* = leaves with non-zero weight after pruning; "
        "*online error* = relative L2 norm over the path of the stress of the network "
        "(`NetworkMaterial`, J2 matrix + elastic inclusions, mixed control) against the FFT DNS; "
        "*online cost* = µs per integration point per increment of a batched update "
        f"({on.get('cost_points', 256)} points, one plastic increment, one thread; wall and CPU).", "",
    ]
    if cfg.get("source"):
        out += [f"Reproduce: `dmn assess {cfg['source']}` (add `--resume` to continue an interrupted sweep).",
                ""]
    out += ["## Seed-paper findings, checked against this sweep", ""]
    for f in summ["findings"]:
        out += [f"- **{f['claim']}** — **{f['verdict']}**. {f['evidence']}"]
    out += ["", "Rules: monotone trends by Spearman rank correlation, level effects by one-way ANOVA over "
            "seeds, DMN/IMN accuracy by Welch's t-test (or ≤ 25 % relative difference); significance "
            f"p < {ALPHA}.", ""]
    out += ["## Per-setting results (mean ± std over seeds)", "", _setting_table(rows)]
    by_depth = formulation_by_depth(rows, cfg["baseline"])
    if by_depth:
        out += [by_depth]
    if figures:
        out += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in figures] + [""]
    if failed:
        out += ["## Failed runs", ""] + [f"- `{k}`: {v}" for k, v in failed.items()] + [""]
    if cfg.get("note"):
        out += ["## Notes", "", str(cfg["note"]).strip(), ""]
    out += [
        "## How this report is made", "",
        "`dmn assess CONFIG [--set key=value ...] [--out DIR] [--scheduler ADDRESS] [--workers K] "
        "[--resume] [--report FILE.md]` reads a TOML/JSON config (`assess_configs/`), generates the "
        "microstructure, the FFT training data and the DNS reference of every online path once "
        "(cached in `DIR/cache`), then trains, prunes, validates and drives one network per run on "
        "Dask (a `LocalCluster` of one-thread worker processes, or the cluster at `--scheduler`). "
        "Each finished run is written atomically to `DIR/runs/<run-id>.json`; `--resume` skips "
        "those, so a killed sweep loses only the runs in flight. The run id encodes the setting, the "
        "seed and a hash of everything else the result depends on (data, training options, online "
        "tests), so a changed config never reuses a stale result. Tables: `DIR/results.csv|json`; "
        "statistics and verdicts: `DIR/summary.json`.", "",
    ]
    if extra:
        out += [extra, ""]
    return "\n".join(out)


def write_outputs(cfg: dict, results: list[dict], out: Path, n_planned: int, failed: dict | None = None,
                  md_path: Path | None = None, assets: Path | None = None, extra: str = "") -> dict:
    """Write ``out/results.{csv,json}``, ``out/summary.json``, ``out/plots/*.png``,
    ``out/report.md``; with ``md_path`` also a copy of the report whose figures and CSV live
    in ``assets`` (linked relatively).  Returns the summary."""
    rows = [to_row(r) for r in results]
    write_table(rows, out / "results.csv", out / "results.json")
    summ = summary(rows, cfg)
    atomic_write_json(out / "summary.json", summ)
    figs = plots(rows, cfg, out / "plots") if rows else []
    atomic_write_text(out / "report.md", markdown(rows, cfg, summ, [f"plots/{p.name}" for p in figs],
                                                  n_planned, failed, extra))
    if md_path is not None:
        md_path = Path(md_path)
        assets = Path(assets) if assets is not None else md_path.with_suffix("")
        assets.mkdir(parents=True, exist_ok=True)
        for p in figs:
            shutil.copyfile(p, assets / p.name)
        shutil.copyfile(out / "results.csv", assets / "results.csv")
        shutil.copyfile(out / "summary.json", assets / "summary.json")
        rel = Path(assets.resolve().relative_to(md_path.resolve().parent)) if assets.resolve().is_relative_to(
            md_path.resolve().parent) else assets.resolve()
        text = markdown(rows, cfg, summ, [f"{rel.as_posix()}/{p.name}" for p in figs], n_planned, failed,
                        extra + f"\nAll runs: [{rel.as_posix()}/results.csv]({rel.as_posix()}/results.csv).")
        atomic_write_text(md_path, text)
    return summ
