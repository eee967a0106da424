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
        if law is None or law.finite:
            ids = ", ".join(f"{row.id} {row.name}" for row in LAWS if not row.finite)
            why = f"; {law.id} {law.name} is a finite-strain law" if law is not None else ""
            raise DeckError(
                f"PROPS({k + 1}) = {float(props[k]):g} is not a law id ({ids}{why}) for phase {p}"
            )
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


def n_phases(net) -> int:
    """Phases of a :class:`Network` or of an orientation-aware ``ParametricModel``."""
    return net.n_phases if isinstance(net, Network) else net.reference_network().n_phases


def nstatv(net, phases: list[Phase]) -> int:
    """State variables per integration point (``*DEPVAR``) for this model (a :class:`Network` or
    an orientation-aware :class:`~dmn_umat.model_file.ParametricModel`: A₂ in the first
    :data:`A2_SLOTS`, then the network's state) and phase laws."""
    from . import cfuncs

    table = parse_props(props_vector(phases), n_phases(net))
    if not isinstance(net, Network):
        from ..online.parametric import pack_parametric, parametric_state_size

        return A2_SLOTS + int(parametric_state_size(pack_parametric(net), table))
    mi, _ = cfuncs.pack_network(net)
    return int(cfuncs.state_size(np.asarray(mi, dtype=np.int64), table))


def material_block(
    net, phases: list[Phase], name: str = DEFAULT_NAME, flavor: str = "calculix"
) -> str:
    """``*MATERIAL`` / ``*USER MATERIAL, CONSTANTS=n`` / ``*DEPVAR`` block for a deck.

    ``net``: a :class:`Network` or an orientation-aware ``ParametricModel`` (:func:`nstatv`);
    ``phases``: one per model phase, in phase order.  ``flavor="calculix"`` appends the
    temperature column CalculiX reads after the constants (8 values per line, the
    (n+1)-th value is the temperature); ``"abaqus"`` writes exactly n constants.
    """
    if len(phases) != n_phases(net):
        raise DeckError(f"the model has {n_phases(net)} phases but {len(phases)} phase laws were given")
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


#: STATEV slots (0-based) of the orientation tensor A₂ of an orientation-aware (version-2) model:
#: STATEV(1..6) = a11, a22, a33, a23, a13, a12, read by the UMAT on every call, never written.
A2_SLOTS = 6


def a2_initial_conditions(elements, a2, ngp: int = 8, flavor: str = "calculix",
                          nstatv: int | None = None) -> str:
    """``*INITIAL CONDITIONS, TYPE=SOLUTION`` lines that put each element's A₂ into STATEV 1–6.

    ``elements`` (ne,) element numbers of the deck, ``a2`` (ne, 6) components a11, a22, a33,
    a23, a13, a12.  ``flavor="calculix"``: one keyword line per element and integration point
    (``ngp`` points: C3D8 8, C3D8R 1, C3D20R 8, C3D10 4, C3D4 1), data ``element, point, a11..a12``
    — ccx 2.20 stores the six values of the first data line after the keyword and mishandles any
    further line (measured: docs/abi.md), so the keyword is repeated.  ``flavor="abaqus"``: one
    keyword and per element ``element, SDV1..SDV7`` then 8 per continuation line, all ``nstatv``
    values (A₂ then zeros), which Abaqus applies to every integration point of the element."""
    el = np.asarray(elements, np.int64).ravel()
    a = np.asarray(a2, np.float64)
    if a.shape != (el.size, A2_SLOTS) or not np.all(np.isfinite(a)):
        raise DeckError(f"A2 must be finite (n_elements, 6) = ({el.size}, 6), got {a.shape}")
    if flavor == "calculix":
        if ngp < 1:
            raise DeckError(f"ngp must be >= 1, got {ngp}")
        lines = []
        for e, row in zip(el, a):
            vals = ", ".join(_field(v) for v in row)
            for k in range(1, ngp + 1):
                lines += ["*INITIAL CONDITIONS, TYPE=SOLUTION", f"{e}, {k}, {vals}"]
        return "\n".join(lines) + "\n"
    if flavor != "abaqus":
        raise DeckError(f"unknown deck flavor {flavor!r} (calculix, abaqus)")
    if nstatv is None or nstatv < A2_SLOTS:
        raise DeckError(f"the abaqus flavor needs nstatv >= {A2_SLOTS} (all state variables are given)")
    lines = ["*INITIAL CONDITIONS, TYPE=SOLUTION"]
    for e, row in zip(el, a):
        vals = [_field(v) for v in row] + ["0."] * (nstatv - A2_SLOTS)
        lines.append(", ".join([str(e)] + vals[:7]))
        lines += [", ".join(vals[i:i + 8]) for i in range(7, len(vals), 8)]
    return "\n".join(lines) + "\n"


#: the example orientation of :func:`a2_recipe`: fibres mostly along x (a11, a22, a33, a23, a13, a12)
EXAMPLE_A2 = (0.8, 0.15, 0.05, 0.0, 0.0, 0.0)


def a2_recipe(nsv: int, flavor: str = "calculix") -> str:
    """Comment lines (``**``) for a deck of an orientation-aware model: where A₂ goes and the
    ``*INITIAL CONDITIONS`` lines of element 1 with :data:`EXAMPLE_A2` (C3D8: 8 points in
    CalculiX; Abaqus: all ``nsv`` values once per element), to repeat for every element with its
    own A₂ (:func:`a2_initial_conditions` writes them)."""
    lines = [f"** orientation-aware model: STATEV(1..{A2_SLOTS}) = A2 (a11, a22, a33, a23, a13, a12) of "
             "each element and", "** integration point, read by the UMAT on every call and never "
             f"changed; the network's state follows ({nsv} in all).", "** Set them before the first "
             "*STEP; an element without them stops the analysis. Example for element 1:"]
    if flavor == "calculix":
        lines.append("** (CalculiX keeps only the first data line after each keyword: one keyword per "
                     "element and point, C3D8: points 1..8)")
        ic = a2_initial_conditions([1], [EXAMPLE_A2], ngp=8)
    else:
        lines.append("** (Abaqus: element or element set, then all NSTATV values; A2 applies to every "
                     "integration point)")
        ic = a2_initial_conditions([1], [EXAMPLE_A2], flavor="abaqus", nstatv=nsv)
    return "\n".join(lines + ["** " + ln for ln in ic.splitlines()]) + "\n"
