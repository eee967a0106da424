"""Abaqus/CalculiX material blocks for ``libdmn_umat`` and the PROPS layout (``docs/abi.md``).

PROPS = the phases' ``props`` vectors concatenated in phase order (phase 0 first): per phase
the law id, then its parameters (layouts: :mod:`dmn_umat.laws`).

The number of phases is the model's; NSTATV is the kernel's state size for these laws.
"""

from __future__ import annotations

import numpy as np

from ..laws import LAWS, Phase
from ..laws.catalogue import MAX_NPROPS
from ..laws.spec import law_of, props_problem
from ..network import Network

#: default CalculiX material name: library libDMN.so, model from $DMN_UMAT_MODEL
DEFAULT_NAME = "@ABAQUS_DMN"


class DeckError(ValueError):
    """PROPS or a material block that cannot be used (message is user-facing)."""


def props_vector(phases: list[Phase]) -> np.ndarray:
    """Flat PROPS vector of the given phases (per phase: law id, parameters)."""
    return np.concatenate([np.asarray(p.props, dtype=np.float64) for p in phases])


def parse_props(props: np.ndarray, nphase: int) -> np.ndarray:
    """Inverse of :func:`props_vector` with checks → (nphase, MAX_NPROPS) props table."""
    props = np.asarray(props, dtype=np.float64).ravel()
    table = np.zeros((nphase, MAX_NPROPS))
    k = 0
    for p in range(nphase):
        if k >= props.size:
            raise DeckError(f"PROPS has {props.size} values but the model has {nphase} phases "
                            f"(phase {p} missing; layout: per phase law id then parameters)")
        law = law_of(props[k])
        if law is None:
            ids = ", ".join(f"{row.id} {row.name}" for row in LAWS)
            raise DeckError(f"PROPS({k + 1}) = {float(props[k]):g} is not a law id ({ids}) for phase {p}")
        n = law.nprops
        if k + n > props.size:
            raise DeckError(
                f"PROPS too short: phase {p} (law {law.id}) needs {n} values from PROPS({k + 1})"
            )
        vals = props[k:k + n]
        if not np.all(np.isfinite(vals)):
            raise DeckError(f"PROPS of phase {p} are not finite")
        problem = props_problem(vals)
        if problem:
            raise DeckError(f"phase {p}: {problem}")
        table[p, :n] = vals
        k += n
    if k != props.size:
        raise DeckError(f"PROPS has {props.size} values, the {nphase} phase laws use {k}")
    return table


def _field(x: float) -> str:
    """Shortest text of x that fits CalculiX's 20-character fields (round-trip if possible)."""
    s = repr(float(x))
    if len(s) <= 20:
        return s
    for prec in range(16, 5, -1):
        s = f"{x:.{prec}e}"
        if len(s) <= 20:
            return s
    raise DeckError(f"cannot write {x!r} in 20 characters")  # pragma: no cover


def nstatv(net: Network, phases: list[Phase]) -> int:
    """State variables per integration point (``*DEPVAR``) for this model and phase laws."""
    from . import cfuncs

    table = parse_props(props_vector(phases), net.n_phases)
    mi, _ = cfuncs.pack_network(net)
    return int(cfuncs.state_size(np.asarray(mi, dtype=np.int64), table))


def material_block(
    net: Network, phases: list[Phase], name: str = DEFAULT_NAME, flavor: str = "calculix"
) -> str:
    """``*MATERIAL`` / ``*USER MATERIAL, CONSTANTS=n`` / ``*DEPVAR`` block for a deck.

    ``phases``: one per model phase, in phase order.  ``flavor="calculix"`` appends the
    temperature column CalculiX reads after the constants (8 values per line, the
    (n+1)-th value is the temperature); ``"abaqus"`` writes exactly n constants.
    """
    if len(phases) != net.n_phases:
        raise DeckError(f"the model has {net.n_phases} phases but {len(phases)} phase laws were given")
    if flavor not in ("calculix", "abaqus"):
        raise DeckError(f"unknown deck flavor {flavor!r} (calculix, abaqus)")
    if not name or "," in name or len(name) > 80:
        raise DeckError(f"material name {name!r} must be 1-80 characters without commas")
    props = props_vector(phases)
    nsv = nstatv(net, phases)
    values = [_field(v) for v in props]
    if flavor == "calculix":
        values.append("0.")  # temperature of this constants set
    lines = [f"*MATERIAL, NAME={name}", f"*USER MATERIAL, CONSTANTS={props.size}"]
    for i in range(0, len(values), 8):
        lines.append(", ".join(values[i:i + 8]))
    lines += ["*DEPVAR", str(max(nsv, 1))]
    return "\n".join(lines) + "\n"
