"""Phase laws: the one place for everything about a phase's constitutive law.

- :mod:`~dmn_umat.laws.catalogue` — the table of laws (name, id, parameters with defaults,
  units and constraints, ``props`` layout, state size, output fields, ``linear`` and
  ``isotropic`` flags); pure data.
- :mod:`~dmn_umat.laws.spec` — spec strings → :class:`Phase` (``parse_phase``,
  ``PhaseSpecError``, ``props_table``), driven by the table.
- :mod:`~dmn_umat.laws.elastic`, :mod:`~dmn_umat.laws.j2`, :mod:`~dmn_umat.laws.viscoplastic`,
  :mod:`~dmn_umat.laws.creep`, :mod:`~dmn_umat.laws.chaboche` — the numba updates, one file per
  law (the last three share :mod:`~dmn_umat.laws.j2_return`).
- :mod:`~dmn_umat.laws.update` — ``phase_update`` / ``elastic_stiffness`` dispatch by law id,
  statuses, the catalogue as numba-readable arrays and predicates (``law_nstate``,
  ``law_known``, ``law_linear``, ``law_isotropic``, ``NPROPS_BY_ID``): what the network
  kernel, the FFT DNS and the C ABI call.
- :mod:`~dmn_umat.laws.material` — the batched ``Material`` protocol, ``MaterialUpdate``,
  ``PhaseMaterial``.

Adding a law: a row in the catalogue, a numba file, one branch in ``update.py`` (and tests).

``props`` layouts (the C ABI's PROPS are these vectors concatenated in phase order;
``nsv`` = number of state variables; checked against the catalogue by the tests):

============  ==  ==================================================================  ===
law           id  props                                                                nsv
============  ==  ==================================================================  ===
elastic       0   [0, E, nu]                                                           0
aniso         1   [1, C11, C12, ..., C16, C22, ..., C66]                               0
j2            2   [2, E, nu, sy, H, Q, b, Hk]                                          7
vp            3   [3, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, eta, m, form]  7
creep         4   [4, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, A, n, k]       8
chaboche      5   [5, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, eta, m, form,
                  C1, gamma1, dC1, C2, gamma2, dC2]                                    19
neohooke      6   [6, C10, D1]                                                         0
svk           7   [7, E, nu]                                                           0
fj2           8   [8, E, nu, sy, H, Q, b]                                              7
============  ==  ==================================================================  ===

aniso: the 21 values are the upper triangle of the Mandel 6x6 stiffness, row by row (order
11, 22, 33, 23, 13, 12).  j2: linear isotropic hardening H, Voce Q (1 − exp(−b p)), linear
kinematic Hk; state = plastic strain εp (6, Mandel) then accumulated plastic strain p.
vp, creep, chaboche (the rate-dependent J2 family, ``docs/laws.md``): the j2 head, a
temperature block (T0 and the slopes of E, sy, H, Q, Hk; constants at the end-of-increment
temperature), then viscosity η [time] with rate sensitivity m and form (0 Peric, 1 Perzyna);
Norton–Bailey A, n and time exponent k; two Armstrong–Frederick back-stresses (C_i, γ_i, dC_i).
State: εp, p (vp); εp, p, total time (creep); εp, p, X_1, X_2 (chaboche).
neohooke, svk, fj2 (ids 6–8, ``Law.finite``): finite-strain laws, deformation gradient in, first
Piola–Kirchhoff stress out (:mod:`~dmn_umat.laws.finite_update`); the small-strain kernels
refuse them.  fj2 state: Cp⁻¹ − 1 (6), p.
Spec strings: ``elastic:E=..,nu=..``, ``aniso:C=c1;...;c21``,
``j2:E=..,nu=..,sy=..[,H=..][,Q=..,b=..][,Hk=..]``, ``vp:E=..,nu=..,sy=..,eta=..,m=..[,...]``,
``creep:E=..,nu=..,A=..,n=..[,k=..][,sy=..]...``,
``chaboche:E=..,nu=..,sy=..,C1=..,gamma1=..,C2=..,gamma2=..[,eta=..,m=..]...``
(every key with its unit and constraint: ``Law.usage``, ``docs/laws.md``).
"""

from .catalogue import LAWS, Law, Param
from .material import Material, MaterialUpdate, PhaseMaterial
from .spec import Phase, PhaseSpecError, parse_phase, props_table

__all__ = [
    "LAWS",
    "Law",
    "Param",
    "Material",
    "MaterialUpdate",
    "PhaseMaterial",
    "Phase",
    "PhaseSpecError",
    "parse_phase",
    "props_table",
]
