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

Prescribed stress (mixed control with non-zero targets, e.g. creep at constant stress): a header
column ``s11``, ``s22``, ... ``s12`` (tensor components, like the strains) makes that component
stress controlled with the column's value as its mean-stress target at the end of each step (the
path starts at zero stress); its strain is solved for, and its ``e`` column may be absent (it is
ignored when present).  ``--stress-free`` components are stress controlled at zero; a component
may not be both.
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
    None (isothermal at 0), ``stress`` (n, 6) Mandel mean-stress targets of the components in
    ``stress_control`` (Mandel indices; other entries 0) or None (no ``s`` column)."""

    strain: np.ndarray
    time: np.ndarray | None = None
    temp: np.ndarray | None = None
    stress: np.ndarray | None = None
    stress_control: tuple[int, ...] = ()

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
                if "time" in names or "temp" in names or any(nm in _STRESS_COLS for nm in names):
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
    sc = tuple(i for i, c in enumerate(tensors.COMPONENTS) if "s" + c in cols)
    comps = np.zeros((table.shape[0], 6))
    stress = np.zeros((table.shape[0], 6)) if sc else None
    for i, c in enumerate(tensors.COMPONENTS):
        if "e" + c in cols and i not in sc:  # a stress-controlled component's strain is ignored
            comps[:, i] = table[:, cols.index("e" + c)]
        if i in sc:
            stress[:, i] = table[:, cols.index("s" + c)]
    time = table[:, cols.index("time")] if "time" in cols else None
    temp = table[:, cols.index("temp")] if "temp" in cols else None
    try:
        check_times(time, temp, table.shape[0])
    except PathError as exc:
        raise PathError(f"path file {str(path)!r}: {exc}") from None
    return LoadPath(tensors.tensor_components_to_mandel(comps), time, temp,
                    None if stress is None else tensors.tensor_components_to_mandel(stress), sc)


_STRESS_COLS = {"s" + c for c in tensors.COMPONENTS}


def _columns(names: list[str], path) -> list[str]:
    """Checked column names of a header with time / temp / stress columns."""
    comps = ["e" + c for c in tensors.COMPONENTS]
    allowed = {*comps, *_STRESS_COLS, "time", "temp"}
    bad = [n for n in names if n not in allowed]
    named = all(("e" + c in names) or ("s" + c in names) for c in tensors.COMPONENTS)
    if bad or len(set(names)) != len(names) or not named:
        raise PathError(f"path file {str(path)!r}: a named header must name each component once, as a "
                        f"strain e11..e12 or a stress s11..s12, plus optionally "
                        f"time and temp, got {','.join(names)}")
    return names


def control(lp: LoadPath, stress_free: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray | None]:
    """Stress-controlled components of ``lp`` with ``stress_free`` (Mandel indices held at zero
    stress) → (all stress-controlled Mandel indices, sorted; (n, 6) Mandel stress targets or None
    when every target is zero).  Raises :class:`PathError` when a component is both."""
    both = set(stress_free) & set(lp.stress_control)
    if both:
        names = ",".join(tensors.COMPONENTS[i] for i in sorted(both))
        raise PathError(f"component {names} is both --stress-free and a stress column (s{names}) of the path")
    return tuple(sorted({*stress_free, *lp.stress_control})), lp.stress


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
    stress_target: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Solve for the stress-controlled strain components of one step by Newton.

    ``update(eps) -> (stress, tangent, status)`` evaluates the material at total strain
    ``eps`` from the start-of-step state (no commit).  Components in ``free`` have the stress
    ``stress_target`` (6,) Mandel (None: zero); the others take the strain ``target``.
    ``guess`` seeds the free strains.  Returns
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
        r = stress[fr] if stress_target is None else stress[fr] - stress_target[fr]
        if np.abs(r).max() <= tol * max(1.0, np.linalg.norm(stress)):
            return eps, stress, tangent, it
        eps[fr] -= np.linalg.solve(tangent[np.ix_(fr, fr)], r)
    raise RuntimeError("mixed-control Newton did not converge")
