"""The table of phase laws: one :class:`Law` row per law (pure data, no numba).

A row gives the law's spec name and numeric id, its parameters in ``props`` order (key,
default, unit, constraint, number of values), its state size and the named state entries the
materials report as output fields.  The spec parser (:mod:`dmn_umat.laws.spec`), the props
sizes the kernels use (:data:`NPROPS`, :data:`NSTATE`, :data:`MAX_NPROPS`, :data:`MAX_NSTATE`)
and the output fields are all read from :data:`LAWS`; the numba updates live one file per law
and are dispatched in :mod:`dmn_umat.laws.update`.  Layout table: :mod:`dmn_umat.laws`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..status import ST_CUTBACK, ST_FAILED, ST_OK

LAW_ELASTIC = 0
LAW_ANISO = 1
LAW_J2 = 2
LAW_VP = 3
LAW_CREEP = 4
LAW_CHABOCHE = 5
LAW_NEOHOOKE = 6
LAW_SVK = 7
LAW_FJ2 = 8

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
    ">= 1": (lambda v: v >= 1.0, ">= 1"),
    "flag": (lambda v: v in (0.0, 1.0), "0 or 1"),
    "time exponent": (lambda v: -1.0 < v <= 0.0, "in (-1, 0]"),
}


@dataclass(frozen=True)
class Param:
    """One law parameter.  ``default`` None: required.  ``size`` > 1: that many values,
    ``;``-separated in the spec (e.g. the 21 entries of an anisotropic stiffness).
    ``unit``: ``stress`` (units of the moduli), ``-`` (dimensionless), ``time`` (units of the
    time increment), ``temp`` (temperature), ``stress/temp`` (a temperature slope) or a
    compound such as ``1/(stress^n time^(k+1))``.  ``check``: a key of :data:`CONSTRAINTS` or
    empty."""

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
    cache the stiffness), ``isotropic`` (frame-indifferent: callers may skip rotations) and
    ``nws`` (floats of caller scratch the update needs) and ``viscosity`` (the key of the
    parameter whose non-zero value makes the law rate dependent, or empty: such a phase needs
    time increments).  ``finite``: a finite-strain law (deformation gradient in, first
    Piola–Kirchhoff stress out; :mod:`dmn_umat.laws.finite_update`), run by the finite-strain
    network, DNS and UMAT only; the small-strain ones refuse it.  ``alternative``: another set of
    spec keys the parser accepts instead of ``params`` (all of them), with the function that
    converts their values (key → value) to ``params`` values."""

    name: str
    id: int
    params: tuple[Param, ...]
    nstate: int = 0
    fields: dict[str, int] = field(default_factory=dict)
    together: tuple[tuple[str, tuple[str, ...]], ...] = ()
    linear: bool = False
    isotropic: bool = True
    nws: int = 0
    viscosity: str = ""
    finite: bool = False
    alternative: tuple[tuple[Param, ...], Callable[[dict], dict]] | None = None

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
_SY = Param("sy", "initial yield stress", check="> 0")
_HARDENING = (
    Param("H", "linear isotropic hardening modulus", default=0.0, check=">= 0"),
    Param("Q", "Voce saturation stress", default=0.0, check=">= 0"),
    Param("b", "Voce rate (per unit plastic strain)", unit="-", default=0.0, check=">= 0"),
    Param("Hk", "linear kinematic hardening modulus", default=0.0, check=">= 0"),
)
#: temperature block of the J2 family (docs/laws.md): X(T) = X + dX (T - T0), T the
#: end-of-increment temperature; all default 0 (no temperature dependence)
_THERMO = (
    Param("T0", "reference temperature", unit="temp", default=0.0),
    Param("dE", "slope dE/dT", unit="stress/temp", default=0.0),
    Param("dsy", "slope dsy/dT", unit="stress/temp", default=0.0),
    Param("dH", "slope dH/dT", unit="stress/temp", default=0.0),
    Param("dQ", "slope dQ/dT", unit="stress/temp", default=0.0),
    Param("dHk", "slope dHk/dT", unit="stress/temp", default=0.0),
)
_VOCE = (("Voce hardening", ("Q", "b")),)
#: scratch floats of the J2-family return (dmn_umat.laws.j2_return.WS_BASE, 2 per back-stress)
_WS_J2_RETURN = 30
#: back-stresses of the chaboche row
CHABOCHE_NB = 2


def _overstress(eta_default: float | None, m_default: float | None) -> tuple[Param, ...]:
    return (
        Param("eta", "viscosity (0: rate independent)", unit="time", default=eta_default, check=">= 0"),
        Param("m", "rate sensitivity", unit="-", default=m_default, check="> 0"),
        Param("form", "overstress form: 0 Peric, 1 Perzyna", unit="-", default=0.0, check="flag"),
    )


def _back_stress(i: int) -> tuple[Param, ...]:
    return (
        Param(f"C{i}", f"Armstrong-Frederick modulus of back-stress {i}", check=">= 0"),
        Param(f"gamma{i}", f"dynamic recovery of back-stress {i}", unit="-", check=">= 0"),
        Param(f"dC{i}", f"slope dC{i}/dT", unit="stress/temp", default=0.0),
    )

def _neohooke_from_moduli(kv: dict) -> dict:
    """C10 = μ/2, D1 = 2/K of the small-strain E, ν (:func:`~dmn_umat.laws.hyperelastic.neohooke_props`)."""
    from .hyperelastic import neohooke_props

    props = neohooke_props(E=kv["E"], nu=kv["nu"])
    return {"C10": float(props[1]), "D1": float(props[2])}


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
        (_E, _NU, _SY, *_HARDENING),
        nstate=7,
        fields={"peeq": 6},
        together=_VOCE,
        nws=6,
    ),
    Law(
        "vp",
        LAW_VP,
        (_E, _NU, _SY, *_HARDENING, *_THERMO, *_overstress(None, None)),
        nstate=7,
        fields={"peeq": 6},
        together=_VOCE,
        nws=_WS_J2_RETURN,
        viscosity="eta",
    ),
    Law(
        "creep",
        LAW_CREEP,
        (
            _E,
            _NU,
            Param("sy", "yield stress below which nothing creeps (0: pure creep)", default=0.0, check=">= 0"),
            *_HARDENING,
            *_THERMO,
            Param("A", "Norton factor", unit="1/(stress^n time^(k+1))", check=">= 0"),
            Param("n", "Norton stress exponent", unit="-", check=">= 1"),
            Param("k", "time-hardening exponent", unit="-", default=0.0, check="time exponent"),
        ),
        nstate=8,
        fields={"peeq": 6},
        together=_VOCE,
        nws=_WS_J2_RETURN,
        viscosity="A",
    ),
    Law(
        "chaboche",
        LAW_CHABOCHE,
        (
            _E, _NU, _SY, *_HARDENING, *_THERMO, *_overstress(0.0, 1.0),
            *(p for i in range(1, CHABOCHE_NB + 1) for p in _back_stress(i)),
        ),
        nstate=7 + 6 * CHABOCHE_NB,
        fields={"peeq": 6},
        together=_VOCE,
        nws=_WS_J2_RETURN + 2 * CHABOCHE_NB,
        viscosity="eta",
    ),
    # finite strain (dmn_umat.laws.finite_update; sizes checked against the law modules by tests)
    Law(
        "neohooke",
        LAW_NEOHOOKE,
        (
            Param("C10", "neo-Hookean constant, shear modulus / 2", check="> 0"),
            Param("D1", "compressibility, 2 / bulk modulus", unit="1/stress", check="> 0"),
        ),
        nws=27,
        finite=True,
        alternative=((_E, _NU), _neohooke_from_moduli),
    ),
    Law("svk", LAW_SVK, (_E, _NU), nws=18, finite=True),
    Law(
        "fj2",
        LAW_FJ2,
        (_E, _NU, _SY, *_HARDENING[:3]),
        nstate=7,
        fields={"peeq": 6},
        together=_VOCE,
        nws=96,
        finite=True,
    ),
)

BY_NAME: dict[str, Law] = {law.name: law for law in LAWS}
BY_ID: dict[int, Law] = {law.id: law for law in LAWS}
assert [law.id for law in LAWS] == list(range(len(LAWS))), "law ids are 0, 1, 2, ... in table order"

#: Length of ``props`` per law id (including the id).
NPROPS = {law.id: law.nprops for law in LAWS}
#: Number of state variables per law id.
NSTATE = {law.id: law.nstate for law in LAWS}
_SMALL = [law for law in LAWS if not law.finite]
_FINITE = [law for law in LAWS if law.finite]
#: Longest props vector of any small-strain law (shorter ones are zero padded in 2-D props tables).
MAX_NPROPS = max(law.nprops for law in _SMALL)
#: Largest state vector of any small-strain law.
MAX_NSTATE = max(law.nstate for law in _SMALL)
#: Largest caller scratch (``ws``) of any small-strain law's update.
MAX_NWS = max(law.nws for law in _SMALL)
#: The same three for the finite-strain laws (tables of :func:`dmn_umat.laws.finite_update.fs_props_table`).
MAX_NPROPS_FS = max(law.nprops for law in _FINITE)
MAX_NSTATE_FS = max(law.nstate for law in _FINITE)
MAX_NWS_FS = max(law.nws for law in _FINITE)
