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

Deformation-gradient paths (finite strain; :class:`FPath`, :func:`read_path_file`): a header naming
the nine components ``F11,F12,F13,F21,F22,F23,F31,F32,F33`` (any order, case-insensitive) makes
each row the macroscopic deformation gradient at the end of the step (the path starts at F = 1),
with the optional ``time`` / ``temp`` columns as above.  A column ``P22`` (instead of, or
ignoring, ``F22``) prescribes that first Piola–Kirchhoff component (from zero); ``--stress-free``
lists components held at P = 0 (names 11, 12, 13, 21, 22, 23, 31, 32, 33).  P_ij and P_ji may not
both be stress controlled (the rigid rotation would be undetermined); a fully prescribed row needs
det F > 0.
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
    a file that is not UTF-8 text, malformed rows and a deformation-gradient path."""
    text = read_text_file(path, "path file", PathError)  # regular UTF-8 file, else one-line PathError
    if _f_header(text) is not None:
        raise PathError(f"path file {str(path)!r} is a deformation-gradient path (F11..F33 header): "
                        "this command needs strains e11..e12")
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


def control(lp: LoadPath | FPath, stress_free: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray | None]:
    """Stress-controlled components of ``lp`` with ``stress_free`` (indices held at zero
    stress: Mandel for a :class:`LoadPath`, ``3 i + j`` for an :class:`FPath`) → (all
    stress-controlled indices, sorted; the stress targets ((n, 6) Mandel, or (n, 3, 3) P) or None
    when every target is zero).  Raises :class:`PathError` when a component is both, or (F paths)
    when P_ij and P_ji both are (:func:`check_f_free`)."""
    f_path = isinstance(lp, FPath)
    comps, col = (F_COMPONENTS, "P") if f_path else (tensors.COMPONENTS, "s")
    both = set(stress_free) & set(lp.stress_control)
    if both:
        names = ",".join(comps[i] for i in sorted(both))
        raise PathError(f"component {names} is both --stress-free and a stress column ({col}{names}) "
                        "of the path")
    free = tuple(sorted({*stress_free, *lp.stress_control}))
    return (check_f_free(free) if f_path else free), lp.stress


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


# --------------------------------------------------------------------------- deformation-gradient paths
#: names of the nine components of F and P, row-major (index 3 i + j)
F_COMPONENTS = ("11", "12", "13", "21", "22", "23", "31", "32", "33")
_F_COLS = {"f" + c for c in F_COMPONENTS}
_P_COLS = {"p" + c for c in F_COMPONENTS}


@dataclass(frozen=True)
class FPath:
    """A deformation-gradient path (module doc): ``F`` (n, 3, 3) macroscopic F at the end of each
    step (entries of stress-controlled components: the identity's, ignored), ``time``, ``temp``
    as :class:`LoadPath`, ``stress`` (n, 3, 3) first Piola–Kirchhoff targets of the components in
    ``stress_control`` (indices ``3 i + j``; other entries 0) or None."""

    F: np.ndarray
    time: np.ndarray | None = None
    temp: np.ndarray | None = None
    stress: np.ndarray | None = None
    stress_control: tuple[int, ...] = ()

    def increments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per step: (dt, temperature at the start, dtemp) (:meth:`LoadPath.increments`)."""
        return LoadPath(np.zeros((self.F.shape[0], 6)), self.time, self.temp).increments()


def check_f_free(free) -> tuple[int, ...]:
    """Sorted stress-controlled F indices ``3 i + j``; :class:`PathError` for repeats, indices
    outside 0..8 or a pair ij, ji both stress controlled (the rigid rotation is undetermined)."""
    out = tuple(sorted(int(c) for c in free))
    if len(set(out)) != len(out) or any(not 0 <= c < 9 for c in out):
        raise PathError(f"stress-controlled F components must be distinct indices 0..8, got {tuple(free)}")
    for c in out:
        i, j = divmod(c, 3)
        if i < j and 3 * j + i in out:
            raise PathError(f"P{i + 1}{j + 1} and P{j + 1}{i + 1} cannot both be stress controlled "
                            "(the rigid rotation would be undetermined)")
    return out


def _f_header(text: str) -> list[str] | None:
    """The lower-case column names when the first non-comment line names F components, else None."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names = [p.strip().lower() for p in line.split(",")]
        return names if _F_COLS & set(names) else None
    return None


def read_path_file(path: str | Path) -> LoadPath | FPath:
    """Read a strain path (:func:`read_load_path`) or a deformation-gradient path (F11..F33
    header, module doc) → :class:`LoadPath` or :class:`FPath`; :class:`PathError` (one line)."""
    text = read_text_file(path, "path file", PathError)
    names = _f_header(text)
    if names is None:
        return read_load_path(path)
    allowed = _F_COLS | _P_COLS | {"time", "temp"}
    bad = [n for n in names if n not in allowed]
    named = all(("f" + c in names) or ("p" + c in names) for c in F_COMPONENTS)
    if bad or len(set(names)) != len(names) or not named:
        raise PathError(f"path file {str(path)!r}: a deformation-gradient header must name each component "
                        f"once, as F11..F33 or a stress P11..P33, plus optionally time and temp, "
                        f"got {','.join(names)}")
    rows = []
    header_seen = False
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            continue
        try:
            vals = [float(p) for p in line.split(",")]
        except ValueError:
            raise PathError(f"path file {str(path)!r} line {lineno}: not numbers: {line!r}") from None
        if len(vals) != len(names):
            raise PathError(f"path file {str(path)!r} line {lineno}: expected {len(names)} values, "
                            f"got {len(vals)}")
        if not np.all(np.isfinite(vals)):
            raise PathError(f"path file {str(path)!r} line {lineno}: non-finite value")
        rows.append((lineno, vals))
    if not rows:
        raise PathError(f"path file {str(path)!r} holds no steps")
    table = np.array([v for _, v in rows])
    n = table.shape[0]
    sc = tuple(k for k, c in enumerate(F_COMPONENTS) if "p" + c in names)
    F = np.tile(np.eye(3).ravel(), (n, 1))
    stress = np.zeros((n, 9)) if sc else None
    for k, c in enumerate(F_COMPONENTS):
        if k in sc:
            stress[:, k] = table[:, names.index("p" + c)]
        else:
            F[:, k] = table[:, names.index("f" + c)]
    try:
        check_f_free(sc)
    except PathError as exc:
        raise PathError(f"path file {str(path)!r}: {exc}") from None
    if not sc:
        for (lineno, _), Fk in zip(rows, F):
            if not np.linalg.det(Fk.reshape(3, 3)) > 0.0:
                raise PathError(f"path file {str(path)!r} line {lineno}: det F <= 0")
    time = table[:, names.index("time")] if "time" in names else None
    temp = table[:, names.index("temp")] if "temp" in names else None
    try:
        check_times(time, temp, n)
    except PathError as exc:
        raise PathError(f"path file {str(path)!r}: {exc}") from None
    return FPath(F.reshape(n, 3, 3), time, temp, None if stress is None else stress.reshape(n, 3, 3), sc)


def as_path(path, time: np.ndarray | None = None, temp: np.ndarray | None = None) -> LoadPath | FPath:
    """A job's path: a :class:`LoadPath` / :class:`FPath` as is, a file (:func:`read_path_file`),
    an (n, 3, 3) array of deformation gradients or an (n, 6) Mandel strain array (with the
    optional (n,) ``time`` / ``temp`` columns)."""
    if isinstance(path, (LoadPath, FPath)):
        return path
    if isinstance(path, (str, Path)):
        return read_path_file(path)
    a = np.asarray(path, dtype=np.float64)
    return FPath(a, time, temp) if a.ndim == 3 else LoadPath(a, time, temp)


def parse_stress_free_f(text: str | None) -> tuple[int, ...]:
    """'22,33' → F indices (4, 8) of a deformation-gradient path; None/'' → ()."""
    if not text:
        return ()
    out = []
    for tok in text.split(","):
        tok = tok.strip()
        if tok not in F_COMPONENTS:
            raise PathError(f"--stress-free: unknown component {tok!r} of a deformation-gradient path "
                            f"(use {', '.join(F_COMPONENTS)})")
        out.append(F_COMPONENTS.index(tok))
    if len(set(out)) != len(out):
        raise PathError("--stress-free: a component is listed twice")
    return check_f_free(out)


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
