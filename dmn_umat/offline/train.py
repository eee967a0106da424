"""Offline training of DMN / IMN on (C1, C2) → C̄ data (torch, float64).

Loss over a mini-batch of B samples with per-sample relative Frobenius error
``e_b = ‖C̄_pred − C̄_ref‖_F / ‖C̄_ref‖_F`` (Mandel):

- ``rel``:  mean_b e_b        - ``rel2``: mean_b e_b²
- ``energy``: mean_b of ``‖L⁻¹ (C̄_pred − C̄_ref) L⁻ᵀ‖_F / √6`` with ``C̄_ref = L Lᵀ``: the relative
  error in the reference's energy norm, every eigenmode of C̄_ref weighted alike (the shear modes
  of a nearly incompressible C̄, ~1/(K/G) of its Frobenius norm, are not hidden by the bulk
  modulus; a uniform factor (1 + ε) gives ε as ``rel`` does).  Logged/validation errors stay
  Frobenius.

plus λ times an activation regularization chosen by ``reg``:

- ``sum`` (default): ``(Σ_i w_i / W0 − 1)²`` with W0 the sum of the initial leaf weights
  (Liu & Wu's ``λ (Σ w − W0)²`` divided by W0², so λ does not depend on the depth).  C̄ only
  depends on weight ratios; the term fixes the scale, it does not favour fewer leaves.
- ``l1``: ``(‖w‖₁ / ‖w‖₂ − 1) / (√K − 1)`` over the K = 2^depth leaf weights — the L1 norm of
  the activations normalized to unit L2 norm (Hoyer's sparsity measure), scaled to [0, 1]
  (0: one active leaf, 1: all leaves equal) so that λ does not depend on the depth.  Scale-
  invariant like C̄ itself (a plain λ Σ w_i would only shrink all weights together), its
  gradient pushes the small activations to zero: with ReLU they die and are pruned, so λ
  controls the number of active leaves.

Every epoch: shuffled mini-batches (seeded torch generator), then the validation error on the
held-out set; the state with the lowest mean validation error is kept (with ``reg = "l1"`` and
λ > 0: the lowest validation error + λ·R, the regularized objective on the held-out set —
otherwise an early, not yet sparse state would undo the regularizer).  A checkpoint
(``DIR/checkpoint.pt``, atomic write) holds model, optimizer, schedule, generator state,
history and the best state, so ``resume`` continues bit-identically.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..fileio import atomic_save, atomic_write_json
from ..network import Network
from .config import TrainConfig, TrainError  # noqa: F401 - TrainError re-exported (offline/config.py)
from .data import TrainingData
from .export import to_network
from .models import DTYPE, MaterialNetwork, build

CHECKPOINT_NAME = "checkpoint.pt"
DEAD_PHASE_SHARE = 1e-9  # a phase whose leaves carry less than this share of Σw is dead
MAX_RECOVERIES = 10  # lr halvings before the guard gives up (lr / 1024)


@dataclass
class TrainResult:
    model: MaterialNetwork  # holds the best state
    config: TrainConfig
    history: list = field(default_factory=list)  # one dict per epoch
    best_epoch: int = -1
    best_val: float = math.inf
    wall_time: float = 0.0
    finished: bool = True
    events: list = field(default_factory=list)  # dead-phase recoveries: {"epoch", "event", "action"}


def relative_errors(C_pred: torch.Tensor, C_ref: torch.Tensor) -> torch.Tensor:
    """(B,6,6) → (B,) relative Frobenius errors."""
    return torch.linalg.matrix_norm(C_pred - C_ref) / torch.linalg.matrix_norm(C_ref)


def energy_errors(C_pred: torch.Tensor, C_ref: torch.Tensor) -> torch.Tensor:
    """(B,6,6) → (B,) relative errors in the energy norm of C_ref (``energy`` loss, module doc)."""
    L = torch.linalg.cholesky(C_ref)
    X = torch.linalg.solve_triangular(L, C_pred - C_ref, upper=False)
    X = torch.linalg.solve_triangular(L, X.transpose(-1, -2), upper=False)
    return torch.linalg.matrix_norm(X) / math.sqrt(6.0)


def regularization(model: MaterialNetwork, reg: str = "sum") -> torch.Tensor:
    """Activation regularization term (scalar, multiplied by λ): ``sum`` or ``l1`` (module docstring)."""
    w = model.weights()
    if reg == "sum":
        return (w.sum() / model.w0 - 1.0) ** 2
    if reg == "l1":
        k = w.numel()
        hoyer = w.sum() / torch.linalg.vector_norm(w).clamp_min(torch.finfo(w.dtype).tiny)
        return (hoyer - 1.0) / (math.sqrt(k) - 1.0)
    raise TrainError(f"reg must be 'sum' or 'l1', got {reg!r}")


def dead_phases(model: MaterialNetwork) -> list[int]:
    """Phases (0: C1 leaves, 1: C2 leaves) whose leaves carry < DEAD_PHASE_SHARE of the total weight.

    Such a phase no longer enters C̄ (and a dead ReLU phase gets no gradient: it never revives).
    """
    with torch.no_grad():
        w = model.weights()
        total = float(w.sum())
        if not total > 0:
            return [0, 1]
        return [p for p in (0, 1) if float(w[p::2].sum()) < DEAD_PHASE_SHARE * total]


def loss_value(
    model: MaterialNetwork, C1, C2, Cref, kind: str, lam: float, reg: str = "sum"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss scalar, per-sample errors) for one batch."""
    pred = model(C1, C2)
    err = relative_errors(pred, Cref)
    if kind == "energy":
        loss = energy_errors(pred, Cref).mean()
    else:
        loss = err.mean() if kind == "rel" else (err**2).mean()
    if lam > 0:
        loss = loss + lam * regularization(model, reg)
    return loss, err


def evaluate(
    model: MaterialNetwork, C1: np.ndarray, C2: np.ndarray, Cbar: np.ndarray, chunk: int = 4096
) -> np.ndarray:
    """Per-sample relative errors (n,) of ``model`` on numpy data."""
    out = []
    with torch.no_grad():
        for s in range(0, C1.shape[0], chunk):
            t = [torch.as_tensor(a[s : s + chunk], dtype=DTYPE) for a in (C1, C2, Cbar)]
            out.append(relative_errors(model(t[0], t[1]), t[2]).numpy())
    return np.concatenate(out)


def _fingerprint(data: TrainingData) -> str:
    h = hashlib.sha256()
    for a in (data.C1, data.C2, data.Cbar, data.C1_val):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _atomic_torch_save(obj, path: Path) -> None:
    atomic_save(path, lambda tmp: torch.save(obj, tmp))


def _make_optimizer(model: MaterialNetwork, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, amsgrad=cfg.optimizer == "amsgrad")


def train(
    data: TrainingData,
    cfg: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    show_progress: bool | None = None,
    stop_after: int | None = None,
    log=None,
    target: float | None = None,
    model: MaterialNetwork | None = None,
) -> TrainResult:
    """Train a network; returns the result with the best-validation state loaded.

    ``checkpoint_dir``: write ``checkpoint.pt`` there after every epoch; with ``resume`` and an
    existing checkpoint, continue from it (configuration and data must match, except a larger
    ``epochs``).  ``stop_after``: stop after that many epochs of *this call* (simulates an
    interruption; the result then has ``finished=False``).  ``log``: optional callable(str).
    ``target``: stop as soon as the mean validation error is ≤ target (early stop).
    ``model``: train this (untrained) network instead of building one from ``cfg`` (e.g. an
    :class:`~.orientation.OrthotropicIMN`; ``cfg`` still gives everything else).
    """
    cfg.check()
    data = data.subset(cfg.n_train)
    fp = _fingerprint(data)
    torch.manual_seed(cfg.seed)
    if model is None:
        model = build(cfg.formulation, cfg.depth, cfg.activation, cfg.init, cfg.angles, cfg.seed)
    opt = _make_optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed + 7919)
    history: list[dict] = []
    best_state = copy.deepcopy(model.state_dict())
    best_val, best_epoch = math.inf, -1
    best_score = math.inf  # selection criterion (= best_val unless reg == "l1" and lam > 0)
    lr_now, prev_loss = cfg.lr, math.inf
    lr_scale, events = 1.0, []  # dead-phase guard: lr factor, recovery log
    start_epoch, wall_before = 0, 0.0
    ck_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None

    if resume and ck_path is not None and ck_path.exists():
        try:
            ck = torch.load(ck_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - corrupted checkpoint = user error
            raise TrainError(f"cannot read checkpoint {str(ck_path)!r}: {exc}") from None
        missing = {"config", "fingerprint", "model", "optimizer", "generator", "history"} - set(ck)
        if missing:
            raise TrainError(f"checkpoint {str(ck_path)!r} lacks {', '.join(sorted(missing))}")
        old = dict(ck["config"])
        old.setdefault("reg", "sum")  # checkpoints written before ``reg`` existed
        old.setdefault("recover", True)  # ... and before the dead-phase guard
        new = cfg.to_dict()
        diff = [k for k in new if k != "epochs" and old.get(k) != new[k]]
        if diff:
            raise TrainError(f"checkpoint was written with different settings: {', '.join(diff)}")
        if ck["fingerprint"] != fp:
            raise TrainError("checkpoint was written for a different dataset")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        history = ck["history"]
        best_state, best_val, best_epoch = ck["best_state"], ck["best_val"], ck["best_epoch"]
        best_score = ck.get("best_score", best_val)
        lr_now, prev_loss = ck["lr"], ck["prev_loss"]
        start_epoch, wall_before = ck["epoch"], ck["wall_time"]
        lr_scale, events = ck.get("lr_scale", 1.0), list(ck.get("events", []))
        if log:
            log(f"resumed from {ck_path} at epoch {start_epoch}")
    elif resume and log:
        log(f"no checkpoint in {checkpoint_dir}; starting fresh")

    C1 = torch.as_tensor(data.C1, dtype=DTYPE)
    C2 = torch.as_tensor(data.C2, dtype=DTYPE)
    Cb = torch.as_tensor(data.Cbar, dtype=DTYPE)
    n = C1.shape[0]
    t0, c0 = time.perf_counter(), time.process_time()
    cpu_before = history[-1].get("cpu_time", 0.0) if history else 0.0
    from ..progress import progress

    disable = None if show_progress is None else not show_progress
    bar = progress(total=cfg.epochs, desc=f"train {cfg.formulation} K={cfg.depth}", disable=disable)
    bar.update(start_epoch)
    finished = True
    for epoch in range(start_epoch, cfg.epochs):
        if stop_after is not None and epoch - start_epoch >= stop_after:
            finished = False
            break
        if cfg.schedule == "cosine":
            lr_now = 0.5 * cfg.lr * (1.0 + math.cos(math.pi * epoch / cfg.epochs))
        for grp in opt.param_groups:
            grp["lr"] = lr_now * lr_scale
        if cfg.recover:
            snapshot = copy.deepcopy((model.state_dict(), opt.state_dict()))
        perm = torch.randperm(n, generator=gen)
        tot_loss, tot_err = 0.0, 0.0
        for s in range(0, n, cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            loss, err = loss_value(model, C1[idx], C2[idx], Cb[idx], cfg.loss, cfg.lam, cfg.reg)
            if not torch.isfinite(loss):
                raise TrainError(f"loss became non-finite at epoch {epoch}; lower the learning rate")
            loss.backward()
            opt.step()
            tot_loss += float(loss.detach()) * idx.numel()
            tot_err += float(err.detach().sum())
        train_loss = tot_loss / n
        dead = dead_phases(model) if cfg.recover else []
        if dead:
            if len(events) >= MAX_RECOVERIES:
                raise TrainError(
                    f"phase {dead[0]} died again at epoch {epoch + 1} after {len(events)} recoveries "
                    f"(lr x{lr_scale:g}); lower --lr or use --activation softplus"
                )
            model.load_state_dict(snapshot[0])
            opt.load_state_dict(snapshot[1])
            lr_scale *= 0.5
            ev = {
                "epoch": epoch + 1,
                "event": f"dead phase {dead[0]} (its leaves carry no weight: C̄ ignores it)",
                "action": f"rolled back to the start of the epoch, lr x{lr_scale:g} from now on",
            }
            events.append(ev)
            if log:
                log(f"epoch {ev['epoch']}: {ev['event']}; {ev['action']}")
        if cfg.schedule == "decay-on-increase":
            if train_loss > prev_loss:
                lr_now *= 0.5
            prev_loss = train_loss
        verr = evaluate(model, data.C1_val, data.C2_val, data.Cbar_val)
        rec = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_error": tot_err / n,
            "val_error": float(verr.mean()),
            "val_error_max": float(verr.max()),
            "lr": lr_now * lr_scale,
            "active_leaves": int((model.weights() > 0).sum()),
            "time": wall_before + time.perf_counter() - t0,
            "cpu_time": cpu_before + time.process_time() - c0,  # process CPU s (robust to shared load)
        }
        history.append(rec)
        score = rec["val_error"]
        if cfg.reg == "l1" and cfg.lam > 0:
            with torch.no_grad():
                rec["reg"] = float(regularization(model, cfg.reg))
            score += cfg.lam * rec["reg"]
        if score < best_score:
            best_score, best_val, best_epoch = score, rec["val_error"], epoch + 1
            best_state = copy.deepcopy(model.state_dict())
        bar.update(1)
        bar.set_postfix(val=f"{rec['val_error']:.4f}", best=f"{best_val:.4f}")
        if ck_path is not None:
            _atomic_torch_save(
                {
                    "config": cfg.to_dict(),
                    "fingerprint": fp,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "generator": gen.get_state(),
                    "history": history,
                    "best_state": best_state,
                    "best_val": best_val,
                    "best_score": best_score,
                    "best_epoch": best_epoch,
                    "lr": lr_now,
                    "prev_loss": prev_loss,
                    "lr_scale": lr_scale,
                    "events": events,
                    "epoch": epoch + 1,
                    "wall_time": rec["time"],
                },
                ck_path,
            )
        if target is not None and rec["val_error"] <= target:
            break
    bar.close()
    model.load_state_dict(best_state)
    wall = history[-1]["time"] if history else 0.0
    return TrainResult(model, cfg, history, best_epoch, best_val, wall, finished, events)


def export_network(result: TrainResult, data: TrainingData, prune_tol: float | None = 0.0) -> Network:
    """Rotation-free network of the best state, optionally pruned, with full metadata."""
    from .export import prune

    cfg = result.config
    data = data.subset(cfg.n_train)
    tr = evaluate(result.model, data.C1, data.C2, data.Cbar)
    va = evaluate(result.model, data.C1_val, data.C2_val, data.Cbar_val)
    meta = {
        "formulation": cfg.formulation,
        "depth": cfg.depth,
        "n_phases": 2,
        "microstructure": data.meta.get("microstructure", {}),
        "training": {
            **{k: v for k, v in cfg.to_dict().items()},
            "activation": result.model.activation,  # resolved (None = the formulation's default)
            "dataset": data.meta.get("dataset"),
            "n_train": data.n_train,
            "n_val": data.n_val,
            "epochs_run": len(result.history),
            "best_epoch": result.best_epoch,
            "train_error": float(tr.mean()),
            "train_error_max": float(tr.max()),
            "val_error": float(va.mean()),
            "val_error_max": float(va.max()),
            "wall_time_s": round(float(result.wall_time), 3),
        },
    }
    extra = {k: v for k, v in data.meta.items() if k not in ("microstructure", "dataset")}
    if extra:
        meta["dataset_info"] = json.loads(json.dumps(extra, default=str))
    net = to_network(result.model, meta)
    if prune_tol is not None:
        net = prune(net, prune_tol)
    net.metadata["active_leaves"] = int(len(net.leaves))
    net.metadata["volume_fractions"] = [float(v) for v in net.volume_fractions()]
    return net


def write_log(result: TrainResult, path: str | Path, extra: dict | None = None) -> Path:
    """JSON log: config, per-epoch history, best epoch/error (atomic write)."""
    path = Path(path)
    obj = {
        "config": result.config.to_dict(),
        "best_epoch": result.best_epoch,
        "best_val_error": result.best_val,
        "wall_time_s": result.wall_time,
        "events": result.events,
        "history": result.history,
        **(extra or {}),
    }
    atomic_write_json(path, obj)
    return path


def plot_curve(result: TrainResult, path: str | Path) -> Path:
    """Training curve PNG: train/validation error vs epoch (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    ep = [h["epoch"] for h in result.history]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.semilogy(ep, [h["train_error"] for h in result.history], label="train (running)")
    ax.semilogy(ep, [h["val_error"] for h in result.history], label="validation (mean)")
    ax.semilogy(ep, [h["val_error_max"] for h in result.history], ":", label="validation (max)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("relative Frobenius error of C̄")
    ax.set_title(f"{result.config.formulation.upper()} depth {result.config.depth}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=110), suffix=".png")
    finally:
        plt.close(fig)
    return path
