"""Spec strings of the finite-strain phase laws (deformation-gradient paths of ``dmn drive`` and
``dmn dns``) → props rows of :mod:`dmn_umat.laws.finite_update`::

    neohooke:E=..,nu=..   or   neohooke:C10=..,D1=..     compressible neo-Hookean
    svk:E=..,nu=..                                       Saint-Venant–Kirchhoff
    fj2:E=..,nu=..,sy=..[,H=..][,Q=..,b=..]              finite J2 (defaults H = Q = b = 0)

:func:`cauchy_stack` converts stacks of (F, P) to the Cauchy stress.

Constraints: E > 0, −1 < ν < 0.5, C10 > 0, D1 > 0, sy > 0, H, Q, b ≥ 0; errors are one-line
:class:`~dmn_umat.laws.spec.PhaseSpecError`.  Provisional, like the law ids: the catalogue
takes these rows over later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .finite_update import fj2_props, neohooke_props, svk_props
from .spec import PhaseSpecError, _key_values, _number

#: law name → (required keys, optional keys with defaults)
FINITE_LAWS = {
    "neohooke": ((), {}),  # E, nu or C10, D1 (checked below)
    "svk": (("E", "nu"), {}),
    "fj2": (("E", "nu", "sy"), {"H": 0.0, "Q": 0.0, "b": 0.0}),
}


@dataclass(frozen=True)
class FinitePhase:
    """A finite-strain phase: law name, ``props`` row (law id, constants) and its spec string."""

    law: str
    props: np.ndarray = field(repr=False)
    spec: str = ""


def parse_finite_phase(spec: str) -> FinitePhase:
    """``LAW:key=value,...`` (module doc) → :class:`FinitePhase`; :class:`PhaseSpecError`."""
    law, _, body = spec.partition(":")
    law = law.strip().lower()
    if law not in FINITE_LAWS:
        raise PhaseSpecError(f"phase spec {spec!r}: unknown finite-strain law {law!r} (a "
                             f"deformation-gradient path needs one of {', '.join(FINITE_LAWS)})")
    kv = {k: _number(k, v, spec) for k, v in _key_values(body, spec).items()}
    if law == "neohooke":
        keys = ({"E", "nu"}, {"C10", "D1"})
        if set(kv) not in keys:
            raise PhaseSpecError(f"phase spec {spec!r}: neohooke needs E and nu, or C10 and D1")
    else:
        req, opt = FINITE_LAWS[law]
        missing = [k for k in req if k not in kv]
        unknown = [k for k in kv if k not in req and k not in opt]
        if missing or unknown:
            raise PhaseSpecError(f"phase spec {spec!r}: {law} needs {', '.join(req)}"
                                 + (f" (optional {', '.join(opt)})" if opt else "")
                                 + (f"; unknown {', '.join(unknown)}" if unknown else ""))
        kv = {**opt, **kv}
    checks = {"E": (lambda v: v > 0, "> 0"), "nu": (lambda v: -1.0 < v < 0.5, "in (-1, 0.5)"),
              "C10": (lambda v: v > 0, "> 0"), "D1": (lambda v: v > 0, "> 0"),
              "sy": (lambda v: v > 0, "> 0"), "H": (lambda v: v >= 0, ">= 0"),
              "Q": (lambda v: v >= 0, ">= 0"), "b": (lambda v: v >= 0, ">= 0")}
    for k, v in kv.items():
        ok, cond = checks[k]
        if not ok(v):
            raise PhaseSpecError(f"phase spec {spec!r}: {k} must be {cond}, got {v:g}")
    if law == "neohooke":
        props = neohooke_props(E=kv["E"], nu=kv["nu"]) if "E" in kv else neohooke_props(kv["C10"], kv["D1"])
    elif law == "svk":
        props = svk_props(kv["E"], kv["nu"])
    else:
        props = fj2_props(kv["E"], kv["nu"], kv["sy"], kv["H"], kv["Q"], kv["b"])
    return FinitePhase(law, props, spec)


def cauchy_stack(F: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Cauchy stress σ = P Fᵀ / det F for stacks F, P (..., 3, 3) (units of P)."""
    F = np.asarray(F, dtype=np.float64)
    return np.einsum("...iK,...jK->...ij", P, F) / np.linalg.det(F)[..., None, None]
