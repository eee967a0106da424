"""Phase specifications: parse the CLI strings of docs/design.md §8 into law parameter vectors.

    elastic:E=..,nu=..
    aniso:C=c1;c2;...;c21              (upper triangle of the Mandel 6x6, row by row)
    j2:E=..,nu=..,sy=..[,H=..][,Q=..,b=..][,Hk=..]

The numeric layout (``props``) is documented in :mod:`dmn_umat.online.laws`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .online import laws


class PhaseSpecError(ValueError):
    """A phase specification string that cannot be used (message is user-facing)."""


_J2_KEYS = ("E", "nu", "sy", "H", "Q", "b", "Hk")
_J2_DEFAULTS = {"H": 0.0, "Q": 0.0, "b": 0.0, "Hk": 0.0}


@dataclass(frozen=True)
class Phase:
    """One phase: its law name, the parsed parameters and the numeric ``props`` vector."""

    law: str
    params: dict = field(hash=False)
    props: np.ndarray = field(hash=False, repr=False)
    spec: str = ""

    @property
    def nstate(self) -> int:
        return laws.NSTATE[int(self.props[0])]

    def stiffness(self) -> np.ndarray:
        """Elastic Mandel stiffness (6,6)."""
        C = np.empty((6, 6))
        laws.elastic_stiffness(self.props, C)
        return C


def _number(key: str, text: str, spec: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise PhaseSpecError(f"phase spec {spec!r}: {key}={text!r} is not a number") from None
    if not math.isfinite(v):
        raise PhaseSpecError(f"phase spec {spec!r}: {key}={text!r} is not finite")
    return v


def _key_values(body: str, spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in body.split(","))):
        if "=" not in item:
            raise PhaseSpecError(f"phase spec {spec!r}: expected key=value, got {item!r}")
        k, v = (s.strip() for s in item.split("=", 1))
        if k in out:
            raise PhaseSpecError(f"phase spec {spec!r}: {k} given twice")
        out[k] = v
    return out


def _check_isotropic(E: float, nu: float, spec: str) -> None:
    if E <= 0.0:
        raise PhaseSpecError(f"phase spec {spec!r}: E must be > 0")
    if not -1.0 < nu < 0.5:
        raise PhaseSpecError(f"phase spec {spec!r}: nu must lie in (-1, 0.5)")


def parse_phase(spec: str) -> Phase:
    """Parse one phase spec string; raises :class:`PhaseSpecError` with a clear message."""
    if not isinstance(spec, str) or ":" not in spec:
        raise PhaseSpecError(
            f"phase spec {spec!r}: expected LAW:key=value,... with LAW one of elastic, aniso, j2"
        )
    law, body = (s.strip() for s in spec.split(":", 1))
    kv = _key_values(body, spec)
    if law == "elastic":
        unknown = set(kv) - {"E", "nu"}
        if unknown or set(kv) != {"E", "nu"}:
            raise PhaseSpecError(f"phase spec {spec!r}: elastic needs exactly E and nu")
        E, nu = _number("E", kv["E"], spec), _number("nu", kv["nu"], spec)
        _check_isotropic(E, nu, spec)
        return Phase("elastic", {"E": E, "nu": nu}, np.array([laws.LAW_ELASTIC, E, nu], float), spec)
    if law == "aniso":
        if set(kv) != {"C"}:
            raise PhaseSpecError(f"phase spec {spec!r}: aniso needs exactly C=c1;...;c21")
        vals = [_number("C", t, spec) for t in kv["C"].split(";")]
        if len(vals) != 21:
            raise PhaseSpecError(f"phase spec {spec!r}: aniso needs 21 values, got {len(vals)}")
        props = np.array([laws.LAW_ANISO, *vals], float)
        phase = Phase("aniso", {"C": vals}, props, spec)
        if np.linalg.eigvalsh(phase.stiffness()).min() <= 0.0:
            raise PhaseSpecError(f"phase spec {spec!r}: stiffness is not positive definite")
        return phase
    if law == "j2":
        unknown = set(kv) - set(_J2_KEYS)
        if unknown:
            raise PhaseSpecError(f"phase spec {spec!r}: unknown j2 keys {sorted(unknown)}")
        missing = {"E", "nu", "sy"} - set(kv)
        if missing:
            raise PhaseSpecError(f"phase spec {spec!r}: j2 needs {sorted(missing)}")
        if ("Q" in kv) != ("b" in kv):
            raise PhaseSpecError(f"phase spec {spec!r}: Voce hardening needs both Q and b")
        p = dict(_J2_DEFAULTS)
        p.update({k: _number(k, v, spec) for k, v in kv.items()})
        _check_isotropic(p["E"], p["nu"], spec)
        if p["sy"] <= 0.0:
            raise PhaseSpecError(f"phase spec {spec!r}: sy must be > 0")
        if min(p["H"], p["Q"], p["b"], p["Hk"]) < 0.0:
            raise PhaseSpecError(f"phase spec {spec!r}: H, Q, b, Hk must be >= 0")
        props = np.array([laws.LAW_J2, *(p[k] for k in _J2_KEYS)], float)
        return Phase("j2", p, props, spec)
    raise PhaseSpecError(f"phase spec {spec!r}: unknown law {law!r} (elastic, aniso, j2)")


def props_table(phases: list[Phase]) -> np.ndarray:
    """(nphases, MAX_NPROPS) float64 table of props, zero padded (numba-friendly)."""
    table = np.zeros((len(phases), laws.MAX_NPROPS))
    for i, ph in enumerate(phases):
        table[i, : ph.props.size] = ph.props
    return table
