"""Chaboche / Armstrong–Frederick nonlinear kinematic hardening (nb ≥ 1 back-stresses) with
Voce + linear isotropic hardening, optionally viscous (Peric / Perzyna overstress) and with
temperature-dependent constants; numba, allocation-free.

    f = q − σy(p),  q = sqrt(3/2)|dev σ − X|,  X = (2/3) Hk εp + Σ_i X_i
    Ẋ_i = (2/3) C_i ε̇p − γ_i X_i ṗ,   σy(p) = sy + H p + Q (1 − exp(−b p))
    rate independent (η = 0): f ≤ 0, ṗ ≥ 0, ṗ f = 0;  viscous: q = σy ψ(ṗ) as the ``vp`` law

Implicit return (backward Euler): scalar Newton on Δp, back-stresses in closed form
``X_i = (X_i,n + (2/3) C_i Δp N) / (1 + γ_i Δp)`` per Newton step, consistent tangent
(:mod:`dmn_umat.laws.j2_return`; equations: ``docs/laws.md``).  With temperature, C_i(T) is
used in the rate equation as it stands (no Ċ_i/C_i X_i term).

    status = chaboche_update(props, eps, state_old, dt, temp, dtemp, stress, tangent,
                             state_new, ws)

==========  ============================================================================
props       ``[id, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, eta, m, form, nb,``
            `` C_1, gamma_1, dC_1, ..., C_nb, gamma_nb, dC_nb]``
nprops      18 + 3 nb (``nprops(nb)``), 1 ≤ nb ≤ 8
state       εp (6, Mandel) [0:6], p [6], X_i (6, Mandel) at [7 + 6(i−1)] — nstate 7 + 6 nb
scratch     ws ≥ 30 + 2 nb floats (``nws(nb)``)
id          ``LAW_CHABOCHE`` = 5 (placeholder; the catalogue assigns the final id)
==========  ============================================================================

Units: C_i (and dC_i per temperature) in stress, γ_i dimensionless; η = 0 for the rate
independent law, else η in time, m dimensionless, form 0 Peric / 1 Perzyna; the rest as
:mod:`~dmn_umat.laws.viscoplastic`.  Returns 0 (ok), 1 (not converged: cut back) or 2 (bad
input); never raises.
"""

from __future__ import annotations

import math

from numba import njit

from ..sources import guard_numba_cache
from .j2_return import (
    NB_MAX,
    NHEAD,
    P_T0,
    STATUS_BADINPUT,
    VISC_NONE,
    VISC_PERIC,
    VISC_PERZYNA,
    WS_BASE,
    head_at,
    inputs_ok,
    j2_return,
)

LAW_CHABOCHE = 5
_P_NB = NHEAD + 3
_P_PAIRS = NHEAD + 4


@njit(cache=True)
def nprops(nb):
    """Length of the props vector with nb back-stresses."""
    return _P_PAIRS + 3 * nb


@njit(cache=True)
def nstate(nb):
    """Number of state variables with nb back-stresses."""
    return 7 + 6 * nb


@njit(cache=True)
def nws(nb):
    """Minimum scratch length with nb back-stresses."""
    return WS_BASE + 2 * nb


@njit(cache=True)
def chaboche_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws):
    """Chaboche update of one point (layout: module doc).  Returns a status."""
    if props.shape[0] < _P_PAIRS:
        return STATUS_BADINPUT
    fnb = props[_P_NB]
    if not (1.0 <= fnb <= NB_MAX) or fnb != math.floor(fnb):
        return STATUS_BADINPUT
    nb = int(fnb)
    if props.shape[0] < nprops(nb) or ws.shape[0] < nws(nb):
        return STATUS_BADINPUT
    if not inputs_ok(eps, state_old, nstate(nb), dt, temp, dtemp):
        return STATUS_BADINPUT
    T = temp + dtemp
    ok, E, nu, sy, H, Q, b, Hk = head_at(props, T)
    eta = props[NHEAD]
    m = props[NHEAD + 1]
    form = props[NHEAD + 2]
    if not ok or not (eta >= 0.0) or not (m > 0.0) or not (form == 0.0 or form == 1.0):
        return STATUS_BADINPUT
    dT = T - props[P_T0]
    for k in range(nb):
        o = _P_PAIRS + 3 * k
        Ck = props[o] + props[o + 2] * dT
        gk = props[o + 1]
        if not (Ck >= 0.0 and gk >= 0.0 and math.isfinite(Ck) and math.isfinite(gk)):
            return STATUS_BADINPUT
        ws[WS_BASE + k] = Ck
        ws[WS_BASE + nb + k] = gk
    if eta == 0.0:
        vkind = VISC_NONE
    else:
        vkind = VISC_PERIC if form == 0.0 else VISC_PERZYNA
        if not (sy > 0.0):
            return STATUS_BADINPUT
    return j2_return(E, nu, sy, H, Q, b, Hk, vkind, eta, m, dt, nb, eps, state_old, stress,
                     tangent, state_new, ws)


guard_numba_cache(nprops, __file__)
