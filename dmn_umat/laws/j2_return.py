"""One implicit return mapping for the J2 family of rate-dependent / cyclic laws (numba).

Shared by :mod:`~dmn_umat.laws.viscoplastic`, :mod:`~dmn_umat.laws.creep` and
:mod:`~dmn_umat.laws.chaboche` (their props layouts and docs: those modules and
``docs/laws.md``).  Small strain, total-strain form, Mandel convention
(:mod:`dmn_umat.tensors`).  Model (all stresses in the units of E)::

    σ = K tr ε 1 + s,     s = 2G dev(ε − εp)
    ξ = s − X,  X = (2/3) Hk εp + Σ_i X_i,     q = sqrt(3/2) |ξ|,  N = (3/2) ξ / q
    σy(p) = sy + H p + Q (1 − exp(−b p))
    ε̇p = ṗ N,   Ẋ_i = (2/3) C_i ε̇p − γ_i X_i ṗ          (Armstrong–Frederick back-stresses)
    rate-independent:  q − σy(p) ≤ 0, ṗ ≥ 0, ṗ (q − σy) = 0
    viscous:           q = σy(p) ψ(ṗ) (Peric / Perzyna)  or  q = σy(p) + (ṗ / a)^(1/n) (Norton)

Backward Euler over the increment; the flow direction is that of
``ξ*(Δp) = s_tr − (2/3) Hk εp_n − Σ_i θ_i X_i,n`` (θ_i = 1 / (1 + γ_i Δp)) and the consistency
condition is one scalar equation ``g(Δp) = 0``::

    g(Δp) = sqrt(3/2)|ξ*(Δp)| − (3G + Hk + Σ_i θ_i C_i) Δp − σ_v(Δp),
    σ_v = σy(p_n + Δp) ψ(Δp/Δt)      (ψ = 1: rate independent,
                                      ψ = (1 + η ṗ)^m: Peric,  ψ = 1 + (η ṗ)^m: Perzyna)
    σ_v = σy(p_n + Δp) + (Δp / (Δt a))^(1/n)                     (Norton overstress)

solved by a safeguarded Newton iteration in ln Δp (bracket [0, Δp_max], geometric bisection
when a Newton step leaves it).  Back-stresses in closed form
``X_i = θ_i (X_i,n + (2/3) C_i Δp N)``.  Consistent tangent (a = dΔp/dε, h = −dg/dΔp,
n* = ξ*/|ξ*|, Y = Σ γ_i θ_i² X_i,n)::

    a = 2G sqrt(3/2) n* / h
    C = K 1⊗1 + 2G P_dev − 2G sqrt(3/2) [n*⊗a + (Δp/|ξ*|)(2G (P_dev − n*⊗n*) + (Y − (n*·Y) n*)⊗a)]

State written by the core: εp (6, Mandel) at [0:6], p at [6], X_i (6 each) at [7 + 6 i].
Scratch ``ws``: at least ``WS_BASE + 2 nb`` floats (``nb`` back-stresses).
"""

from __future__ import annotations

import math

from numba import njit

from ..sources import guard_numba_cache
from .catalogue import STATUS_BADINPUT, STATUS_NONCONVERGED, STATUS_OK  # noqa: F401 - re-exported
from .elastic import isotropic_fill

#: viscosity forms (``form`` entry of the props)
VISC_NONE = -1
VISC_PERIC = 0
VISC_PERZYNA = 1
VISC_NORTON = 2

#: scratch floats used besides the 2 per back-stress
WS_BASE = 30
#: index of the common head in every props vector of the family (after the law id)
P_E, P_NU, P_SY, P_H, P_Q, P_B, P_HK = 1, 2, 3, 4, 5, 6, 7
P_T0, P_DE, P_DSY, P_DH, P_DQ, P_DHK = 8, 9, 10, 11, 12, 13
#: length of the common head (id + 13 values)
NHEAD = 14

_SQ32 = math.sqrt(1.5)
_MAXIT = 200


@njit(cache=True)
def inputs_ok(eps, state_old, nstate, dt, temp, dtemp):
    """True when strain, state, time increment and temperatures are finite and dt ≥ 0."""
    for i in range(6):
        if not math.isfinite(eps[i]):
            return False
    if state_old.shape[0] < nstate:
        return False
    for i in range(nstate):
        if not math.isfinite(state_old[i]):
            return False
    if not (math.isfinite(dt) and dt >= 0.0):
        return False
    return math.isfinite(temp) and math.isfinite(dtemp)


@njit(cache=True)
def at_temperature(props, k, kd, dT):
    """Value ``props[k] + props[kd] (T − T0)`` of a linearly temperature-dependent constant."""
    return props[k] + props[kd] * dT


@njit(cache=True)
def head_at(props, T):
    """(ok, E, nu, sy, H, Q, b, Hk) of the common head at temperature T (linear in T − T0).

    ok is False for non-finite values, E ≤ 0, nu outside (−1, 0.5), sy < 0, b < 0 or Hk < 0.
    """
    dT = T - props[P_T0]
    E = at_temperature(props, P_E, P_DE, dT)
    nu = props[P_NU]
    sy = at_temperature(props, P_SY, P_DSY, dT)
    H = at_temperature(props, P_H, P_DH, dT)
    Q = at_temperature(props, P_Q, P_DQ, dT)
    b = props[P_B]
    Hk = at_temperature(props, P_HK, P_DHK, dT)
    ok = True
    for v in (E, nu, sy, H, Q, b, Hk):
        if not math.isfinite(v):
            ok = False
    ok = ok and E > 0.0 and -1.0 < nu < 0.5 and sy >= 0.0 and b >= 0.0 and Hk >= 0.0
    return ok, E, nu, sy, H, Q, b, Hk


@njit(cache=True)
def _flow_stress(sy, H, Q, b, p):
    """σy(p) and dσy/dp."""
    ex = math.exp(-b * p)
    return sy + H * p + Q * (1.0 - ex), H + Q * b * ex


@njit(cache=True)
def _residual(x, G, Hk, sy, H, Q, b, p_n, vkind, v1, v2, dt, nb, state_old, ws):
    """g(Δp = x) and dg/dΔp; leaves ξ*(x) in ws[6:12], Y in ws[12:18], |ξ*| in the return."""
    cb = WS_BASE
    sumC = 0.0
    dsumC = 0.0
    for i in range(6):
        ws[6 + i] = ws[i]
        ws[12 + i] = 0.0
    for k in range(nb):
        Ck = ws[cb + k]
        gk = ws[cb + nb + k]
        th = 1.0 / (1.0 + gk * x)
        sumC += th * Ck
        dsumC += gk * th * th * Ck
        o = 7 + 6 * k
        for i in range(6):
            Xi = state_old[o + i]
            ws[6 + i] -= th * Xi
            ws[12 + i] += gk * th * th * Xi
    r2 = 0.0
    xy = 0.0
    for i in range(6):
        r2 += ws[6 + i] * ws[6 + i]
        xy += ws[6 + i] * ws[12 + i]
    r = math.sqrt(r2)
    q = _SQ32 * r - (3.0 * G + Hk + sumC) * x
    dq = (_SQ32 * xy / r if r > 0.0 else 0.0) - (3.0 * G + Hk + sumC) + dsumC * x
    sig, dsig = _flow_stress(sy, H, Q, b, p_n + x)
    if vkind == VISC_NONE:
        return q - sig, dq - dsig, r
    if vkind == VISC_NORTON:
        # v1 = a (rate factor, 1/(stress^n time)), v2 = n
        z = x / (dt * v1)
        sv = z ** (1.0 / v2) if z > 0.0 else 0.0
        if x > 0.0:
            dsv = sv / (v2 * x)
        else:
            dsv = math.inf if v2 > 1.0 else (1.0 / (dt * v1) if v2 == 1.0 else 0.0)
        return q - sig - sv, dq - dsig - dsv, r
    # Peric / Perzyna: v1 = eta [time], v2 = m (rate sensitivity)
    w = v1 * x / dt
    if vkind == VISC_PERIC:
        psi = (1.0 + w) ** v2
        dpsi = v2 * (v1 / dt) * (1.0 + w) ** (v2 - 1.0)
    else:
        psi = 1.0 + (w ** v2 if w > 0.0 else 0.0)
        if w > 0.0:
            dpsi = v2 * (v1 / dt) * w ** (v2 - 1.0)
        else:
            dpsi = math.inf if v2 < 1.0 else (v1 / dt if v2 == 1.0 else 0.0)
    return q - sig * psi, dq - dsig * psi - sig * dpsi, r


@njit(cache=True)
def j2_return(E, nu, sy, H, Q, b, Hk, vkind, v1, v2, dt, nb, eps, state_old, stress, tangent,
              state_new, ws):
    """Stress, consistent tangent and state (first ``7 + 6 nb`` entries) of one point.

    Parameters are those at the end-of-increment temperature; ``ws[WS_BASE:WS_BASE+nb]`` holds
    the C_i and ``ws[WS_BASE+nb:WS_BASE+2nb]`` the γ_i (the caller fills them).  ``vkind``:
    VISC_NONE (rate independent), VISC_PERIC / VISC_PERZYNA (v1 = η, v2 = m), VISC_NORTON
    (v1 = a = A t^k, v2 = n).  A viscous law with dt = 0 (or a = 0) returns the elastic trial.
    Returns STATUS_OK or STATUS_NONCONVERGED (inputs are checked by the caller).
    """
    K = E / (3.0 * (1.0 - 2.0 * nu))
    G = E / (2.0 * (1.0 + nu))
    p_n = state_old[6]
    ns = 7 + 6 * nb
    for i in range(ns):
        state_new[i] = state_old[i]

    # trial: ws[0:6] = s_tr - (2/3) Hk eps_p,n (back-stresses X_i not included)
    tr = eps[0] + eps[1] + eps[2]
    for i in range(6):
        e = eps[i] - state_old[i]
        if i < 3:
            e -= tr / 3.0
        ws[i] = 2.0 * G * e - (2.0 / 3.0) * Hk * state_old[i]
    sig_n, dsig_n = _flow_stress(sy, H, Q, b, p_n)
    # f_tr = g(0) (with ψ(0) = 1 / zero Norton overstress)
    xnorm = 0.0
    for i in range(6):
        xi_i = ws[i]
        for k in range(nb):
            xi_i -= state_old[7 + 6 * k + i]
        xnorm += xi_i * xi_i
    xnorm = math.sqrt(xnorm)
    f_tr = _SQ32 * xnorm - sig_n
    viscous = vkind != VISC_NONE
    frozen = viscous and (dt <= 0.0 or (vkind == VISC_NORTON and v1 <= 0.0))
    if not (xnorm > 0.0) or f_tr <= 1e-12 * sig_n or frozen:
        for i in range(6):
            s = 2.0 * G * (eps[i] - state_old[i] - (tr / 3.0 if i < 3 else 0.0))
            stress[i] = s + (K * tr if i < 3 else 0.0)
        isotropic_fill(K, G, tangent)
        return STATUS_OK

    # bracket: g(0) = f_tr > 0; q(x) <= 0 for x >= hi (C_i, Hk >= 0); softening (H or Q < 0)
    # may need a larger hi
    xback = 0.0
    for k in range(nb):
        s2 = 0.0
        for i in range(6):
            s2 += state_old[7 + 6 * k + i] ** 2
        xback += math.sqrt(s2)
    r0 = 0.0
    for i in range(6):
        r0 += ws[i] * ws[i]
    lo = 0.0
    hi = _SQ32 * (math.sqrt(r0) + xback) / (3.0 * G) + 1e-300
    scale = _SQ32 * xnorm + sig_n
    tolg = 1e-13 * scale
    ok = H >= 0.0 and Q >= 0.0  # then σy ≥ 0 for all p, so g(hi) ≤ 0: no check needed
    for _ in range(0 if ok else 60):
        g, dg, r = _residual(hi, G, Hk, sy, H, Q, b, p_n, vkind, v1, v2, dt, nb, state_old, ws)
        if g < 0.0:
            ok = True
            break
        lo = hi
        hi *= 2.0
    if not ok:
        return STATUS_NONCONVERGED
    # Newton from the linearised rate-independent estimate or, when smaller, the explicit
    # (forward Euler) viscous estimate Δt ṗ(f_tr) — an upper bound while the overstress
    # decreases with Δp, checked — kept inside [lo, hi]
    x = f_tr / (3.0 * G + Hk + max(dsig_n, 0.0))
    if viscous:
        if vkind == VISC_NORTON:
            xe = dt * v1 * f_tr**v2
        elif vkind == VISC_PERZYNA:
            xe = dt / v1 * (f_tr / sig_n) ** (1.0 / v2)
        else:
            xe = dt / v1 * (((f_tr + sig_n) / sig_n) ** (1.0 / v2) - 1.0)
        if lo < xe < hi and xe < x:
            g, dg, r = _residual(xe, G, Hk, sy, H, Q, b, p_n, vkind, v1, v2, dt, nb, state_old, ws)
            if g < 0.0:
                hi = xe
            else:
                lo = xe
            x = xe
    if not (lo <= x <= hi) or not (x > 0.0):
        x = 0.5 * (lo + hi)
    converged = False
    for _ in range(_MAXIT):
        g, dg, r = _residual(x, G, Hk, sy, H, Q, b, p_n, vkind, v1, v2, dt, nb, state_old, ws)
        if abs(g) <= tolg:
            converged = True
            break
        if g > 0.0:
            lo = x
        else:
            hi = x
        if hi - lo <= 1e-15 * hi:
            converged = abs(g) <= 1e-8 * scale
            break
        # Newton step in u = ln Δp (power-law overstress terms become exponentials: large
        # steady steps where Δp spans decades); geometric bisection when it leaves the bracket
        xn = -1.0
        if dg < 0.0 and math.isfinite(dg):
            xn = x * math.exp(min(-g / (x * dg), 50.0))
        if not (lo < xn < hi):
            xn = math.sqrt(lo) * math.sqrt(hi) if lo > 0.0 else 1e-3 * hi
        x = xn
    if not converged or not (x > 0.0) or not math.isfinite(x):
        return STATUS_NONCONVERGED
    h = -dg

    # n* = ξ*/|ξ*| into ws[18:24]; update state and stress
    cb = WS_BASE
    for i in range(6):
        ws[18 + i] = ws[6 + i] / r
    for i in range(6):
        Ni = _SQ32 * ws[18 + i]
        state_new[i] = state_old[i] + x * Ni
        s = 2.0 * G * (eps[i] - state_old[i] - (tr / 3.0 if i < 3 else 0.0)) - 2.0 * G * x * Ni
        stress[i] = s + (K * tr if i < 3 else 0.0)
    state_new[6] = p_n + x
    for k in range(nb):
        th = 1.0 / (1.0 + ws[cb + nb + k] * x)
        Ck = ws[cb + k]
        o = 7 + 6 * k
        for i in range(6):
            state_new[o + i] = th * (state_old[o + i] + (2.0 / 3.0) * Ck * x * _SQ32 * ws[18 + i])

    # tangent: a = 2G sqrt(3/2) n*/h into ws[24:30]; Y_perp = Y − (n*·Y) n* into ws[12:18]
    ny = 0.0
    for i in range(6):
        ny += ws[18 + i] * ws[12 + i]
    for i in range(6):
        ws[24 + i] = 2.0 * G * _SQ32 * ws[18 + i] / h
        ws[12 + i] -= ny * ws[18 + i]
    c = 2.0 * G * _SQ32
    d = x / r
    for i in range(6):
        ni = ws[18 + i]
        for j in range(6):
            nj = ws[18 + j]
            pdev = (1.0 if i == j else 0.0) - (1.0 / 3.0 if (i < 3 and j < 3) else 0.0)
            v = 2.0 * G * pdev + (K if (i < 3 and j < 3) else 0.0)
            v -= c * (ni * ws[24 + j] + d * (2.0 * G * (pdev - ni * nj) + ws[12 + i] * ws[24 + j]))
            tangent[i, j] = v
    return STATUS_OK


guard_numba_cache(inputs_ok, __file__)
