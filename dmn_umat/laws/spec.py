"""Phase spec strings (docs/design.md §8) → :class:`Phase` (law, parameters, ``props``).

    LAW:key=value,key=value,...      e.g. j2:E=70e3,nu=0.33,sy=120,H=700

Driven by the table of :mod:`dmn_umat.laws.catalogue`: the keys, defaults, constraints and the
``props`` order of each law come from its row (layouts: :mod:`dmn_umat.laws`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .catalogue import BY_ID, BY_NAME, CONSTRAINTS, LAWS, MAX_NPROPS, Law, Param
from .update import elastic_stiffness


class PhaseSpecError(ValueError):
    """A phase specification string that cannot be used (message is user-facing)."""


@dataclass(frozen=True)
class Phase:
    """One phase: its law name, the parsed parameters (key → value, a list for multi-value
    keys, defaults filled in) and the numeric ``props`` vector (law id, then parameters)."""

    law: str
    params: dict = field(hash=False)
    props: np.ndarray = field(hash=False, repr=False)
    spec: str = ""

    @property
    def entry(self) -> Law:
        """The law's row of the catalogue."""
        return BY_ID[int(self.props[0])]

    @property
    def nstate(self) -> int:
        return self.entry.nstate

    @property
    def rate_dependent(self) -> bool:
        """True when the phase's response depends on the time increment (``Law.viscosity``
        parameter non-zero): it needs a time along the load path."""
        key = self.entry.viscosity
        return bool(key) and self.params.get(key, 0.0) != 0.0

    @property
    def fields(self) -> dict[str, int]:
        """Named entries of the law's state (output fields), name → index."""
        return self.entry.fields

    def stiffness(self) -> np.ndarray:
        """Elastic Mandel stiffness (6,6)."""
        C = np.empty((6, 6))
        elastic_stiffness(self.props, C)
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


def _violated(p: Param, v: float) -> str | None:
    """The condition of parameter ``p`` that value ``v`` violates (e.g. ``> 0``), or None."""
    if p.check:
        ok, cond = CONSTRAINTS[p.check]
        if not ok(v):
            return cond
    return None


def _positive_definite(props: np.ndarray) -> bool:
    C = np.empty((6, 6))
    return elastic_stiffness(props, C) == 0 and np.linalg.eigvalsh(C).min() > 0.0


def _value(law: Law, p: Param, text: str, spec: str) -> float | list[float]:
    """The parsed and checked value of parameter ``p`` from its spec text."""
    if p.size > 1:
        vals = [_number(p.key, t, spec) for t in text.split(";")]
        if len(vals) != p.size:
            raise PhaseSpecError(f"phase spec {spec!r}: {law.name} needs {p.size} values for {p.key}, "
                                 f"got {len(vals)}")
        return vals
    v = _number(p.key, text, spec)
    cond = _violated(p, v)
    if cond:
        raise PhaseSpecError(f"phase spec {spec!r}: {p.key} must be {cond}")
    return v


def _usage(law: Law) -> str:
    """The law's spec syntax, with its alternative keys if it has some."""
    if law.alternative is None:
        return law.usage
    alt = ",".join(f"{p.key}=.." for p in law.alternative[0])
    return f"{law.usage} or {law.name}:{alt}"


def _alternative(law: Law, kv: dict[str, str], spec: str) -> dict[str, str]:
    """The spec's values of the law's alternative keys (all of them), converted to its params."""
    keys = law.alternative[0]
    missing = [p.key for p in keys if p.key not in kv]
    if missing:
        raise PhaseSpecError(f"phase spec {spec!r}: {law.name} needs {missing} (usage {_usage(law)})")
    vals = {p.key: _value(law, p, kv[p.key], spec) for p in keys}
    return {k: repr(float(v)) for k, v in law.alternative[1](vals).items()}


def parse_phase(spec: str) -> Phase:
    """Parse one phase spec string; raises :class:`PhaseSpecError` with a clear message."""
    names = ", ".join(law.name for law in LAWS)
    if not isinstance(spec, str) or ":" not in spec:
        raise PhaseSpecError(f"phase spec {spec!r}: expected LAW:key=value,... with LAW one of {names}")
    name, body = (s.strip() for s in spec.split(":", 1))
    law = BY_NAME.get(name)
    if law is None:
        raise PhaseSpecError(f"phase spec {spec!r}: unknown law {name!r} ({names})")
    kv = _key_values(body, spec)
    if law.alternative is not None and kv and set(kv) <= {p.key for p in law.alternative[0]}:
        kv = _alternative(law, kv, spec)
    unknown = set(kv) - set(law.keys)
    if unknown:
        raise PhaseSpecError(
            f"phase spec {spec!r}: unknown {name} keys {sorted(unknown)} (usage {_usage(law)})"
        )
    missing = [p.key for p in law.params if p.default is None and p.key not in kv]
    if missing:
        raise PhaseSpecError(f"phase spec {spec!r}: {name} needs {missing} (usage {_usage(law)})")
    for what, keys in law.together:
        if 0 < sum(k in kv for k in keys) < len(keys):
            raise PhaseSpecError(f"phase spec {spec!r}: {what} needs both {' and '.join(keys)}")
    params = {p.key: _value(law, p, kv[p.key], spec) if p.key in kv else p.default for p in law.params}
    flat = [x for p in law.params for x in (params[p.key] if p.size > 1 else [params[p.key]])]
    phase = Phase(name, params, np.array([law.id, *flat], float), spec)
    if not law.finite and not _positive_definite(phase.props):  # finite laws: the checks suffice
        raise PhaseSpecError(f"phase spec {spec!r}: stiffness is not positive definite")
    return phase


def law_of(law_id: float) -> Law | None:
    """The catalogue row of a ``props[0]`` value, or None if it is no law id."""
    v = float(law_id)
    return BY_ID.get(int(v)) if v.is_integer() else None


def props_problem(props: np.ndarray) -> str | None:
    """Why a finite ``props`` vector (law id, then its parameters) breaks its catalogue row —
    no law id, wrong length, a parameter constraint, a stiffness that is not positive definite —
    in one line, or None (the checks of :func:`parse_phase` for props given as numbers)."""
    props = np.asarray(props, dtype=np.float64).ravel()
    law = law_of(props[0])
    if law is None:
        ids = ", ".join(f"{row.id} {row.name}" for row in LAWS)
        return f"{float(props[0]):g} is not a law id ({ids})"
    if props.size != law.nprops:
        return f"{law.name} needs {law.nprops} values (law id included), got {props.size}"
    k = 1
    for p in law.params:
        for v in props[k : k + p.size]:
            cond = _violated(p, float(v))
            if cond:
                return f"{law.name} needs {p.key} {cond} (got {float(v):g})"
        k += p.size
    if not law.finite and not _positive_definite(props):
        return f"{law.name} stiffness is not positive definite"
    return None


def props_table(phases: list[Phase]) -> np.ndarray:
    """(nphases, MAX_NPROPS) float64 table of props, zero padded (numba-friendly), for the
    small-strain kernels; :class:`PhaseSpecError` (one line) for a finite-strain law."""
    table = np.zeros((len(phases), MAX_NPROPS))
    for i, ph in enumerate(phases):
        if ph.entry.finite:
            small = ", ".join(law.name for law in LAWS if not law.finite)
            raise PhaseSpecError(
                f"phase {i}: {ph.law!r} is a finite-strain law (deformation-gradient paths, the "
                f"finite-strain network); small strain runs {small}"
            )
        table[i, : ph.props.size] = ph.props
    return table
