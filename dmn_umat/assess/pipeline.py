"""The assessment pipeline: what one sweep prepares once and what one run does.

Everything here orchestrates the other stages through their public contracts:

- microstructure: :func:`dmn_umat.rve.micro.generate` (or a user ``.npy``),
- training data: :func:`dmn_umat.rve.dataset.generate_dataset` and
  :func:`dmn_umat.rve.dataset.load_dataset`,
- DNS references: :func:`dmn_umat.rve.fft.dns` (computed once per path, cached as ``.npz``),
- training: :func:`dmn_umat.offline.api.train_model` (one :class:`~dmn_umat.offline.api.TrainJob`
  per run), :func:`dmn_umat.model_file.read` and :func:`dmn_umat.offline.export.prune`,
- online: :func:`dmn_umat.online.driver.drive_model` (one :class:`~dmn_umat.online.driver.DriveJob`
  per path: mixed control, step cut back up to :data:`ONLINE_MAX_CUTS` times) and
  :class:`dmn_umat.online.solver.NetworkMaterial` for the cost per point.

Held-out online paths (Mandel, ``ε`` = ``online.strain``, ``n`` = ``online.steps``):

- ``tension``: ε11 ramped 0 → ε in n steps, all other stresses zero (uniaxial stress);
- ``shear``: Mandel ε12 component (√2 ε12) ramped 0 → ε, all other stresses zero;
- ``unload``: ε11 0 → ε → 0 (n steps per segment), all other stresses zero.

Online error of a path: relative L2 norm over the whole path,
``sqrt(Σ_t ‖σ_net(t) − σ_dns(t)‖² / Σ_t ‖σ_dns(t)‖²)`` (Mandel norms, all 6 components).
A path the online solver cannot complete (Newton fails after sub-stepping) gives error
``None`` and an entry in ``online_failed``; the run still records its training metrics.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .config import TRAINING_JOB_KEYS, AssessError, digest, unknown_training_keys


def online_path(name: str, strain: float, steps: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """(path (n,6) Mandel, stress-free Mandel indices) of a held-out online test."""
    from ..loadpath import cyclic, uniaxial

    if name == "tension":
        return uniaxial(strain, steps, 0), (1, 2, 3, 4, 5)
    if name == "shear":
        return uniaxial(strain, steps, 5), (0, 1, 2, 3, 4)
    if name == "unload":
        return cyclic([strain, 0.0], steps, 0), (1, 2, 3, 4, 5)
    raise ValueError(f"unknown online path {name!r}")


def _load_phases(specs: list[str]):
    from ..laws import parse_phase

    return [parse_phase(s) for s in specs]


# --------------------------------------------------------------------------- preparation
def prepare_micro(cfg: dict, cache: Path) -> Path:
    """The microstructure ``.npy`` (user file, or generated once into ``cache``), checked to hold
    exactly the phase ids of ``phases.specs``."""
    from ..rve import micro as micro_gen

    m = cfg["micro"]
    if m.get("file"):
        path = Path(m["file"])
    else:
        path = cache / f"micro-{m['generator']}-{digest(m)}.npy"
        if not path.is_file():
            opts = {k: v for k, v in m.items() if k not in ("generator", "file") and v is not None}
            micro_gen.save_micro(micro_gen.generate(m["generator"], **opts), path)
    try:
        top = int(micro_gen.load_voxels(path).max())
    except micro_gen.MicroError as exc:
        raise AssessError(str(exc)) from None
    n = len(cfg["phases"]["specs"])
    if top + 1 != n:
        raise AssessError(f"microstructure {str(path)!r} has {top + 1} phases (ids 0..{top}) but "
                          f"phases.specs lists {n}")
    return path


def prepare_dataset(cfg: dict, micro: Path, cache: Path, scheduler: str | None) -> Path:
    """Training data, generated once per (microstructure, dataset settings) into ``cache`` with
    :func:`dmn_umat.rve.dataset.generate_dataset` (on the sweep's Dask cluster when there is
    one; its own partial-file resume covers a kill during generation).

    ``[dataset]`` keys: ``samples``, ``val_fraction``, ``seed``, ``tol``, ``max_iter``; every
    other key is a :class:`dmn_umat.rve.sampling.SamplerSettings` field (``kind``, ranges).
    """
    from ..rve.dataset import generate_dataset
    from ..rve.sampling import SamplerSettings

    d = dict(cfg["dataset"])
    key = digest({"micro": digest(micro.read_bytes().hex()), "dataset": d})
    path = cache / f"data-{key}.h5"
    if not path.is_file():
        gen_keys = ("samples", "val_fraction", "seed", "tol", "max_iter")
        kw = {k: d[k] for k in gen_keys if k in d and k != "samples"}
        sampler = SamplerSettings(**{k: v for k, v in d.items() if k not in gen_keys})
        generate_dataset(str(micro), path, int(d["samples"]), sampler=sampler,
                         executor="dask" if scheduler else "local", scheduler=scheduler,
                         show_progress=False, log=lambda msg: None, **kw)
        if not path.is_file():
            raise AssessError(f"dataset generation did not write {path}")
    return path


def training_npz(data: Path) -> Path:
    """The dataset as the plain ``.npz`` (C1, C2, Cbar, boolean ``val`` mask) that ``dmn train``
    reads, with the split of the HDF5 file (written once, atomically): training and this
    module's validation then use the same split whatever reader ``dmn train`` uses for HDF5."""
    from ..rve.dataset import load_dataset

    out = data.with_suffix(".train.npz")
    if not out.is_file():
        ds = load_dataset(data)
        val = np.zeros(len(ds.C1), dtype=bool)
        val[np.asarray(ds.val_idx, dtype=np.int64)] = True
        tmp = out.with_name(f".{out.name}.tmp.npz")
        np.savez(tmp, C1=ds.C1, C2=ds.C2, Cbar=ds.Cbar, val=val)
        tmp.replace(out)
    return out


def dns_task(micro_path: str, specs: list[str], name: str, strain: float, steps: int, dns_opts: dict,
             out_path: str) -> str:
    """Compute one DNS reference and store it atomically as ``.npz`` (strain, stress, path)."""
    from ..rve import fft

    micro = np.load(micro_path)
    path, free = online_path(name, strain, steps)
    t0 = time.perf_counter()
    res = fft.dns(micro, _load_phases(specs), path, stress_free=free, **dns_opts)
    seconds = time.perf_counter() - t0
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez(tmp, strain=np.asarray(res.strain), stress=np.asarray(res.stress), path=path,
             free=np.array(free, dtype=np.int64), seconds=seconds)
    tmp.replace(out)
    return str(out)


def prepare_dns(cfg: dict, micro: Path, cache: Path, client=None) -> dict[str, str]:
    """DNS reference per online path (cached; computed in parallel on ``client`` if given)."""
    on = cfg["online"]
    todo, refs = [], {}
    mkey = digest(micro.read_bytes().hex())
    for name in on["paths"]:
        key = digest({"micro": mkey, "phases": cfg["phases"]["specs"], "dns": cfg["dns"], "name": name,
                      "strain": on["strain"], "steps": on["steps"]})
        p = cache / f"dns-{name}-{key}.npz"
        refs[name] = str(p)
        if not p.is_file():
            todo.append((name, p))
    args = [(str(micro), list(cfg["phases"]["specs"]), name, float(on["strain"]), int(on["steps"]),
             dict(cfg["dns"]), str(p)) for name, p in todo]
    if client is None:
        for a in args:
            dns_task(*a)
    else:
        futs = [client.submit(dns_task, *a, pure=False, key=f"assess-dns-{Path(a[-1]).stem}") for a in args]
        for f in futs:
            f.result()
    return refs


def prepare(cfg: dict, out: Path, client=None, scheduler: str | None = None) -> dict:
    """Everything runs share: returns the picklable ``context`` for :func:`execute_run`."""
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    micro = prepare_micro(cfg, cache)
    data = prepare_dataset(cfg, micro, cache, scheduler)
    train_data = training_npz(data)
    refs = prepare_dns(cfg, micro, cache, client)
    (out / "models").mkdir(exist_ok=True)
    return {
        "micro": str(micro),
        "data": str(data),
        "train_data": str(train_data),
        "dns": refs,
        "phases": list(cfg["phases"]["specs"]),
        "training": dict(cfg["training"]),
        "online": dict(cfg["online"]),
        "models": str(out / "models"),
    }


# --------------------------------------------------------------------------- one run
def _split(ds, name: str):
    """(C1, C2, Cbar) of the ``train``/``val`` split of a loaded dataset."""
    part = getattr(ds, name)
    if callable(part):
        part = part()
    if hasattr(part, "Cbar"):
        return np.asarray(part.C1), np.asarray(part.C2), np.asarray(part.Cbar)
    idx = np.asarray(part)  # index array
    return np.asarray(ds.C1)[idx], np.asarray(ds.C2)[idx], np.asarray(ds.Cbar)[idx]


def linear_errors(net, C1: np.ndarray, C2: np.ndarray, Cbar: np.ndarray) -> np.ndarray:
    """Relative Frobenius error of the network's linear homogenization per sample."""
    from ..tensors import relative_error

    pred = np.array([net.homogenize([a, b]) for a, b in zip(C1, C2)])
    return relative_error(pred, Cbar)


#: bisections of one online path step before the path counts as failed (``online_failed``)
ONLINE_MAX_CUTS = 6


def path_error(stress: np.ndarray, ref: np.ndarray) -> float:
    return float(np.sqrt(np.sum((stress - ref) ** 2) / np.sum(ref**2)))


def online_cost(material, strain: np.ndarray, state: np.ndarray, npts: int,
                repeats: int) -> tuple[float, float]:
    """(wall, CPU) µs per point per increment: batched update of ``npts`` copies of one
    increment (start state ``state`` (nstate,), end strain ``strain`` (6,)), best of
    ``repeats``.  CPU time is this thread's (numba runs single-threaded in the workers)."""
    state = np.tile(state, (npts, 1))
    eps = np.tile(strain, (npts, 1))
    material.update(eps[:1], state[:1])  # compile / warm up
    best, best_cpu = np.inf, np.inf
    for _ in range(max(1, repeats)):
        t0, c0 = time.perf_counter(), time.thread_time()
        material.update(eps, state)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.thread_time() - c0)
    return best / npts * 1e6, best_cpu / npts * 1e6


def train_job(spec: dict, context: dict, model: Path):
    """The :class:`~dmn_umat.offline.api.TrainJob` of one run: the run's setting (``spec``)
    overlaid by the sweep's shared ``[training]`` table (which wins, as on a command line)."""
    from ..offline.api import TrainJob
    from ..offline.train import TrainConfig

    unknown = unknown_training_keys(context["training"])  # also refused by config.validate
    if unknown:
        raise ValueError(f"[training] keys {unknown} are not training settings")
    tr = dict(context["training"])
    plot = not tr.pop("no_plot", False)
    job = {k: tr.pop(k) for k in TRAINING_JOB_KEYS if k in tr}
    setting = {"formulation": spec["formulation"], "depth": int(spec["depth"]), "init": spec["init"],
               "angles": spec["angles"], "batch_size": int(spec["batch_size"]),
               "n_train": int(spec["n_train"]), "lam": float(spec["lam"]), "seed": int(spec["seed"])}
    cfg = TrainConfig(**{**setting, **tr})
    return TrainJob(data=context.get("train_data", context["data"]), out=model, config=cfg, plot=plot, **job)


def execute_run(spec: dict, context: dict) -> dict:
    """Train, prune, validate and test one network; returns the run's result record."""
    import numba
    import torch

    from .. import model_file
    from ..offline.api import train_model
    from ..offline.export import prune
    from ..online.driver import DriveJob, drive_model
    from ..online.solver import NetworkMaterial
    from ..rve.dataset import load_dataset

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    rid = spec["run_id"]
    model = Path(context["models"]) / f"{rid}.dmn"
    job = train_job(spec, context, model)
    t0, c0 = time.perf_counter(), time.thread_time()
    summary = train_model(job)
    call_seconds = time.perf_counter() - t0
    # CPU time of this thread (torch runs single-threaded here): robust to a loaded machine
    train_cpu_seconds = time.thread_time() - c0
    net = model_file.read(model)
    n_leaves = 2 ** int(spec["depth"])  # leaves of the trained (complete) tree; the file is pruned
    pruned = prune(net)
    w = pruned.weights[pruned.leaves]
    active = int(np.count_nonzero(w > 0.0))

    ds = load_dataset(context["data"])
    C1v, C2v, Cv = _split(ds, "val")
    val_err = linear_errors(pruned, C1v, C2v, Cv)
    res = {
        "run_id": rid,
        "spec": spec,
        "train_seconds": summary.wall_time_s,  # the training loop's own wall time
        "train_call_seconds": call_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "train_val_err_reported": summary.val_error,
        "epochs": summary.epochs,
        "seconds_per_epoch": summary.wall_time_s / max(summary.epochs, 1),
        "train_log": summary.to_dict(),
        "val_err_mean": float(val_err.mean()),
        "val_err_max": float(val_err.max()),
        "leaves": n_leaves,
        "active_leaves": active,
        "volume_fraction_net": pruned.volume_fractions().tolist(),
        "train_err": summary.train_error,
    }

    phases = _load_phases(context["phases"])
    mat = NetworkMaterial(pruned, phases)
    on = context["online"]
    errs, cost_inc, online_s, n_inc = {}, None, 0.0, 0
    for name, ref_path in context["dns"].items():
        ref = np.load(ref_path)
        path, free = online_path(name, float(on["strain"]), int(on["steps"]))
        t0 = time.perf_counter()
        try:
            r = drive_model(DriveJob(model=pruned, phases=phases, path=path, stress_free=free,
                                     max_cuts=ONLINE_MAX_CUTS))
        except RuntimeError as exc:  # DriveError: a network the online Newton cannot drive is a result too
            res[f"online_err_{name}"] = None
            res.setdefault("online_failed", {})[name] = str(exc)
            continue
        online_s += time.perf_counter() - t0
        n_inc += int(r.substeps.sum())
        eps, sig, states = r.strain, r.stress, r.states
        errs[name] = path_error(sig, ref["stress"])
        res[f"online_strain_{name}"] = eps.tolist()
        res[f"online_stress_{name}"] = sig.tolist()
        if (name == "tension" or cost_inc is None) and len(eps) >= 2:
            m = len(eps) - 1  # the last increment of the path (plastic for a J2 matrix)
            cost_inc = (eps[m], states[m - 1])
    for name, e in errs.items():
        res[f"online_err_{name}"] = e
    # mean over the paths only when every path was driven (else not comparable)
    res["online_err_mean"] = None if res.get("online_failed") else float(np.mean(list(errs.values())))
    if cost_inc is not None:
        npts, reps = int(on.get("cost_points", 256)), int(on.get("cost_repeats", 3))
        res["online_us_per_point"], res["online_cpu_us_per_point"] = online_cost(
            mat, cost_inc[0], cost_inc[1], npts, reps)
    res["online_driver_us_per_increment"] = online_s / max(n_inc, 1) * 1e6
    return res
