"""The table of phase laws: one :class:`Law` row per law (pure data, no numba).

A row gives the law's spec name and numeric id, its parameters in ``props`` order (key,
default, unit, constraint, number of values), its state size and the named state entries the
materials report as output fields.  The spec parser (:mod:`dmn_umat.laws.spec`), the props
sizes the kernels use (:data:`NPROPS`, :data:`NSTATE`, :data:`MAX_NPROPS`, :data:`MAX_NSTATE`)
and the output fields are all read from :data:`LAWS`; the numba updates live one file per law
and are dispatched in :mod:`dmn_umat.laws.update`.  Layout table: :mod:`dmn_umat.laws`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..status import ST_CUTBACK, ST_FAILED, ST_OK

LAW_ELASTIC = 0
LAW_ANISO = 1
LAW_J2 = 2

#: statuses a law update returns (never raises), codes of :mod:`dmn_umat.status`: a point that
#: did not converge asks its caller to cut back, bad input (non-finite strain, unknown law) fails
STATUS_OK = ST_OK
STATUS_NONCONVERGED = ST_CUTBACK
STATUS_BADINPUT = ST_FAILED

#: constraint name → (test, the condition in words: "KEY must be ...")
CONSTRAINTS = {
    "> 0": (lambda v: v > 0.0, "> 0"),
    ">= 0": (lambda v: v >= 0.0, ">= 0"),
    "poisson": (lambda v: -1.0 < v < 0.5, "in (-1, 0.5)"),
}


@dataclass(frozen=True)
class Param:
    """One law parameter.  ``default`` None: required.  ``size`` > 1: that many values,
    ``;``-separated in the spec (e.g. the 21 entries of an anisotropic stiffness).
    ``unit``: ``stress`` (units of the moduli) or ``-`` (dimensionless).  ``check``: a key of
    :data:`CONSTRAINTS` or empty."""

    key: str
    doc: str
    unit: str = "stress"
    default: float | None = None
    check: str = ""
    size: int = 1


@dataclass(frozen=True)
class Law:
    """One phase law: spec name, id (``props[0]``), parameters in ``props`` order, state size,
    named state entries (output fields: name → index in the law's state), groups of keys that
    must be given together (``(what, keys)``), ``linear`` (stress = C ε, no state: callers may
    cache the stiffness) and ``isotropic`` (frame-indifferent: callers may skip rotations)."""

    name: str
    id: int
    params: tuple[Param, ...]
    nstate: int = 0
    fields: dict[str, int] = field(default_factory=dict)
    together: tuple[tuple[str, tuple[str, ...]], ...] = ()
    linear: bool = False
    isotropic: bool = True

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params)

    @property
    def nprops(self) -> int:
        """Length of ``props`` (including the law id)."""
        return 1 + sum(p.size for p in self.params)

    @property
    def usage(self) -> str:
        """Spec syntax, e.g. ``j2:E=..,nu=..,sy=..[,H=..]...``."""
        def one(p: Param) -> str:
            return f"{p.key}=.." if p.size == 1 else f"{p.key}=c1;...;c{p.size}"

        required = ",".join(one(p) for p in self.params if p.default is None)
        optional = "".join(f"[,{one(p)}]" for p in self.params if p.default is not None)
        return f"{self.name}:{required}{optional}"


_E = Param("E", "Young's modulus", check="> 0")
_NU = Param("nu", "Poisson ratio", unit="-", check="poisson")

#: every phase law, in id order
LAWS: tuple[Law, ...] = (
    Law("elastic", LAW_ELASTIC, (_E, _NU), linear=True),
    Law(
        "aniso",
        LAW_ANISO,
        (Param("C", "Mandel stiffness, upper triangle row by row", size=21),),
        linear=True,
        isotropic=False,
    ),
    Law(
        "j2",
        LAW_J2,
        (
            _E,
            _NU,
            Param("sy", "initial yield stress", check="> 0"),
            Param("H", "linear isotropic hardening modulus", default=0.0, check=">= 0"),
            Param("Q", "Voce saturation stress", default=0.0, check=">= 0"),
            Param("b", "Voce rate (per unit plastic strain)", unit="-", default=0.0, check=">= 0"),
            Param("Hk", "linear kinematic hardening modulus", default=0.0, check=">= 0"),
        ),
        nstate=7,
        fields={"peeq": 6},
        together=(("Voce hardening", ("Q", "b")),),
    ),
)

BY_NAME: dict[str, Law] = {law.name: law for law in LAWS}
BY_ID: dict[int, Law] = {law.id: law for law in LAWS}
assert [law.id for law in LAWS] == list(range(len(LAWS))), "law ids are 0, 1, 2, ... in table order"

#: Length of ``props`` per law id (including the id).
NPROPS = {law.id: law.nprops for law in LAWS}
#: Number of state variables per law id.
NSTATE = {law.id: law.nstate for law in LAWS}
#: Longest props vector of any law (shorter ones are zero padded in 2-D props tables).
MAX_NPROPS = max(NPROPS.values())
#: Largest state vector of any law.
MAX_NSTATE = max(NSTATE.values())
