"""Training settings without torch: :class:`TrainConfig` (the hyper-parameters of one run) and
:class:`TrainError`.  ``dmn train`` takes its option defaults from here, so the command line and
the library share one set of defaults; :mod:`dmn_umat.offline.train` documents their meaning."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


class TrainError(ValueError):
    """Bad training configuration or checkpoint (one-line message)."""


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (all JSON-serializable)."""

    formulation: str = "imn"
    depth: int = 6
    epochs: int = 200
    batch_size: int = 32
    n_train: int | None = None
    lr: float = 0.2
    optimizer: str = "adam"  # adam | amsgrad
    schedule: str = "cosine"  # cosine | decay-on-increase | none
    loss: str = "rel"  # rel | rel2 | energy (offline/train.py docstring)
    lam: float = 0.0
    reg: str = "sum"  # sum | l1 (offline/train.py docstring)
    activation: str | None = None  # relu | softplus (None: softplus, models.build)
    init: str = "uniform"  # uniform | normal
    angles: str = "random"  # random | structured
    seed: int = 0
    recover: bool = True  # dead-phase guard (offline/train.py docstring)

    def check(self) -> None:
        choices = {
            "formulation": ("dmn", "imn"),
            "optimizer": ("adam", "amsgrad"),
            "schedule": ("cosine", "decay-on-increase", "none"),
            "loss": ("rel", "rel2", "energy"),
            "reg": ("sum", "l1"),
            "activation": (None, "relu", "softplus"),
            "init": ("uniform", "normal"),
            "angles": ("random", "structured"),
        }
        for k, allowed in choices.items():
            if getattr(self, k) not in allowed:
                raise TrainError(f"{k} must be one of {[a for a in allowed if a]}, got {getattr(self, k)!r}")
        if not 1 <= self.depth <= 12:
            raise TrainError(f"depth must be in 1..12, got {self.depth}")
        if self.epochs < 1 or self.batch_size < 1:
            raise TrainError("epochs and batch size must be ≥ 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise TrainError(f"learning rate must be > 0, got {self.lr}")
        if not (self.lam >= 0 and math.isfinite(self.lam)):
            raise TrainError(f"lambda must be ≥ 0, got {self.lam}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
