"""Meshes for the FE solver: a single-cell-type container, boundary facets and node sets,
structured generators (tests), gmsh geometries for the FE² examples and any meshio-readable file.

Coordinates are in consistent length units (the examples use mm with MPa, so forces are N;
in 2D (plane strain) the thickness is 1 and forces are per unit thickness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .elements import ELEMENTS, FACET_TYPES, SOLID_TYPES, MeshError

_LOCAL_FACETS = {
    "triangle": [(0, 1), (1, 2), (2, 0)],
    "quad": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "tetra": [(0, 2, 1), (0, 1, 3), (1, 2, 3), (0, 3, 2)],
    "hexahedron": [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)],
}


@dataclass
class Mesh:
    """Nodes ``points`` (nn, dim) and one block of cells ``cells`` (ne, nen) of ``cell_type``.

    ``node_sets`` maps names to node index arrays (filled by the generators, e.g. ``"xmin"``, and
    by :func:`from_meshio` from the file's node sets and physical groups / cell sets);
    ``cell_sets`` maps names to solid cell indices (material regions) and ``facet_sets`` names
    to boundary facets ``(nf, nfn)`` node lists (lower-dimensional physical groups: tractions).
    ``cell_data`` maps names to per-cell arrays ``(ne, ...)`` (the file's numeric cell data of the
    solid cells, e.g. a fibre-orientation field ``"a2"`` (ne, 6)).
    """

    points: np.ndarray
    cells: np.ndarray
    cell_type: str
    node_sets: dict[str, np.ndarray] = field(default_factory=dict)
    cell_sets: dict[str, np.ndarray] = field(default_factory=dict)
    facet_sets: dict[str, np.ndarray] = field(default_factory=dict)
    cell_data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        self.points = np.ascontiguousarray(self.points, dtype=np.float64)
        self.cells = np.ascontiguousarray(self.cells, dtype=np.int64)
        if self.cell_type not in ELEMENTS or self.cell_type == "line":
            raise MeshError(f"unsupported cell type {self.cell_type!r} (triangle, quad, tetra, hexahedron)")
        ref = ELEMENTS[self.cell_type]
        if self.points.ndim != 2 or self.points.shape[1] != ref.dim:
            raise MeshError(f"{self.cell_type} mesh needs {ref.dim}-D points, got shape {self.points.shape}")
        if self.cells.ndim != 2 or self.cells.shape[1] != ref.nen or self.cells.shape[0] == 0:
            raise MeshError(f"{self.cell_type} cells must be (ne, {ref.nen}), got {self.cells.shape}")
        if self.cells.min() < 0 or self.cells.max() >= self.points.shape[0]:
            raise MeshError("cell connectivity refers to missing nodes")

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def n_nodes(self) -> int:
        return self.points.shape[0]

    @property
    def n_cells(self) -> int:
        return self.cells.shape[0]

    @property
    def facet_type(self) -> str:
        return FACET_TYPES[self.cell_type]

    def boundary_facets(self) -> np.ndarray:
        """Facets (nf, nfn) that belong to exactly one cell, outward-ordered node lists."""
        return self.boundary_facets_owned()[0]

    def boundary_facets_owned(self) -> tuple[np.ndarray, np.ndarray]:
        """Boundary facets (nf, nfn) and the index of the cell each belongs to (nf,)."""
        local = _LOCAL_FACETS[self.cell_type]
        facets = np.concatenate([self.cells[:, list(f)] for f in local])
        owner = np.tile(np.arange(self.n_cells), len(local))
        key = np.sort(facets, axis=1)
        _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        keep = counts[inv.ravel()] == 1
        return facets[keep], owner[keep]

    def nodes_where(self, predicate: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Indices of nodes whose coordinates satisfy ``predicate(points) -> bool (nn,)``."""
        return np.flatnonzero(predicate(self.points))

    def facets_on(self, nodes: np.ndarray) -> np.ndarray:
        """Boundary facets whose nodes all lie in ``nodes``."""
        mask = np.zeros(self.n_nodes, bool)
        mask[nodes] = True
        f = self.boundary_facets()
        return f[mask[f].all(axis=1)]

    def add_plane_sets(self, tol: float | None = None) -> None:
        """Add node sets ``xmin, xmax, ymin, ymax[, zmin, zmax]`` of the bounding box planes."""
        lo, hi = self.points.min(0), self.points.max(0)
        tol = 1e-8 * float(np.max(hi - lo)) if tol is None else tol
        for i, ax in enumerate("xyz"[: self.dim]):
            self.node_sets[f"{ax}min"] = np.flatnonzero(np.abs(self.points[:, i] - lo[i]) <= tol)
            self.node_sets[f"{ax}max"] = np.flatnonzero(np.abs(self.points[:, i] - hi[i]) <= tol)


# --------------------------------------------------------------------------- structured meshes
def rectangle(lx: float, ly: float, nx: int, ny: int, cell_type: str = "quad") -> Mesh:
    """Structured [0,lx]×[0,ly] mesh of quads (or triangles, each quad split in 2)."""
    x, y = np.meshgrid(np.linspace(0, lx, nx + 1), np.linspace(0, ly, ny + 1), indexing="ij")
    pts = np.stack([x.ravel(), y.ravel()], 1)
    idx = np.arange(pts.shape[0]).reshape(nx + 1, ny + 1)
    q = np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 4)
    if cell_type == "triangle":
        cells = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
    elif cell_type == "quad":
        cells = q
    else:
        raise MeshError(f"rectangle: cell_type must be quad or triangle, got {cell_type!r}")
    m = Mesh(pts, cells, cell_type)
    m.add_plane_sets()
    return m


_HEX_TO_TETS = np.array([[0, 1, 3, 5], [1, 2, 3, 5], [0, 3, 4, 5], [3, 4, 5, 7], [2, 3, 5, 6], [3, 5, 6, 7]])


def box(lx: float, ly: float, lz: float, nx: int, ny: int, nz: int, cell_type: str = "hexahedron") -> Mesh:
    """Structured box mesh of hexahedra (or tetrahedra, 6 per hexahedron)."""
    g = np.meshgrid(
        np.linspace(0, lx, nx + 1), np.linspace(0, ly, ny + 1), np.linspace(0, lz, nz + 1), indexing="ij"
    )
    pts = np.stack([a.ravel() for a in g], 1)
    i = np.arange(pts.shape[0]).reshape(nx + 1, ny + 1, nz + 1)
    h = np.stack(
        [i[:-1, :-1, :-1], i[1:, :-1, :-1], i[1:, 1:, :-1], i[:-1, 1:, :-1],
         i[:-1, :-1, 1:], i[1:, :-1, 1:], i[1:, 1:, 1:], i[:-1, 1:, 1:]], -1
    ).reshape(-1, 8)
    if cell_type == "tetra":
        cells = h[:, _HEX_TO_TETS].reshape(-1, 4)
        X = pts[cells]
        vol = np.einsum("ei,ei->e", np.cross(X[:, 1] - X[:, 0], X[:, 2] - X[:, 0]), X[:, 3] - X[:, 0])
        cells[vol < 0] = cells[vol < 0][:, [0, 2, 1, 3]]
    elif cell_type == "hexahedron":
        cells = h
    else:
        raise MeshError(f"box: cell_type must be hexahedron or tetra, got {cell_type!r}")
    m = Mesh(pts, cells, cell_type)
    m.add_plane_sets()
    return m


# --------------------------------------------------------------------------- files and gmsh
def read_mesh(path: str | Path, dim: int | None = None) -> Mesh:
    """Read any meshio-readable file; keeps the solid cells of the highest dimension present
    (one cell type), drops unused nodes' z coordinate in 2D (if all z are equal)."""
    import meshio

    path = Path(path)
    if not path.is_file():
        raise MeshError(f"mesh file {str(path)!r} not found")
    try:
        m = meshio.read(path)
    except Exception as exc:  # noqa: BLE001 - unreadable files are user errors
        raise MeshError(f"cannot read mesh {str(path)!r}: {exc}") from None
    return from_meshio(m, dim)


_GMSH_HINT = (" (gmsh saves only the elements of physical groups once any exists: give the solid a "
              "physical group too, or set Mesh.SaveAll = 1)")


def from_meshio(m, dim: int | None = None) -> Mesh:
    """Convert a ``meshio.Mesh`` to :class:`Mesh`: the solid cells of the highest dimension (all
    blocks of that type, in file order), the file's named sets (:func:`_named_sets`) and the
    bounding-box node sets ``xmin``… (a named set of the same name wins)."""
    types_present = {b.type for b in m.cells}
    for d in (3, 2) if dim is None else (dim,):
        types = [t for t in SOLID_TYPES[d] if t in types_present]
        if types:
            if len(types) > 1:
                raise MeshError(f"mesh mixes {types}; one solid cell type per mesh is supported")
            t = types[0]
            pts = np.asarray(m.points, float)
            if d == 2:
                if pts.shape[1] == 3 and np.ptp(pts[:, 2]) > 1e-12 * max(np.ptp(pts), 1.0):
                    raise MeshError("2-D cells on a non-planar point set (z varies): a surface mesh without "
                                    f"its volume cells?{_GMSH_HINT}")
                pts = pts[:, :2]
            cells = np.concatenate([np.asarray(b.data, np.int64) for b in m.cells if b.type == t])
            used = np.unique(cells)
            remap = -np.ones(pts.shape[0], np.int64)
            remap[used] = np.arange(used.size)
            mesh = Mesh(pts[used], remap[cells], t)
            _fix_orientation(mesh)
            mesh.add_plane_sets()
            _named_sets(mesh, m, remap)
            _cell_data(mesh, m)
            return mesh
    found = sorted(types_present) or ["none"]
    raise MeshError("mesh has no supported cells (triangle, quad, tetra, hexahedron); "
                    f"found {', '.join(found)}{_GMSH_HINT if found != ['none'] else ''}")


def _named_sets(mesh: Mesh, m, remap: np.ndarray) -> None:
    """Node, cell and facet sets of a ``meshio.Mesh`` (gmsh physical groups, Abaqus ``*Elset`` /
    ``*Nset``, …) on ``mesh`` (``remap``: file node → mesh node, −1 for nodes of no solid cell).

    A set of solid cells gives ``cell_sets[name]`` (indices into ``mesh.cells``) and a set of
    facet cells (lines in 2-D, triangles/quads in 3-D) ``facet_sets[name]``; every set gives
    ``node_sets[name]``.  Names starting with ``gmsh:`` (meshio bookkeeping) are skipped."""
    facet = FACET_TYPES[mesh.cell_type]
    start, offset = {}, 0  # first solid-cell index of each solid block
    for k, b in enumerate(m.cells):
        if b.type == mesh.cell_type:
            start[k], offset = offset, offset + len(b.data)
    for name, per_block in (m.cell_sets or {}).items():
        if name.startswith("gmsh:"):
            continue
        nodes, cells, facets = [], [], []
        for k, (block, idx) in enumerate(zip(m.cells, per_block)):
            idx = np.asarray(idx if idx is not None else [], np.int64)
            if idx.size == 0:
                continue
            conn = np.asarray(block.data, np.int64)[idx]
            nodes.append(conn.ravel())
            if k in start:
                cells.append(start[k] + idx)
            elif block.type == facet:
                facets.append(conn)
        if not nodes:
            continue
        n = remap[np.unique(np.concatenate(nodes))]
        mesh.node_sets[name] = n[n >= 0]
        if cells:
            mesh.cell_sets[name] = np.unique(np.concatenate(cells))
        if facets:
            f = remap[np.concatenate(facets)]
            mesh.facet_sets[name] = f[(f >= 0).all(axis=1)]
    for name, idx in (m.point_sets or {}).items():
        n = remap[np.asarray(idx, np.int64)]
        mesh.node_sets[name] = np.unique(n[n >= 0])


def _cell_data(mesh: Mesh, m) -> None:
    """The numeric cell data of the solid blocks of a ``meshio.Mesh`` (in the order of
    ``mesh.cells``) as ``mesh.cell_data[name]`` (ne, ...); ``gmsh:`` bookkeeping is skipped."""
    for name, per_block in (m.cell_data or {}).items():
        if name.startswith("gmsh:"):
            continue
        parts = [np.asarray(d) for b, d in zip(m.cells, per_block) if b.type == mesh.cell_type]
        if not parts or any(p.dtype.kind not in "iuf" for p in parts):
            continue
        try:
            mesh.cell_data[name] = np.concatenate(parts).astype(np.float64)
        except ValueError:  # blocks with differing component counts: not a usable field
            continue


def _fix_orientation(mesh: Mesh) -> None:
    """Flip elements with negative Jacobian at their centre (2D clockwise / mirrored 3D cells)."""
    ref = ELEMENTS[mesh.cell_type]
    centre = {"triangle": [1 / 3, 1 / 3], "quad": [0, 0], "tetra": [0.25] * 3, "hexahedron": [0, 0, 0]}
    dN = ref.dshape(np.array([centre[mesh.cell_type]], float))[0]
    J = np.einsum("eai,aj->eij", mesh.points[mesh.cells], dN)
    neg = np.linalg.det(J) < 0
    if neg.any():
        flip = {"triangle": [0, 2, 1], "quad": [0, 3, 2, 1], "tetra": [0, 2, 1, 3],
                "hexahedron": [0, 3, 2, 1, 4, 7, 6, 5]}[mesh.cell_type]
        mesh.cells[neg] = mesh.cells[neg][:, flip]


def _gmsh_mesh(dim: int) -> Mesh:
    import gmsh

    ntags, coords, _ = gmsh.model.mesh.getNodes()
    pts = coords.reshape(-1, 3)
    order = np.argsort(ntags)
    tag_to_idx = np.empty(int(ntags.max()) + 1, np.int64)
    tag_to_idx[ntags[order]] = np.arange(ntags.size)
    pts = pts[order]
    types, _, enodes = gmsh.model.mesh.getElements(dim)
    name = {2: "triangle", 3: "quad", 4: "tetra", 5: "hexahedron"}
    blocks = [(name[t], tag_to_idx[np.asarray(n, np.int64)]) for t, n in zip(types, enodes) if t in name]
    if len(blocks) != 1:
        raise MeshError(f"gmsh produced {[b[0] for b in blocks]}; expected one solid cell type")
    t, flat = blocks[0]
    cells = flat.reshape(-1, ELEMENTS[t].nen)
    used = np.unique(cells)
    remap = -np.ones(pts.shape[0], np.int64)
    remap[used] = np.arange(used.size)
    mesh = Mesh(pts[used, :dim], remap[cells], t)
    _fix_orientation(mesh)
    mesh.add_plane_sets()
    return mesh


class _Gmsh:
    def __enter__(self):
        import gmsh

        gmsh.initialize(readConfigFiles=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("dmn_fe")
        return gmsh

    def __exit__(self, *exc):
        import gmsh

        gmsh.finalize()
        return False


def _refine_near_arc(gmsh, centre, radius: float, tol: float, h_min: float, h_max: float,
                     dist_max: float) -> None:
    """Background size field: ``h_min`` on the curves whose centre of mass lies within
    ``tol·radius`` of the circle (``centre``, ``radius``), growing to ``h_max`` at ``dist_max``."""
    f = gmsh.model.mesh.field
    arc = [c[1] for c in gmsh.model.getEntities(1)
           if abs(np.hypot(*(np.array(gmsh.model.occ.getCenterOfMass(1, c[1])[:2]) - centre)) - radius)
           < tol * radius]
    dist = f.add("Distance")
    f.setNumbers(dist, "CurvesList", arc)
    f.setNumber(dist, "Sampling", 100)
    th = f.add("Threshold")
    f.setNumber(th, "InField", dist)
    f.setNumber(th, "SizeMin", h_min)
    f.setNumber(th, "SizeMax", h_max)
    f.setNumber(th, "DistMin", 0.0)
    f.setNumber(th, "DistMax", dist_max)
    f.setAsBackgroundMesh(th)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)


def plate_with_hole(width: float, height: float, radius: float, h_hole: float, h_far: float,
                    quads: bool = True, save: str | Path | None = None) -> Mesh:
    """Quarter of a plate with a central circular hole: [0,width]×[0,height] minus the disk of
    ``radius`` at the origin (symmetry planes x=0, y=0).  Element size grows from ``h_hole`` at
    the hole to ``h_far``.  Node sets: ``xmin`` (x=0 ligament), ``ymin``, ``xmax`` (loaded edge),
    ``ymax``, ``hole``; ``hole_top`` is the node at (0, radius) where σxx peaks in x-tension.
    ``save``: also write the gmsh file (``.msh``) with physical groups ``ligament`` (x = 0),
    ``symmetry`` (y = 0), ``end`` (x = width), ``top``, ``hole`` and ``plate`` (the solid) — a
    starting point for ``dmn fe2 run``."""
    if not 0 < radius < min(width, height):
        raise MeshError("plate_with_hole: need 0 < radius < min(width, height)")
    with _Gmsh() as gmsh:
        occ = gmsh.model.occ
        rect = occ.addRectangle(0, 0, 0, width, height)
        disk = occ.addDisk(0, 0, 0, radius, radius)
        occ.cut([(2, rect)], [(2, disk)])
        occ.synchronize()
        _refine_near_arc(gmsh, (0.0, 0.0), radius, 0.3, h_hole, h_far, 3.0 * radius + 4 * h_far)
        if quads:
            gmsh.option.setNumber("Mesh.RecombineAll", 1)
            gmsh.option.setNumber("Mesh.Algorithm", 8)
            gmsh.option.setNumber("Mesh.RecombinationAlgorithm", 1)
        gmsh.model.mesh.generate(2)
        mesh = _gmsh_mesh(2)
        if save is not None:
            for _, c in gmsh.model.getEntities(1):
                x, y, _ = gmsh.model.occ.getCenterOfMass(1, c)
                name = ("ligament" if abs(x) < 1e-9 * width else "symmetry" if abs(y) < 1e-9 * height
                        else "end" if abs(x - width) < 1e-9 * width else "top"
                        if abs(y - height) < 1e-9 * height else "hole")
                gmsh.model.addPhysicalGroup(1, [c], name=name)
            gmsh.model.addPhysicalGroup(2, [s[1] for s in gmsh.model.getEntities(2)], name="plate")
            gmsh.write(str(save))
    r = np.hypot(mesh.points[:, 0], mesh.points[:, 1])
    mesh.node_sets["hole"] = np.flatnonzero(np.abs(r - radius) < 1e-6 * radius)
    mesh.node_sets["hole_top"] = np.flatnonzero(
        (np.abs(mesh.points[:, 0]) < 1e-9 * width) & (np.abs(mesh.points[:, 1] - radius) < 1e-6 * radius)
    )
    return mesh


def notched_bar(length: float, width: float, thickness: float, notch_radius: float, h_notch: float,
                h_far: float, n_layers: int) -> Mesh:
    """One eighth of a double-edge notched bar, hexahedra (quads extruded through the thickness).

    Bar axis x.  Domain [0,length]×[0,width]×[0,thickness] minus a cylinder (axis z) of
    ``notch_radius`` centred at (0, width): a semicircular side notch at mid-length.  Symmetry
    planes x=0 (net section), y=0, z=0; the loaded end is x=length.  Net section area of the
    eighth model: (width − notch_radius) × thickness.
    """
    if not 0 < notch_radius < width:
        raise MeshError("notched_bar: need 0 < notch_radius < width")
    with _Gmsh() as gmsh:
        occ = gmsh.model.occ
        rect = occ.addRectangle(0, 0, 0, length, width)
        disk = occ.addDisk(0, width, 0, notch_radius, notch_radius)
        occ.cut([(2, rect)], [(2, disk)])
        occ.synchronize()
        dist_max = 2.0 * notch_radius + 3 * h_far
        _refine_near_arc(gmsh, (0.0, width), notch_radius, 0.4, h_notch, h_far, dist_max)
        gmsh.option.setNumber("Mesh.RecombineAll", 1)
        gmsh.option.setNumber("Mesh.Algorithm", 8)
        surfaces = gmsh.model.getEntities(2)
        occ.extrude(surfaces, 0, 0, thickness, numElements=[n_layers], recombine=True)
        occ.synchronize()
        gmsh.model.mesh.generate(3)
        mesh = _gmsh_mesh(3)
    return mesh
