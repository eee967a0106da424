"""Random phase-stiffness pairs (C1, C2) for offline DMN/IMN training data.

Follows the sampling used in the DMN literature (Liu, Wu & Koishi 2019; Liu & Wu 2019;
Gajek, Schneider & Böhlke 2020; Dey et al.): phase 1 has unit stiffness scale, phase 2's
scale is log-uniform so that the phase contrast spans several orders of magnitude, Poisson
ratios are uniform (or, with ``nu_law="log-kg"``, drawn so that log10(K/G) is uniform: nearly
incompressible phases as often as compressible ones per decade of K/G), and orthotropic
phases draw their nine engineering constants around the phase scale with admissibility
(positive-definite compliance) enforced by rejection.

Reproducibility: sample ``i`` of a data set with seed ``s`` uses its own generator
``np.random.default_rng([s, i])``, so any subset regenerates identically, in any order, on
any worker.  Draw order inside one sample is fixed: contrast, phase-1 kind, phase-1
constants, phase-2 kind, phase-2 constants.

Engineering constants per phase (9 values, the ``params`` arrays):
``E1, E2, E3, nu12, nu13, nu23, G12, G13, G23`` in the material frame = the global frame
(isotropic phases repeat E, nu, G = E / (2(1+nu))); ``nu_ij = -eps_j / eps_i`` under uniaxial
stress along i, so the compliance is ``S_ij = -nu_ij / E_i``.  Stiffnesses are Mandel (6, 6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..tensors import isotropic_stiffness, orthotropic_stiffness

__all__ = [
    "SamplerError",
    "SamplerSettings",
    "SamplePair",
    "sample_pair",
    "sample_pairs",
    "orthotropic_admissible",
    "KINDS",
    "NU_LAWS",
    "bulk_shear_ratio",
    "nu_of_bulk_shear_ratio",
    "ISO",
    "ORTHO",
]

KINDS = ("iso", "ortho", "mixed")
NU_LAWS = ("uniform", "log-kg")
ISO, ORTHO = 0, 1
_MAX_REJECT = 1000


class SamplerError(ValueError):
    """Invalid sampler settings (message is user-facing)."""


@dataclass(frozen=True)
class SamplerSettings:
    """Ranges of the phase sampler (all uniform draws; ``log10_*`` are uniform in log10).

    kind: ``iso`` (both phases isotropic), ``ortho`` (both orthotropic) or ``mixed`` (each phase
        independently orthotropic with probability ``ortho_probability``).
    log10_contrast: range of log10(s2 / s1), the ratio of the phase stiffness scales (s1 = 1).
    nu: Poisson ratio range of isotropic phases (up to 0.499 and beyond: any value below 0.5).
    nu_law: how isotropic ν is drawn in ``nu``: ``uniform`` (ν ~ U[nu], the default) or
        ``log-kg`` (log10(K/G) ~ U between its values at the ends of ``nu``, with
        K/G = 2(1+ν) / (3(1−2ν)); spreads the draws evenly over decades of K/G, i.e. covers
        nearly incompressible phases such as a flowing J2 or creeping matrix; one draw per phase
        either way).
    ortho_log10_E: range of log10(E_k / s) for each direction k of an orthotropic phase.
    ortho_nu: range of nu12, nu13, nu23 of orthotropic phases.
    ortho_log10_G: range of log10(G_ij / (sqrt(E_i E_j) / (2 (1 + nu_ij)))).
    min_eig_ratio: an orthotropic draw is rejected unless min/max eigenvalue of its Mandel
        stiffness exceeds this (positive definiteness with margin).
    """

    kind: str = "iso"
    log10_contrast: tuple[float, float] = (-3.0, 3.0)
    nu: tuple[float, float] = (0.1, 0.45)
    nu_law: str = "uniform"
    ortho_log10_E: tuple[float, float] = (-1.0, 1.0)
    ortho_nu: tuple[float, float] = (0.1, 0.45)
    ortho_log10_G: tuple[float, float] = (-0.5, 0.5)
    ortho_probability: float = 0.5
    min_eig_ratio: float = 1e-4

    def __post_init__(self):
        if self.kind not in KINDS:
            raise SamplerError(f"sampler kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("log10_contrast", "nu", "ortho_log10_E", "ortho_nu", "ortho_log10_G"):
            rng = getattr(self, name)
            if len(rng) != 2 or not all(math.isfinite(float(x)) for x in rng) or rng[0] > rng[1]:
                raise SamplerError(f"sampler range {name} must be two finite numbers lo <= hi, got {rng}")
            object.__setattr__(self, name, (float(rng[0]), float(rng[1])))
        if self.nu_law not in NU_LAWS:
            raise SamplerError(f"nu_law must be one of {', '.join(NU_LAWS)}, got {self.nu_law!r}")
        if not (-1.0 < self.nu[0] and self.nu[1] < 0.5):
            raise SamplerError(f"isotropic Poisson ratio range must lie in (-1, 0.5), got {self.nu}")
        if not (-1.0 < self.ortho_nu[0] and self.ortho_nu[1] < 1.0):
            raise SamplerError(f"orthotropic Poisson ratio range must lie in (-1, 1), got {self.ortho_nu}")
        if not 0.0 <= self.ortho_probability <= 1.0:
            raise SamplerError(f"ortho_probability must lie in [0, 1], got {self.ortho_probability}")
        if not 0.0 < self.min_eig_ratio < 1.0:
            raise SamplerError(f"min_eig_ratio must lie in (0, 1), got {self.min_eig_ratio}")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> SamplerSettings:
        d = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**d)


@dataclass
class SamplePair:
    """One sample: Mandel stiffnesses C1, C2 (6, 6), engineering constants (2, 9), kinds (2,)."""

    C1: np.ndarray
    C2: np.ndarray
    params: np.ndarray
    kinds: np.ndarray


def _uniform(rng: np.random.Generator, lohi: tuple[float, float], size=None):
    return rng.uniform(lohi[0], lohi[1], size)


def bulk_shear_ratio(nu):
    """K/G = 2(1+ν) / (3(1−2ν)) of an isotropic material, ν in (−1, 0.5) (scalar or array)."""
    return 2.0 * (1.0 + nu) / (3.0 * (1.0 - 2.0 * nu))


def nu_of_bulk_shear_ratio(r):
    """Inverse of :func:`bulk_shear_ratio`: ν = (3r − 2) / (6r + 2) for K/G = r > 0."""
    return (3.0 * r - 2.0) / (6.0 * r + 2.0)


def _iso_phase(rng, scale: float, s: SamplerSettings):
    if s.nu_law == "log-kg":
        lo, hi = (math.log10(bulk_shear_ratio(v)) for v in s.nu)
        nu = float(nu_of_bulk_shear_ratio(10.0 ** float(_uniform(rng, (lo, hi)))))
    else:
        nu = float(_uniform(rng, s.nu))
    E = scale
    G = E / (2.0 * (1.0 + nu))
    return isotropic_stiffness(E, nu), np.array([E, E, E, nu, nu, nu, G, G, G])


def orthotropic_admissible(p: np.ndarray) -> bool:
    """Thermodynamic admissibility of engineering constants p (9,): E, G > 0, |nu_ij| < sqrt(E_i/E_j)
    and positive-definite compliance (equivalently 1 − ν12ν21 − ν23ν32 − ν13ν31 − 2ν21ν32ν13 > 0)."""
    E1, E2, E3, n12, n13, n23, G12, G13, G23 = (float(x) for x in p)
    if min(E1, E2, E3, G12, G13, G23) <= 0.0 or not np.all(np.isfinite(p)):
        return False
    if n12**2 >= E1 / E2 or n13**2 >= E1 / E3 or n23**2 >= E2 / E3:
        return False
    n21, n31, n32 = n12 * E2 / E1, n13 * E3 / E1, n23 * E3 / E2
    return 1.0 - n12 * n21 - n23 * n32 - n13 * n31 - 2.0 * n21 * n32 * n13 > 0.0


def _ortho_phase(rng, scale: float, s: SamplerSettings):
    for _ in range(_MAX_REJECT):
        E = scale * 10.0 ** _uniform(rng, s.ortho_log10_E, 3)
        nu = _uniform(rng, s.ortho_nu, 3)  # nu12, nu13, nu23
        g = 10.0 ** _uniform(rng, s.ortho_log10_G, 3)
        pairs = ((0, 1), (0, 2), (1, 2))  # G12, G13, G23 with nu12, nu13, nu23
        G = np.array(
            [g[k] * math.sqrt(E[i] * E[j]) / (2.0 * (1.0 + nu[k])) for k, (i, j) in enumerate(pairs)]
        )
        p = np.concatenate([E, nu, G])
        if not orthotropic_admissible(p):
            continue
        C = orthotropic_stiffness(*p)
        ev = np.linalg.eigvalsh(C)
        if ev[0] > s.min_eig_ratio * ev[-1]:
            return 0.5 * (C + C.T), p
    raise SamplerError(
        "orthotropic sampler rejected 1000 draws in a row; "
        "widen ortho_nu/ortho_log10_* or lower min_eig_ratio"
    )


def sample_pair(seed: int, index: int, settings: SamplerSettings | None = None) -> SamplePair:
    """Sample ``index`` of the stream ``seed``: generator ``np.random.default_rng([seed, index])``."""
    s = settings or SamplerSettings()
    if int(seed) < 0 or int(index) < 0:
        raise SamplerError(f"seed and index must be >= 0, got {seed}, {index}")
    rng = np.random.default_rng([int(seed), int(index)])
    scale2 = 10.0 ** float(_uniform(rng, s.log10_contrast))
    Cs, ps, ks = [], [], []
    for scale in (1.0, scale2):
        if s.kind == "iso":
            ortho = False
        elif s.kind == "ortho":
            ortho = True
        else:
            ortho = bool(rng.random() < s.ortho_probability)
        C, p = (_ortho_phase if ortho else _iso_phase)(rng, scale, s)
        Cs.append(C)
        ps.append(p)
        ks.append(ORTHO if ortho else ISO)
    return SamplePair(Cs[0], Cs[1], np.array(ps), np.array(ks, dtype=np.int8))


def sample_pairs(
    seed: int, indices: Sequence[int], settings: SamplerSettings | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stacked samples: C1 (n,6,6), C2 (n,6,6), params (n,2,9), kinds (n,2)."""
    pairs = [sample_pair(seed, i, settings) for i in indices]
    if not pairs:
        return np.zeros((0, 6, 6)), np.zeros((0, 6, 6)), np.zeros((0, 2, 9)), np.zeros((0, 2), np.int8)
    return (
        np.array([p.C1 for p in pairs]),
        np.array([p.C2 for p in pairs]),
        np.array([p.params for p in pairs]),
        np.array([p.kinds for p in pairs]),
    )
