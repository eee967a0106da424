"""FE² (network surrogate at every integration point) vs concurrent FE×FFT (an FFT RVE solve at
every integration point) on the same small mesh and load path: load–displacement difference and
speed-up.

The test problem is a plane-strain strip ``length × height`` of quads clamped on x = 0 and pulled
on x = length with ``ux = δ`` and ``uy = 0.25 δ`` (a non-uniform, multiaxial strain field), or
a user mesh/BCs through :func:`compare`.
"""

from __future__ import annotations

import time

import numpy as np

from . import mesh as M
from .fft_material import FFTMaterial
from .solver import Dirichlet, Problem, Solver


def strip_problem(material, nx: int = 3, ny: int = 1, length: float = 3.0, height: float = 1.0,
                  delta: float = 0.03) -> tuple[Problem, np.ndarray]:
    """The strip of the module doc; returns (problem, loaded node set)."""
    m = M.rectangle(length, height, nx, ny, "quad")
    right = m.node_sets["xmax"]
    bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["xmin"], 1),
           Dirichlet(right, 0, delta), Dirichlet(right, 1, 0.25 * delta)]
    return Problem(m, material, bcs), right


def run_curve(material, lams, **strip) -> dict:
    """Run the strip with ``material``; force–displacement (x) of the loaded end and wall time."""
    prob, right = strip_problem(material, **strip)
    s = Solver(prob)
    f, t0 = [], time.perf_counter()
    for lam in lams:
        inc = s.advance(float(lam))
        f.append(inc.reaction[right * 2].sum())
    return {"force": np.array(f), "wall_s": time.perf_counter() - t0, "points": s.A.npts,
            "updates": s.n_updates, "timing_s": dict(s.timing)}


def compare(micro: np.ndarray, phases, network, lams, **strip) -> dict:
    """FE² with ``NetworkMaterial(network, phases)`` vs FE×FFT with ``FFTMaterial(micro, phases)``.

    Returns both curves, the max load difference relative to the max |load| of FE×FFT, and the
    wall-time speed-up (FE×FFT / FE²; the first FE² call includes no JIT if warmed up before).
    """
    from ..online.solver import NetworkMaterial

    lams = np.asarray(lams, float)
    fft = run_curve(FFTMaterial(micro, phases), lams, **strip)
    net_mat = NetworkMaterial(network, phases)
    run_curve(net_mat, lams[:1], **strip)  # JIT warm-up
    fe2 = run_curve(NetworkMaterial(network, phases), lams, **strip)
    diff = np.abs(fe2["force"] - fft["force"]).max() / np.abs(fft["force"]).max()
    return {"lam": lams.tolist(), "fe2": fe2, "fft": fft, "max_rel_diff": float(diff),
            "speedup": fft["wall_s"] / fe2["wall_s"]}
