"""A short-fibre part with a fibre-orientation field (issue 13, docs/fibres.md §4).

- :func:`skin_core_a2`: the skin–core layer structure of an injection-moulded plate, A₂ per
  point as a function of the through-thickness coordinate;
- :func:`fibre_plate`: a hexahedral plate whose cells carry that field as cell data ``"a2"``
  (written to a mesh file by :func:`write_mesh`, read back by :func:`dmn_umat.fe.mesh.read_mesh`);
- :func:`a2_field`: the checked (ne, 6) field of a mesh;
- :func:`calculix_deck`: the same mesh, field, boundary conditions and load factors as a
  CalculiX deck through the UMAT (A₂ per element and integration point in STATEV 1–6,
  docs/abi.md *Orientation field*).

A₂ components are in the order of :mod:`dmn_umat.rve.orientation`: (a11, a22, a33, a23, a13, a12).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .elements import MeshError
from .mesh import Mesh, box

#: eigenvalues of the flow-aligned skin and of the transverse core (the same orientation
#: strength, principal direction x in the skin, y in the core; λ3 along the thickness z)
SKIN_CORE_EIGENVALUES = (0.8, 0.15, 0.05)
#: name of the orientation field in a mesh file's cell data
A2_FIELD = "a2"


def _voigt(a: np.ndarray) -> np.ndarray:
    """(n, 3, 3) → (n, 6) in the order a11, a22, a33, a23, a13, a12."""
    return np.stack([a[:, 0, 0], a[:, 1, 1], a[:, 2, 2], a[:, 1, 2], a[:, 0, 2], a[:, 0, 1]], 1)


def skin_core_a2(zeta: np.ndarray, eigenvalues: Sequence[float] = SKIN_CORE_EIGENVALUES,
                 core: float = 0.3, skin: float = 0.7) -> np.ndarray:
    """A₂ (n, 6) at the normalised thickness coordinates ``zeta`` (n,) ∈ [−1, 1] (0 = mid-plane).

    Skin (|ζ| ≥ ``skin``): fibres along the flow direction x, A₂ = diag(λ1, λ2, λ3); core
    (|ζ| ≤ ``core``): across the flow, A₂ = diag(λ2, λ1, λ3); in between the convex blend
    A₂ = (1 − w) A_skin + w A_core with a smooth (C¹) cosine weight w — a valid orientation tensor
    everywhere (symmetric, trace 1, positive semidefinite), planar isotropic in x–y at w = ½."""
    zeta = np.abs(np.asarray(zeta, np.float64))
    lam = np.asarray(eigenvalues, np.float64)
    if lam.shape != (3,) or np.any(lam < 0) or abs(lam.sum() - 1.0) > 1e-12:
        raise MeshError(f"skin_core_a2: eigenvalues must be 3 values >= 0 of sum 1, got {eigenvalues}")
    if not 0.0 <= core < skin <= 1.0:
        raise MeshError(f"skin_core_a2: need 0 <= core < skin <= 1, got core={core}, skin={skin}")
    t = np.clip((zeta - core) / (skin - core), 0.0, 1.0)
    w = 0.5 * (1.0 + np.cos(np.pi * t))  # 1 in the core, 0 in the skin
    a_skin, a_core = np.diag(lam), np.diag(lam[[1, 0, 2]])
    a = (1.0 - w)[:, None, None] * a_skin + w[:, None, None] * a_core
    return _voigt(a)


def fibre_plate(lx: float = 20.0, ly: float = 4.0, lz: float = 2.0, nx: int = 6, ny: int = 1, nz: int = 6,
                **skin_core) -> Mesh:
    """Plate [0,lx]×[0,ly]×[0,lz] (mm; flow along x, thickness z) of nx·ny·nz hexahedra with the
    skin–core field of :func:`skin_core_a2` at each cell's centre as ``cell_data["a2"]`` (ne, 6)."""
    mesh = box(lx, ly, lz, nx, ny, nz, "hexahedron")
    zc = mesh.points[mesh.cells, 2].mean(1)
    mesh.cell_data[A2_FIELD] = skin_core_a2(2.0 * zc / lz - 1.0, **skin_core)
    return mesh


def write_mesh(path: str | Path, mesh: Mesh) -> Path:
    """Write ``mesh`` with its cell data (e.g. ``"a2"``) to any meshio format (``.vtu``, ``.xdmf``…)."""
    import meshio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meshio.write(path, meshio.Mesh(mesh.points, [(mesh.cell_type, mesh.cells)],
                                   cell_data={k: [np.asarray(v)] for k, v in mesh.cell_data.items()}))
    return path


def a2_field(mesh: Mesh, name: str = A2_FIELD) -> np.ndarray:
    """The orientation field ``mesh.cell_data[name]`` checked → (ne, 6) float64 A₂ per cell.

    Each cell's A₂ must be symmetric positive semidefinite with trace 1 (the rules of
    :func:`dmn_umat.rve.orientation.parse_a2`); a missing field, a wrong shape or a bad cell is a
    one-line :class:`~dmn_umat.fe.elements.MeshError` naming the first offending cell."""
    from ..rve.micro import MicroError
    from ..rve.orientation import parse_a2, voigt

    if name not in mesh.cell_data:
        have = ", ".join(sorted(mesh.cell_data)) or "none"
        raise MeshError(f"the mesh has no cell data {name!r} (an orientation field A2, (n_cells, 6)); "
                        f"its cell data: {have}")
    a = np.asarray(mesh.cell_data[name], np.float64)
    if a.ndim == 3 and a.shape[1:] == (3, 3):
        a = _voigt(a)
    if a.shape != (mesh.n_cells, 6):
        raise MeshError(f"cell data {name!r} must be (n_cells, 6) = ({mesh.n_cells}, 6) A2 components "
                        f"a11,a22,a33,a23,a13,a12 (or (n_cells, 3, 3)), got {a.shape}")
    out = np.empty_like(a)
    for e in range(a.shape[0]):
        try:
            out[e] = voigt(parse_a2(a[e]))
        except MicroError as exc:
            raise MeshError(f"cell data {name!r}, cell {e} (0-based): {exc}") from None
    return out


def calculix_deck(mesh: Mesh, a2: np.ndarray | None, material_block: str,
                  fix: Sequence[tuple[str, Sequence[int]]], displace: tuple[str, int, float],
                  factors: Sequence[float], heading: str = "dmn_umat part", ngp: int = 8) -> str:
    """A CalculiX deck of a hexahedral ``mesh`` (C3D8) through the UMAT with a per-element A₂.

    ``material_block``: the ``*MATERIAL`` … ``*DEPVAR`` block (:func:`dmn_umat.abi.deck.material_block`,
    its name the deck's material); ``a2`` (ne, 6): one A₂ per cell, written as one
    ``*INITIAL CONDITIONS, TYPE=SOLUTION`` line per element and integration point
    (:func:`dmn_umat.abi.deck.a2_initial_conditions`; None: no orientation field); ``fix``:
    (node set, components 0–2) clamped; ``displace``: (node set, component, value at load
    factor 1); ``factors``: the load factors of the increments — one ``*STEP`` per run of equal
    increments, ``*STATIC, DIRECT`` with those increments, tight equilibrium tolerances
    (``*CONTROLS``) so that the converged increments equal those of the bundled solver.  Prints
    the reaction force and displacement of the loaded set (``*NODE PRINT``, TOTALS=ONLY) and
    stresses, strains and STATEV."""
    from ..abi.deck import a2_initial_conditions

    if mesh.cell_type != "hexahedron":
        raise MeshError(f"calculix_deck: hexahedral meshes only (C3D8), got {mesh.cell_type}")
    name = material_block.split("NAME=", 1)[1].splitlines()[0].strip()
    out = [f"*HEADING\n{heading}", "*NODE"]
    out += [f"{i + 1}, {float(x)!r}, {float(y)!r}, {float(z)!r}" for i, (x, y, z) in enumerate(mesh.points)]
    out.append("*ELEMENT, TYPE=C3D8, ELSET=EALL")
    out += [f"{e + 1}, " + ", ".join(str(n + 1) for n in c) for e, c in enumerate(mesh.cells)]
    sets = {s for s, _ in fix} | {displace[0]}
    for s in sorted(sets):
        ids = np.sort(mesh.node_sets[s]) + 1
        out.append(f"*NSET, NSET=N{s.upper()}")
        out += [", ".join(map(str, ids[i:i + 8])) for i in range(0, ids.size, 8)]
    out.append(material_block.rstrip())
    out.append(f"*SOLID SECTION, ELSET=EALL, MATERIAL={name}")
    if a2 is not None:
        out.append(a2_initial_conditions(np.arange(1, mesh.n_cells + 1), a2, ngp).rstrip())
    out.append("*BOUNDARY")
    for s, comps in fix:
        out += [f"N{s.upper()}, {c + 1}, {c + 1}, 0." for c in comps]
    group, comp, value = displace
    prev, k = 0.0, 0
    factors = [float(f) for f in factors]
    while k < len(factors):  # monotone runs of equal increments → one *STEP each
        d = factors[k] - prev
        j = k
        while j + 1 < len(factors) and abs((factors[j + 1] - factors[j]) - d) <= 1e-12 * max(abs(d), 1.0):
            j += 1
        n = j - k + 1
        out += ["*STEP, INC=1000", "*STATIC, DIRECT", f"{1.0 / n!r}, 1.0",
                "*CONTROLS, PARAMETERS=FIELD", "1e-9, 1e-9, 0., 0., 1e-9, 1e-5, 1e-3, 1e-8",
                "*BOUNDARY", f"N{group.upper()}, {comp + 1}, {comp + 1}, {factors[j] * value!r}",
                "*NODE PRINT, NSET=N" + group.upper() + ", TOTALS=ONLY", "RF",
                "*NODE PRINT, NSET=N" + group.upper(), "U",
                "*EL PRINT, ELSET=EALL", "S, E, SDV", "*END STEP"]
        prev, k = factors[j], j + 1
    return "\n".join(out) + "\n"
