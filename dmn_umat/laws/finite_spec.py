"""Spec strings of the finite-strain phase laws (deformation-gradient paths of ``dmn drive`` and
``dmn dns``) → props rows of :mod:`dmn_umat.laws.finite_update`::

    neohooke:E=..,nu=..   or   neohooke:C10=..,D1=..     compressible neo-Hookean
    svk:E=..,nu=..                                       Saint-Venant–Kirchhoff
    fj2:E=..,nu=..,sy=..[,H=..][,Q=..,b=..]              finite J2 (defaults H = Q = b = 0)

The keys, defaults and constraints are the catalogue's rows (:mod:`dmn_umat.laws.catalogue`,
``Law.finite``), parsed by :func:`~dmn_umat.laws.spec.parse_phase`; this module only refuses a
small-strain law.  :func:`cauchy_stack` converts stacks of (F, P) to the Cauchy stress.
Errors are one-line :class:`~dmn_umat.laws.spec.PhaseSpecError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .catalogue import LAWS
from .spec import PhaseSpecError, parse_phase

#: names of the finite-strain laws
FINITE_LAWS = tuple(law.name for law in LAWS if law.finite)


@dataclass(frozen=True)
class FinitePhase:
    """A finite-strain phase: law name, ``props`` row (law id, constants) and its spec string."""

    law: str
    props: np.ndarray = field(repr=False)
    spec: str = ""


def parse_finite_phase(spec: str) -> FinitePhase:
    """``LAW:key=value,...`` (module doc) → :class:`FinitePhase`; :class:`PhaseSpecError`."""
    law = spec.partition(":")[0].strip().lower() if isinstance(spec, str) else ""
    if law not in FINITE_LAWS:
        raise PhaseSpecError(f"phase spec {spec!r}: unknown finite-strain law {law!r} (a "
                             f"deformation-gradient path needs one of {', '.join(FINITE_LAWS)})")
    phase = parse_phase(spec)
    return FinitePhase(phase.law, phase.props, spec)


def cauchy_stack(F: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Cauchy stress σ = P Fᵀ / det F for stacks F, P (..., 3, 3) (units of P)."""
    F = np.asarray(F, dtype=np.float64)
    return np.einsum("...iK,...jK->...ij", P, F) / np.linalg.det(F)[..., None, None]
