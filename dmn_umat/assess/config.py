"""Assessment-study configuration: load (TOML/JSON), override (``--set key=value``), validate,
and expand the sweep into a list of run specifications.

Top-level keys: ``name`` (default output folder name), ``note`` (markdown appended to the
report).  Sections of a config (all optional except where noted; defaults in :data:`DEFAULTS`):

- ``[micro]``: ``file = "rve.npy"`` or a generator for ``dmn micro`` (``generator =
  "spheres"``, ``size``, ``vf``, ``radius``, ``seed``, ...: every key except ``generator``/``file``
  becomes a ``--key value`` option of ``dmn micro GENERATOR``).
- ``[phases]``: ``specs = [matrix, inclusion]`` phase specs for the online tests (phase id p of
  the voxels selects ``specs[p]``), e.g. a J2 matrix and elastic inclusions.
- ``[dataset]``: ``samples``, ``val_fraction``, ``seed``, ``tol`` and sampler fields (``kind``,
  ...) — passed to ``rve.dataset.generate_dataset``; generated once, cached in ``DIR/cache``.
- ``[training]``: settings shared by every run (``epochs`` budget, ``lr``, ``loss``, ``reg``,
  ...) — passed to ``dmn train`` as ``--key value``; ``reg = "l1"`` selects the sparsity
  (normalized L1) activation regularizer that the ``lam`` axis then weights (default ``"sum"``).
- ``[baseline]``: the reference setting: ``formulation``, ``depth``, ``init``, ``angles``,
  ``batch_size``, ``n_train``, ``lam``.
- ``[sweep]``: ``design = "ofat"`` (one factor at a time around the baseline) or ``"grid"``
  (full factorial), ``seeds`` (list, ≥ 5 recommended), ``axes`` = table of
  ``key = [values]`` where key is a baseline key.
- ``[online]``: ``paths`` (subset of ``tension``, ``shear``, ``unload``), ``strain`` (peak
  strain), ``steps`` (increments per loading segment), ``cost_points``, ``cost_repeats``.
- ``[dns]``: ``tol`` and extra keyword arguments of ``rve.fft.dns``.
- ``[dask]``: ``workers``, ``processes``, ``threads_per_worker``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from ..fileio import read_text_file

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class AssessError(ValueError):
    """An unusable assessment config or sweep (one-line, user-facing message)."""


DEFAULTS: dict[str, Any] = {
    "name": "assessment",
    "note": "",  # free markdown appended to the report (e.g. how this sweep was sized)
    "micro": {"generator": "spheres", "size": 16, "vf": 0.2, "radius": 3, "seed": 0},
    "phases": {
        "specs": ["j2:E=70e3,nu=0.33,sy=120,H=700,Q=60,b=300", "elastic:E=400e3,nu=0.2"],
    },
    "dataset": {"samples": 300, "val_fraction": 0.2, "kind": "iso", "seed": 0},
    "training": {"epochs": 200, "no_plot": True},
    "baseline": {
        "formulation": "imn",
        "depth": 4,
        "init": "uniform",
        "angles": "random",
        "batch_size": 32,
        "n_train": 200,
        "lam": 1e-3,
    },
    "sweep": {
        "design": "ofat",
        "seeds": [0, 1, 2, 3, 4],
        "axes": {
            "formulation": ["dmn", "imn"],
            "n_train": [25, 50, 100, 200],
            "batch_size": [8, 32, 200],
            "lam": [0.0, 1e-3, 1e-2, 1e-1],
            "init": ["uniform", "normal"],
            "angles": ["random", "structured"],
            "depth": [3, 4, 5],
        },
    },
    "online": {
        "paths": ["tension", "shear", "unload"],
        "strain": 0.02,
        "steps": 10,
        "cost_points": 256,
        "cost_repeats": 3,
    },
    "dns": {"tol": 1e-6},
    "dask": {"workers": 2, "processes": True, "threads_per_worker": 1},
}

BASELINE_KEYS = ("formulation", "depth", "init", "angles", "batch_size", "n_train", "lam")
PATH_NAMES = ("tension", "shear", "unload")


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "axes":
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal (number, bool, list, quoted string) or a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(cfg: dict, item: str) -> None:
    """Apply one ``key.sub=value`` override in place (creates missing tables)."""
    if "=" not in item:
        raise AssessError(f"--set {item!r}: expected KEY=VALUE (e.g. baseline.depth=3)")
    key, value = item.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise AssessError(f"--set {item!r}: malformed key")
    node = cfg
    for p in parts[:-1]:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise AssessError(f"--set {item!r}: {p!r} is not a table")
        node = nxt
    node[parts[-1]] = parse_value(value.strip())


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """Read a TOML/JSON config (None → defaults only), merge over defaults, apply overrides,
    validate; relative file names inside it are resolved against the config's folder."""
    user: dict = {}
    base_dir = Path.cwd()
    if path is not None:
        path = Path(path)
        text = read_text_file(path, "config file", AssessError)
        try:
            user = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AssessError(f"config file {str(path)!r}: {exc}") from None
        base_dir = path.resolve().parent
    cfg = _merge(DEFAULTS, user)
    if path is not None:
        cfg["source"] = str(path) + "".join(f" --set {o}" for o in overrides or [])
    for item in overrides or []:
        apply_override(cfg, item)
    mf = cfg["micro"].get("file")
    if mf:
        p = Path(mf)
        cfg["micro"]["file"] = str(p if p.is_absolute() else (base_dir / p).resolve())
    validate(cfg)
    return cfg


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_TOP_KEYS = set(DEFAULTS) | {"source"}
_TEST_KEYS = ("test_",)  # hooks used by the test-suite's synthetic executor


TRAINING_JOB_KEYS = ("val_fraction", "prune_tol")  # [training] keys of the TrainJob, not the TrainConfig


def training_keys() -> set[str]:
    """Keys a ``[training]`` table may hold: TrainConfig fields, the job keys and ``no_plot``."""
    from ..offline.train import TrainConfig

    return {f.name for f in dataclasses.fields(TrainConfig)} | {*TRAINING_JOB_KEYS, "no_plot"}


def unknown_training_keys(training: dict) -> list[str]:
    """The keys of a ``[training]`` table that are no training setting (sorted)."""
    return sorted(set(training) - training_keys())


def validate(cfg: dict) -> None:
    """Raise AssessError with a one-line message for an unusable config (typos included)."""
    unknown = [k for k in cfg if k not in _TOP_KEYS and not k.startswith(_TEST_KEYS)]
    if unknown:
        raise AssessError(f"config: unknown key(s) {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(sorted(DEFAULTS))})")
    b = cfg["baseline"]
    extra = [k for k in b if k not in BASELINE_KEYS]
    if extra:
        raise AssessError(f"config: unknown baseline key(s) {', '.join(map(repr, extra))} "
                          f"(known: {', '.join(BASELINE_KEYS)})")
    for k in BASELINE_KEYS:
        if k not in b:
            raise AssessError(f"config: baseline.{k} is missing")
    axes = cfg["sweep"].get("axes", {})
    if not isinstance(axes, dict):
        raise AssessError("config: sweep.axes must be a table of key = [values]")
    for k, vals in axes.items():
        if k not in BASELINE_KEYS:
            raise AssessError(f"config: sweep axis {k!r} unknown (use {', '.join(BASELINE_KEYS)})")
        if not isinstance(vals, list) or not vals:
            raise AssessError(f"config: sweep.axes.{k} must be a non-empty list")
    for key, vals in [(k, [b[k], *axes.get(k, [])]) for k in BASELINE_KEYS]:
        for v in vals:
            if key == "formulation" and v not in ("dmn", "imn"):
                raise AssessError(f"config: formulation {v!r} must be 'dmn' or 'imn'")
            if key in ("depth", "batch_size", "n_train") and (not _is_int(v) or v < 1):
                raise AssessError(f"config: {key} = {v!r} must be a positive integer")
            if key == "lam" and (not isinstance(v, int | float) or isinstance(v, bool) or v < 0):
                raise AssessError(f"config: lam = {v!r} must be a non-negative number")
    seeds = cfg["sweep"].get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) for s in seeds):
        raise AssessError("config: sweep.seeds must be a non-empty list of integers")
    if len(set(seeds)) != len(seeds):
        raise AssessError("config: sweep.seeds has duplicates")
    if cfg["sweep"].get("design", "ofat") not in ("ofat", "grid"):
        raise AssessError("config: sweep.design must be 'ofat' or 'grid'")
    ds = cfg["dataset"]
    if not _is_int(ds.get("samples")) or ds["samples"] < 2:
        raise AssessError("config: dataset.samples must be an integer ≥ 2")
    vf = ds.get("val_fraction", 0.2)
    if not (0.0 < vf < 1.0):
        raise AssessError("config: dataset.val_fraction must lie in (0, 1)")
    n_train_avail = ds["samples"] - max(1, round(ds["samples"] * vf))
    n_max = max([b["n_train"], *axes.get("n_train", [])])
    if n_max > n_train_avail:
        raise AssessError(
            f"config: n_train up to {n_max} but the dataset has only about {n_train_avail} training samples "
            f"(dataset.samples={ds['samples']}, val_fraction={vf})"
        )
    specs = cfg["phases"].get("specs")
    if not isinstance(specs, list) or len(specs) < 2:
        raise AssessError("config: phases.specs must list at least two phase specs")
    from ..laws import parse_phase

    for s in specs:
        parse_phase(s)  # PhaseSpecError carries its own one-line message
    paths = cfg["online"].get("paths", [])
    bad = [p for p in paths if p not in PATH_NAMES]
    if bad or not paths:
        raise AssessError(f"config: online.paths must be a non-empty subset of {list(PATH_NAMES)}, "
                          f"got {paths}")
    if not (isinstance(cfg["online"].get("steps"), int) and cfg["online"]["steps"] >= 1):
        raise AssessError("config: online.steps must be a positive integer")
    if not isinstance(cfg["training"].get("epochs"), int) or cfg["training"]["epochs"] < 1:
        raise AssessError("config: training.epochs must be a positive integer")
    if cfg["training"].get("reg", "sum") not in ("sum", "l1"):
        raise AssessError(f"config: training.reg = {cfg['training']['reg']!r} must be 'sum' or 'l1'")
    unknown = unknown_training_keys(cfg["training"])
    if unknown:
        raise AssessError(f"config: unknown training keys {unknown} "
                          f"(known: {', '.join(sorted(training_keys()))})")
    if "file" not in cfg["micro"] and "generator" not in cfg["micro"]:
        raise AssessError("config: micro needs either file = 'X.npy' or generator = 'spheres'|...")


def digest(obj: Any, n: int = 10) -> str:
    """Short stable hash of a JSON-able object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def settings(cfg: dict) -> list[dict]:
    """Distinct settings (baseline-key dicts) of the sweep design.

    ``ofat``: the baseline first, then for each axis every value with all other keys at the
    baseline (duplicates removed).  ``grid``: the full factorial over all axes (keys without
    an axis stay at the baseline); the report reads each factor's effect on the slice where
    the other factors take their baseline values, so include those values in the axes.
    """
    base = {k: cfg["baseline"][k] for k in BASELINE_KEYS}
    axes = cfg["sweep"].get("axes", {})
    out: list[dict] = []

    def add(s: dict) -> None:
        if s not in out:
            out.append(s)

    if cfg["sweep"].get("design", "ofat") == "grid":
        keys = list(axes)
        for combo in itertools.product(*(axes[k] for k in keys)):
            add({**base, **dict(zip(keys, combo))})
    else:
        add(dict(base))
        for k, vals in axes.items():
            for v in vals:
                add({**base, k: v})
    return out


def run_id(setting: dict, seed: int, fingerprint: str) -> str:
    """Readable, file-system safe run id; ``fingerprint`` hashes everything else that
    affects the result (dataset, training settings, online tests), so a changed config
    never reuses a stale result."""
    s = setting
    lam = f"{s['lam']:g}".replace("+", "")
    return (
        f"{s['formulation']}_d{s['depth']}_{s['init']}-{s['angles']}_bs{s['batch_size']}"
        f"_n{s['n_train']}_lam{lam}_s{seed}_{fingerprint}"
    )


def fingerprint(cfg: dict) -> str:
    """Hash of the parts of the config every run depends on (not the sweep design)."""
    keys = ("micro", "phases", "dataset", "training", "online", "dns")
    return digest({k: cfg[k] for k in keys}, 8)


def plan(cfg: dict) -> list[dict]:
    """All runs: one spec per (setting, seed) with ``run_id``, ``seed`` and the setting keys.

    Seed-major order (every setting with the first seed, then the second, ...), so a sweep
    stopped early still covers every setting with the seeds it reached."""
    fp = fingerprint(cfg)
    runs = []
    for seed in cfg["sweep"]["seeds"]:
        for s in settings(cfg):
            runs.append({"run_id": run_id(s, seed, fp), "seed": int(seed), **s})
    return runs
