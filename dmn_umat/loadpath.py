"""Macroscopic loading paths (docs/design.md §8) and mixed strain/stress control.

A path is an (n, 6) array of total strain targets, one row per step.  On disk (``--path
FILE.csv``) rows hold **tensor components** e11,e22,e33,e23,e13,e12 (not engineering
shear), optionally after a header line; in memory paths are **Mandel** (see
:mod:`dmn_umat.tensors`).  ``--stress-free 22,33,23,13,12`` names the components whose
stress is held at zero and whose strain is solved for (mixed control); their targets in the
file are ignored.

Time and temperature (rate- and temperature-dependent phase laws): a header line that names the
columns — ``e11,e22,e33,e23,e13,e12`` in any order plus ``time`` and optionally ``temp`` —
adds the total time (non-decreasing, ≥ 0; the path starts at time 0 and zero strain) and the
temperature at the end of each step (the path starts at the first row's temperature).  Step k
then has ``dt = time_k − time_{k−1}`` and ``dtemp = temp_k − temp_{k−1}``.  A file without a
``time`` column is a rate-independent path (dt = 0): exactly the behaviour before time columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import tensors
from .fileio import read_text_file


class PathError(ValueError):
    """A path file or stress-free list that cannot be used (message is user-facing)."""


ALL_BUT_11 = (1, 2, 3, 4, 5)  #: uniaxial stress along x1


@dataclass(frozen=True)
class LoadPath:
    """A loading path: ``strain`` (n, 6) Mandel targets, ``time`` (n,) total time at the end of
    each step or None (rate independent), ``temp`` (n,) temperature at the end of each step or
    None (isothermal at 0)."""

    strain: np.ndarray
    time: np.ndarray | None = None
    temp: np.ndarray | None = None

    def increments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per step: (dt, temperature at the start, dtemp), (n,) each (zeros where absent)."""
        n = self.strain.shape[0]
        t = np.zeros(n) if self.time is None else self.time
        T = np.zeros(n) if self.temp is None else self.temp
        dt = np.diff(t, prepend=0.0)
        T0 = np.concatenate([T[:1], T[:-1]])
        return dt, T0, T - T0


def check_times(time: np.ndarray | None, temp: np.ndarray | None, n: int) -> None:
    """Raise :class:`PathError` unless ``time`` / ``temp`` (each optional) are finite (n,)
    arrays and time is ≥ 0 and non-decreasing."""
    for name, v in (("time", time), ("temp", temp)):
        if v is not None and (np.shape(v) != (n,) or not np.all(np.isfinite(v))):
            raise PathError(f"path {name}: expected {n} finite values, one per step")
    if time is not None and (time[0] < 0.0 or np.any(np.diff(time) < 0.0)):
        raise PathError("path time must start at >= 0 and never decrease")


def read_load_path(path: str | Path) -> LoadPath:
    """Read a path CSV (tensor components, optional ``time`` / ``temp`` columns named in the
    header; module doc) → :class:`LoadPath`.

    Raises :class:`PathError` (one line) for a missing file, a directory, a device or FIFO,
    a file that is not UTF-8 text, and malformed rows."""
    text = read_text_file(path, "path file", PathError)  # regular UTF-8 file, else one-line PathError
    rows = []
    cols: list[str] | None = None  # column names when the header names time / temp
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            if not rows and cols is None and lineno == 1:
                names = [p.lower() for p in parts]
                if "time" in names or "temp" in names:
                    cols = _columns(names, path)
                continue  # header
            raise PathError(f"path file {str(path)!r} line {lineno}: not numbers: {line!r}") from None
        want = 6 if cols is None else len(cols)
        if len(vals) != want:
            raise PathError(f"path file {str(path)!r} line {lineno}: expected {want} values, got {len(vals)}")
        if not np.all(np.isfinite(vals)):
            raise PathError(f"path file {str(path)!r} line {lineno}: non-finite value")
        rows.append(vals)
    if not rows:
        raise PathError(f"path file {str(path)!r} holds no steps")
    table = np.array(rows)
    if cols is None:
        return LoadPath(tensors.tensor_components_to_mandel(table))
    comps = table[:, [cols.index("e" + c) for c in tensors.COMPONENTS]]
    time = table[:, cols.index("time")] if "time" in cols else None
    temp = table[:, cols.index("temp")] if "temp" in cols else None
    try:
        check_times(time, temp, table.shape[0])
    except PathError as exc:
        raise PathError(f"path file {str(path)!r}: {exc}") from None
    return LoadPath(tensors.tensor_components_to_mandel(comps), time, temp)


def _columns(names: list[str], path) -> list[str]:
    """Checked column names of a header with time / temp columns."""
    comps = ["e" + c for c in tensors.COMPONENTS]
    allowed = {*comps, "time", "temp"}
    bad = [n for n in names if n not in allowed]
    if bad or len(set(names)) != len(names) or not set(comps) <= set(names):
        raise PathError(f"path file {str(path)!r}: a header with time/temp columns must name "
                        f"{','.join(comps)} once each plus time and optionally temp, got {','.join(names)}")
    return names


def read_path(path: str | Path) -> np.ndarray:
    """Read a path CSV (tensor components) → (n, 6) Mandel strains (time / temperature
    columns, if any, are dropped: :func:`read_load_path` keeps them)."""
    return read_load_path(path).strain


def write_path(
    path: str | Path, strains_mandel: np.ndarray,
    time: np.ndarray | None = None, temp: np.ndarray | None = None,
) -> None:
    """Write an (n, 6) Mandel path as a CSV of tensor components (with header), with ``time``
    and ``temp`` columns (n,) when given."""
    comps = tensors.mandel_to_tensor_components(np.atleast_2d(strains_mandel))
    names = ["e" + c for c in tensors.COMPONENTS]
    cols = [comps]
    for name, v in (("time", time), ("temp", temp)):
        if v is not None:
            names.append(name)
            cols.append(np.asarray(v, dtype=np.float64).reshape(-1, 1))
    np.savetxt(path, np.hstack(cols), delimiter=",", header=",".join(names), comments="")


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
