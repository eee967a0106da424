"""The offline stage's library entry point: train (+ prune, export) one network into a model file.

    summary = train_model(TrainJob(data="data.h5", out="rve.dmn", config=TrainConfig(...)))

``dmn train`` and the assessment call this; it never parses argv or prints to stdout.  Errors
are the stage's own exception types (:class:`~dmn_umat.offline.data.DataError`,
:class:`~dmn_umat.offline.config.TrainError`, ``ValueError`` for a bad job).  Importing this
module does not import torch (:func:`train_model` does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import TrainConfig


@dataclass
class TrainJob:
    """One training run: data file in, model file (and its ``.log.json``/``.png``) out.

    ``data``: a ``dmn data generate`` file (``.h5``/``.npz``) or an ``.npz`` with ``C1``, ``C2``,
    ``Cbar``; ``val_fraction`` and ``config.seed`` split a file without its own split.
    ``prune_tol``: leaves with w ≤ tol·Σw are pruned at export (0: exact zeros only).
    ``checkpoint``/``resume``: a checkpoint folder, and whether to continue from it.
    """

    data: str | Path
    out: str | Path
    config: TrainConfig = field(default_factory=TrainConfig)
    val_fraction: float = 0.2
    prune_tol: float = 0.0
    checkpoint: str | Path | None = None
    resume: bool = False
    plot: bool = True

    def check(self) -> None:
        if Path(self.out).suffix != ".dmn":
            raise ValueError(f"the model file must end in .dmn, got {str(self.out)!r}")
        if self.resume and not self.checkpoint:
            raise ValueError("resume needs a checkpoint folder")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError("the validation fraction must be in (0, 1)")
        if not self.prune_tol >= 0:
            raise ValueError("the prune tolerance must be >= 0")
        self.config.check()


@dataclass
class TrainSummary:
    """What a finished training wrote and measured (errors: relative Frobenius, Mandel)."""

    model: str
    formulation: str
    depth: int
    active_leaves: int
    n_train: int
    n_val: int
    epochs: int
    best_epoch: int
    train_error: float
    val_error: float
    val_error_max: float
    wall_time_s: float
    volume_fractions: list[float]
    log: str
    plot: str | None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def train_model(job: TrainJob, log: Callable[[str], None] | None = None) -> TrainSummary:
    """Train, export (pruned by ``job.prune_tol``) and write ``job.out`` atomically, with the
    training log ``<out>.log.json`` and, if ``job.plot``, the curve ``<out>.png``.

    ``log``: receives progress/recovery lines (default: silent).
    """
    import torch

    from .. import model_file
    from .data import load
    from .train import export_network, plot_curve, train, write_log

    job.check()
    cfg = job.config
    out = Path(job.out)
    torch.set_default_dtype(torch.float64)
    data = load(job.data, job.val_fraction, cfg.seed)
    result = train(data, cfg, job.checkpoint, job.resume, log=log)
    net = export_network(result, data, job.prune_tol)
    out.parent.mkdir(parents=True, exist_ok=True)
    model_file.write(out, net)
    log_path = write_log(result, out.with_suffix(".log.json"), {"model": str(out)})
    png = plot_curve(result, out.with_suffix(".png")) if job.plot else None
    t = net.metadata["training"]
    return TrainSummary(
        model=str(out), formulation=cfg.formulation, depth=cfg.depth,
        active_leaves=int(net.metadata["active_leaves"]), n_train=int(t["n_train"]),
        n_val=int(t["n_val"]), epochs=int(t["epochs_run"]), best_epoch=int(t["best_epoch"]),
        train_error=float(t["train_error"]), val_error=float(t["val_error"]),
        val_error_max=float(t["val_error_max"]), wall_time_s=float(t["wall_time_s"]),
        volume_fractions=[float(v) for v in net.metadata["volume_fractions"]],
        log=str(log_path), plot=None if png is None else str(png),
    )


def summary_of(path: str | Path, net) -> dict:
    """The ``dmn inspect --json`` summary of the model ``net`` (a :class:`dmn_umat.network.Network`)
    read from ``path``: formulation, depth, leaves, volume fractions, training errors, provenance."""
    meta = net.metadata
    t = meta.get("training", {})
    return {
        "path": str(path),
        "formulation": meta.get("formulation"),
        "depth": net.depth(),
        "nodes": net.n_nodes,
        "active_leaves": int((net.weights[net.leaves] > 0).sum()),
        "leaves": int(len(net.leaves)),
        "n_phases": int(meta.get("n_phases", net.n_phases)),
        "rotations": net.rotations is not None,
        "volume_fractions": [float(v) for v in net.volume_fractions()],
        "train_error": t.get("train_error"),
        "val_error": t.get("val_error"),
        "val_error_max": t.get("val_error_max"),
        "training": t,
        "microstructure": meta.get("microstructure", {}),
        "pruned": meta.get("pruned"),
        "created": meta.get("created", {}),
    }
