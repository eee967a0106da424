"""Macroscopic loading paths (docs/design.md §8) and mixed strain/stress control.

A path is an (n, 6) array of total strain targets, one row per step.  On disk (``--path
FILE.csv``) rows hold **tensor components** e11,e22,e33,e23,e13,e12 (not engineering
shear), optionally after a header line; in memory paths are **Mandel** (see
:mod:`dmn_umat.tensors`).  ``--stress-free 22,33,23,13,12`` names the components whose
stress is held at zero and whose strain is solved for (mixed control); their targets in the
file are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import tensors
from .fileio import read_text_file


class PathError(ValueError):
    """A path file or stress-free list that cannot be used (message is user-facing)."""


ALL_BUT_11 = (1, 2, 3, 4, 5)  #: uniaxial stress along x1


def read_path(path: str | Path) -> np.ndarray:
    """Read a path CSV (tensor components) → (n, 6) Mandel strains.

    Raises :class:`PathError` (one line) for a missing file, a directory, a device or FIFO,
    a file that is not UTF-8 text, and malformed rows."""
    text = read_text_file(path, "path file", PathError)  # regular UTF-8 file, else one-line PathError
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            if not rows and lineno == 1:
                continue  # header
            raise PathError(f"path file {str(path)!r} line {lineno}: not numbers: {line!r}") from None
        if len(vals) != 6:
            raise PathError(f"path file {str(path)!r} line {lineno}: expected 6 values, got {len(vals)}")
        if not np.all(np.isfinite(vals)):
            raise PathError(f"path file {str(path)!r} line {lineno}: non-finite value")
        rows.append(vals)
    if not rows:
        raise PathError(f"path file {str(path)!r} holds no steps")
    return tensors.tensor_components_to_mandel(np.array(rows))


def write_path(path: str | Path, strains_mandel: np.ndarray) -> None:
    """Write an (n, 6) Mandel path as a CSV of tensor components (with header)."""
    comps = tensors.mandel_to_tensor_components(np.atleast_2d(strains_mandel))
    header = ",".join("e" + c for c in tensors.COMPONENTS)
    np.savetxt(path, comps, delimiter=",", header=header, comments="")


def parse_stress_free(text: str | None) -> tuple[int, ...]:
    """'22,33,23' → Mandel indices (1, 2, 3); None/'' → ()."""
    if not text:
        return ()
    out = []
    for tok in text.split(","):
        tok = tok.strip()
        if tok not in tensors.COMPONENTS:
            raise PathError(f"--stress-free: unknown component {tok!r} (use {', '.join(tensors.COMPONENTS)})")
        out.append(tensors.COMPONENTS.index(tok))
    if len(set(out)) != len(out):
        raise PathError("--stress-free: a component is listed twice")
    if len(out) == 6:
        raise PathError("--stress-free: at least one component must be strain controlled")
    return tuple(sorted(out))


def uniaxial(e_max: float, n: int, component: int = 0) -> np.ndarray:
    """(n, 6) Mandel path ramping one component linearly to ``e_max`` (others 0)."""
    p = np.zeros((n, 6))
    p[:, component] = np.linspace(e_max / n, e_max, n)
    return p


def cyclic(amplitudes: list[float], n_per_segment: int, component: int = 0) -> np.ndarray:
    """Piecewise-linear path 0 → a1 → a2 → ... in one component (load/unload/reverse)."""
    pts = [0.0, *amplitudes]
    vals = np.concatenate([np.linspace(a, b, n_per_segment + 1)[1:] for a, b in zip(pts[:-1], pts[1:])])
    p = np.zeros((vals.size, 6))
    p[:, component] = vals
    return p


UpdateFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, int]]


def solve_mixed(
    update: UpdateFn,
    target: np.ndarray,
    free: tuple[int, ...],
    guess: np.ndarray,
    tol: float = 1e-10,
    max_iter: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Solve for the stress-free strain components of one step by Newton.

    ``update(eps) -> (stress, tangent, status)`` evaluates the material at total strain
    ``eps`` from the start-of-step state (no commit).  Components in ``free`` have zero
    stress; the others take ``target``.  ``guess`` seeds the free strains.  Returns
    ``(eps, stress, tangent, iterations)``; raises RuntimeError if Newton fails.
    Convergence: max |σ_free| ≤ tol · max(1, ‖σ‖).
    """
    eps = np.array(target, dtype=np.float64)
    fr = np.array(free, dtype=np.int64)
    if fr.size:
        eps[fr] = guess[fr]
    for it in range(max_iter + 1):
        stress, tangent, status = update(eps)
        if status != 0:
            raise RuntimeError(f"material update failed (status {status}) in mixed control")
        if fr.size == 0:
            return eps, stress, tangent, it
        r = stress[fr]
        if np.abs(r).max() <= tol * max(1.0, np.linalg.norm(stress)):
            return eps, stress, tangent, it
        eps[fr] -= np.linalg.solve(tangent[np.ix_(fr, fr)], r)
    raise RuntimeError("mixed-control Newton did not converge")
