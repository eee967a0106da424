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

from ..fileio import atomic_write_text
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
    the element stresses."""
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
                "*EL PRINT, ELSET=EALL", "S", "*END STEP"]
        prev, k = factors[j], j + 1
    return "\n".join(out) + "\n"


#: mesh divisions (nx, ny, nz) of the example plate per size
PLATE_SIZES = {"tiny": (6, 1, 6), "coarse": (16, 3, 8), "fine": (32, 6, 12)}
#: the example's supports: rollers on x = 0, y = 0, z = 0 (node set, component)
PLATE_FIX = (("xmin", (0,)), ("ymin", (1,)), ("zmin", (2,)))
#: the material name of the example deck: library libDMN.so, model $DMN_UMAT_MODEL_PLATE
PLATE_MATERIAL = "@ABAQUS_DMN@PLATE"


def plate_factors(n_steps: int) -> np.ndarray:
    """Load factors of the example: ``n_steps`` equal increments to 1, then two of −¼ (unloading)."""
    return np.r_[np.linspace(0.0, 1.0, n_steps + 1)[1:], 0.75, 0.5]


def fibre_plate_example(
    material,
    size: str = "coarse",
    out: Path | None = None,
    progress: bool = False,
    strain: float = 0.02,
    n_steps: int | None = None,
    linear_solver: str = "direct",
    png_at: Sequence[int | str] | str | None = ("last",),
) -> dict:
    """``dmn fe2 fibre-plate``: an injection-moulded plate 20×4×2 mm (flow x, thickness z) with
    the skin–core orientation field (:func:`fibre_plate`) pulled along x to ``strain`` and partly
    unloaded; plain C3D8-like hexahedra (no B-bar, as CalculiX's C3D8).  ``material``: an
    orientation-aware model (``orientation_aware``), evaluated at each point's A₂.

    Checks: equilibrium; the flow-aligned skin carries more axial stress than the transverse core
    in the first (elastic) increment.  With ``out``: besides the XDMF (with the ``a2`` field), the
    PNGs and the summary, the mesh with its field (``fibre-plate.vtu``, for ``dmn fe2 run``) and
    the same job as a CalculiX deck through the UMAT (``fibre-plate.inp``; run it with
    ``DMN_UMAT_MODEL_PLATE=<model> dmn abi ccx -i fibre-plate``)."""
    from ..abi.deck import material_block
    from .elements import ELEMENTS
    from .examples import ExampleError, _equilibrium, _size, finish_summary, run_schedule
    from .regions import OrientedMaterial
    from .solver import Dirichlet, Problem

    if not getattr(material, "orientation_aware", False):
        raise ExampleError("fibre-plate needs an orientation-aware (version-2) model, e.g. --model "
                           "fibres32_pimn_d7 with a matrix and a fibre --phase")
    lx = 20.0
    mesh = fibre_plate(lx, 4.0, 2.0, *PLATE_SIZES[_size(size)])
    a2 = a2_field(mesh)
    ngp = ELEMENTS[mesh.cell_type].ngp
    oriented = OrientedMaterial(material, np.repeat(a2, ngp, axis=0))
    delta = strain * lx
    bcs = [Dirichlet(mesh.node_sets[s], c) for s, comps in PLATE_FIX for c in comps]
    bcs.append(Dirichlet(mesh.node_sets["xmax"], 0, delta))
    lams = plate_factors(n_steps or {"tiny": 6, "coarse": 10, "fine": 16}[size])
    name = "fibre-plate"
    res, summary = run_schedule(name, Problem(mesh, oriented, bcs, bbar=False), lams, out, progress,
                                oriented.label, png_at, linear_solver=linear_solver)
    P = res.reaction_sum(mesh.node_sets["xmax"], 0)
    P0 = res.reaction_sum(mesh.node_sets["xmin"], 0)
    zc = np.repeat(mesh.points[mesh.cells, 2].mean(1), ngp)
    s1 = res.increments[0].stress[:, 0]
    skin, core = s1[np.abs(zc - 1.0) >= 0.7].mean(), s1[np.abs(zc - 1.0) <= 0.3].mean()
    summary["checks"] = {
        "equilibrium": _equilibrium(P, P0, "|R(x=20) + R(x=0)| / |R|"),
        "skin_core": {"value": float(skin / core), "reference": 1.0, "ratio": float(skin / core),
                      "ok": bool(skin > core), "note": "elastic σxx skin (fibres along x) / core (across)"},
    }
    if out is not None:
        out = Path(out)
        write_mesh(out / f"{name}.vtu", mesh)
        block = material_block(material.model, material.phases, name=PLATE_MATERIAL)
        deck = calculix_deck(mesh, a2, block, PLATE_FIX, ("xmax", 0, delta), lams,
                             heading=f"dmn_umat {name}: the skin-core plate through the UMAT")
        atomic_write_text(out / f"{name}.inp", deck)
    out_summary = finish_summary(summary, out, res.lam * delta, P, "end displacement u_x [mm]",
                                 "reaction on x = 20 [N]", {})
    if out is not None:
        out_summary["files"] += [str(out / f"{name}.vtu"), str(out / f"{name}.inp")]
    return out_summary
