"""Phase laws: the one place for everything about a phase's constitutive law.

- :mod:`~dmn_umat.laws.catalogue` — the table of laws (name, id, parameters with defaults,
  units and constraints, ``props`` layout, state size, output fields, ``linear`` and
  ``isotropic`` flags); pure data.
- :mod:`~dmn_umat.laws.spec` — spec strings → :class:`Phase` (``parse_phase``,
  ``PhaseSpecError``, ``props_table``), driven by the table.
- :mod:`~dmn_umat.laws.elastic`, :mod:`~dmn_umat.laws.j2` — the numba updates, one file per law.
- :mod:`~dmn_umat.laws.update` — ``phase_update`` / ``elastic_stiffness`` dispatch by law id,
  statuses, the catalogue as numba-readable arrays and predicates (``law_nstate``,
  ``law_known``, ``law_linear``, ``law_isotropic``, ``NPROPS_BY_ID``): what the network
  kernel, the FFT DNS and the C ABI call.
- :mod:`~dmn_umat.laws.material` — the batched ``Material`` protocol, ``MaterialUpdate``,
  ``PhaseMaterial``.

Adding a law: a row in the catalogue, a numba file, one branch in ``update.py`` (and tests).

``props`` layouts (the C ABI's PROPS are these vectors concatenated in phase order;
``nsv`` = number of state variables; checked against the catalogue by the tests):

============  ==  ==========================================  ===
law           id  props                                        nsv
============  ==  ==========================================  ===
elastic       0   [0, E, nu]                                   0
aniso         1   [1, C11, C12, ..., C16, C22, ..., C66]       0
j2            2   [2, E, nu, sy, H, Q, b, Hk]                  7
============  ==  ==========================================  ===

aniso: the 21 values are the upper triangle of the Mandel 6x6 stiffness, row by row (order
11, 22, 33, 23, 13, 12).  j2: linear isotropic hardening H, Voce Q (1 − exp(−b p)), linear
kinematic Hk; state = plastic strain εp (6, Mandel) then accumulated plastic strain p.
Spec strings: ``elastic:E=..,nu=..``, ``aniso:C=c1;...;c21``,
``j2:E=..,nu=..,sy=..[,H=..][,Q=..,b=..][,Hk=..]``.
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
