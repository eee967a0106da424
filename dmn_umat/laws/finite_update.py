"""Finite-strain law dispatch by law id (numba), for the finite-strain network
(:mod:`dmn_umat.online.finite_kernel`).  The laws' rows (spec keys, units, defaults, sizes) are
those of :mod:`dmn_umat.laws.catalogue` with ``finite=True``; ``parse_phase`` reads their specs.

| id | law | props | nstate | scratch |
|---|---|---|---|---|
| 6 | neo-Hookean (:func:`~dmn_umat.laws.hyperelastic.neohooke_update`) | [6, C10, D1] | 0 | 27 |
| 7 | Saint-Venant–Kirchhoff (:func:`~dmn_umat.laws.hyperelastic.svk_update`) | [7, E, ν] | 0 | 18 |
| 8 | finite J2 (:func:`~dmn_umat.laws.finite_j2.fj2_update`) | [8, E, ν, sy, H, Q, b] | 7 | 96 |

Interface of :func:`fs_update`: that of every finite-strain law (:mod:`dmn_umat.laws.finite`);
an unknown id returns status 2 (bad input).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..sources import guard_numba_cache
from . import finite_j2
from .catalogue import BY_ID, MAX_NPROPS_FS, MAX_NSTATE_FS, MAX_NWS_FS, STATUS_BADINPUT
from .hyperelastic import (
    LAW_NEOHOOKE,
    LAW_SVK,
    neohooke_props,
    neohooke_update,
    svk_update,
)

LAW_FJ2 = finite_j2.LAW_FJ2
# MAX_NPROPS_FS, MAX_NSTATE_FS, MAX_NWS_FS: widest props row / state / scratch of the
# finite-strain laws (from the catalogue)


@njit(cache=True)
def fs_law_nstate(props):
    """State length of the law of ``props`` (0 for the hyperelastic laws); -1 for an unknown id."""
    lid = props[0]
    if lid == LAW_NEOHOOKE or lid == LAW_SVK:
        return 0
    if lid == LAW_FJ2:
        return finite_j2.NSTATE
    return -1


@njit(cache=True)
def fs_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws):
    """P = P(F_new) (3,3), A = dP/dF (9,9) and the new state of the law ``props[0]``."""
    lid = props[0]
    if lid == LAW_NEOHOOKE:
        return neohooke_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws)
    if lid == LAW_SVK:
        return svk_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws)
    if lid == LAW_FJ2:
        return finite_j2.fj2_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws)
    return STATUS_BADINPUT


def svk_props(E: float, nu: float) -> np.ndarray:
    """props (3,) of the Saint-Venant–Kirchhoff law."""
    return np.array([float(LAW_SVK), float(E), float(nu)])


def fj2_props(E: float, nu: float, sy: float, H: float = 0.0, Q: float = 0.0, b: float = 0.0) -> np.ndarray:
    """props (7,) of the finite J2 law (constants as for the small-strain ``j2``)."""
    return np.array([float(LAW_FJ2), E, nu, sy, H, Q, b], dtype=np.float64)


def fs_props_table(rows: list) -> np.ndarray:
    """(nphase, MAX_NPROPS_FS) table, row p = props of phase p zero-padded.  A phase is a props
    row, a :class:`~dmn_umat.laws.spec.Phase` or a spec string (``fj2:E=..,nu=..,sy=..``).
    ValueError (one line) for an unknown law id, a small-strain law, a short or non-finite row."""
    from .spec import Phase, parse_phase

    finite = ", ".join(law.name for law in BY_ID.values() if law.finite)
    table = np.zeros((len(rows), MAX_NPROPS_FS))
    for p, r in enumerate(rows):
        if isinstance(r, str):
            r = parse_phase(r)
        r = np.asarray(r.props if isinstance(r, Phase) else r, dtype=np.float64).ravel()
        law = BY_ID.get(int(r[0])) if r.size and np.isfinite(r[0]) and float(r[0]).is_integer() else None
        if law is None:
            raise ValueError(f"finite-strain phase {p}: unknown law id (the finite-strain laws: {finite})")
        if not law.finite:
            raise ValueError(f"finite-strain phase {p}: {law.name!r} is a small-strain law; the "
                             f"finite-strain network runs {finite}")
        if r.size != law.nprops or not np.all(np.isfinite(r)):
            raise ValueError(f"finite-strain phase {p}: law {law.id} needs {law.nprops} finite props")
        table[p, : r.size] = r
    return table


__all__ = [
    "LAW_FJ2", "LAW_NEOHOOKE", "LAW_SVK", "MAX_NPROPS_FS", "MAX_NSTATE_FS", "MAX_NWS_FS",
    "fj2_props", "fs_law_nstate", "fs_props_table", "fs_update", "neohooke_props", "svk_props",
]

guard_numba_cache(fs_update, __file__)
