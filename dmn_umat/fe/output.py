"""Results for ParaView: an XDMF (+HDF5) time series, one time step per converged increment, and
a load–displacement PNG.

Field pictures (:func:`plot_fields`): contour PNGs of cell fields (von Mises stress, equivalent
plastic strain) on the deformed mesh — filled cells in 2-D, the coloured outer surface in 3-D.

Point data: ``displacement`` (3 components, z = 0 in 2D), nodal-averaged ``stress``/``strain``
(XDMF ``Tensor6``: tensor components in ParaView's order xx, xy, xz, yy, yz, zz — no √2) and
``von_mises``.  Cell data: the
element means of the same plus the material ``fields`` (e.g. ``peeq``).  Files appear
atomically: written under temporary names, renamed on :meth:`XdmfSeries.close`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ..fileio import atomic_save, atomic_write_text
from ..tensors import mandel_to_tensor_components
from .assembly import Assembler
from .solver import Increment

#: Mandel/our order (11, 22, 33, 23, 13, 12) → XDMF Tensor6 order (11, 12, 13, 22, 23, 33).
TENSOR6_ORDER = [0, 5, 4, 1, 3, 2]

_XDMF_TOPO = {
    "triangle": "Triangle",
    "quad": "Quadrilateral",
    "tetra": "Tetrahedron",
    "hexahedron": "Hexahedron",
}


def von_mises(stress: np.ndarray) -> np.ndarray:
    """Von Mises equivalent of Mandel stresses (n, 6) → (n,)."""
    tr = stress[:, :3].sum(1) / 3.0
    dev = stress.copy()
    dev[:, :3] -= tr[:, None]
    return np.sqrt(1.5 * np.einsum("ij,ij->i", dev, dev))


def increment_fields(A: Assembler, inc: Increment, material) -> tuple[dict, dict]:
    """(point_data, cell_data) dictionaries of one increment (see module doc)."""
    u = inc.u.reshape(-1, A.dim)
    disp = np.zeros((u.shape[0], 3))
    disp[:, : A.dim] = u
    gp = {
        "stress": mandel_to_tensor_components(inc.stress)[:, TENSOR6_ORDER],
        "strain": mandel_to_tensor_components(inc.strain)[:, TENSOR6_ORDER],
        "von_mises": von_mises(inc.stress)[:, None],
    }
    for name, v in material.fields(inc.state).items():
        gp[name] = np.asarray(v, float).reshape(A.npts, -1)
    point = {"displacement": disp}
    cell = {}
    for name, v in gp.items():
        c = A.cell_average(v)
        cell[name] = c[:, 0] if c.shape[1] == 1 else c
        if name in ("stress", "strain", "von_mises"):
            p = A.nodal_average(v)
            point[name] = p[:, 0] if p.shape[1] == 1 else p
    return point, cell


class XdmfSeries:
    """Write ``DIR/NAME.xdmf`` + ``DIR/NAME.h5``: mesh once, then :meth:`write` per increment."""

    def __init__(self, path: str | Path, A: Assembler):
        import h5py

        self.path = Path(path).with_suffix(".xdmf")
        self.h5_path = self.path.with_suffix(".h5")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".h5.tmp", dir=self.path.parent)
        os.close(fd)
        os.chmod(tmp, 0o644)
        self._tmp_h5 = Path(tmp)
        self.h5 = h5py.File(self._tmp_h5, "w")
        pts = np.zeros((A.mesh.n_nodes, 3))
        pts[:, : A.dim] = A.mesh.points
        self.h5["geometry"] = pts
        self.h5["topology"] = A.mesh.cells
        self.A = A
        self.cell_type = A.mesh.cell_type
        self.steps: list[str] = []

    def _attr(self, name: str, key: str, data: np.ndarray, center: str) -> str:
        self.h5[key] = data
        kind = {1: "Scalar", 3: "Vector", 6: "Tensor6"}.get(1 if data.ndim == 1 else data.shape[1], "Matrix")
        dims = " ".join(str(s) for s in data.shape)
        return (
            f'<Attribute Name="{escape(name)}" AttributeType="{kind}" Center="{center}">'
            f'<DataItem Dimensions="{dims}" NumberType="Float" Precision="8" Format="HDF">'
            f"{self.h5_path.name}:/{key}</DataItem></Attribute>"
        )

    def write(self, t: float, point_data: dict, cell_data: dict) -> None:
        k = len(self.steps)
        nn, ne, nen = self.A.mesh.n_nodes, self.A.mesh.n_cells, self.A.mesh.cells.shape[1]
        attrs = [
            self._attr(n, f"step{k}/point/{n}", np.asarray(v, float), "Node") for n, v in point_data.items()
        ]
        attrs += [
            self._attr(n, f"step{k}/cell/{n}", np.asarray(v, float), "Cell") for n, v in cell_data.items()
        ]
        self.steps.append(
            f'<Grid Name="step{k}" GridType="Uniform"><Time Value="{t:.17g}"/>'
            f'<Topology TopologyType="{_XDMF_TOPO[self.cell_type]}" NumberOfElements="{ne}">'
            f'<DataItem Dimensions="{ne} {nen}" NumberType="Int" Precision="8" Format="HDF">'
            f"{self.h5_path.name}:/topology</DataItem></Topology>"
            f'<Geometry GeometryType="XYZ"><DataItem Dimensions="{nn} 3" NumberType="Float" Precision="8" '
            f'Format="HDF">{self.h5_path.name}:/geometry</DataItem></Geometry>' + "".join(attrs) + "</Grid>"
        )

    def close(self) -> None:
        self.h5.close()
        xml = (
            '<?xml version="1.0"?>\n<Xdmf Version="3.0"><Domain>'
            '<Grid Name="fe" GridType="Collection" CollectionType="Temporal">\n'
            + "\n".join(self.steps)
            + "\n</Grid></Domain></Xdmf>\n"
        )
        os.replace(self._tmp_h5, self.h5_path)
        atomic_write_text(self.path, xml)


def plot_curve(
    path: str | Path,
    displacement: np.ndarray,
    force: np.ndarray,
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    reference: dict[str, float] | None = None,
) -> None:
    """Load–displacement PNG (matplotlib Agg); ``reference`` draws labelled horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    title = textwrap.fill(title, 64)  # long material labels wrap instead of running off the figure
    ax.plot(np.r_[0.0, displacement], np.r_[0.0, force], "o-", ms=3, lw=1.2, label="FE")
    for i, (name, val) in enumerate((reference or {}).items()):
        ax.axhline(val, ls="--", lw=1, color=f"C{i + 1}", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        atomic_save(path, lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    finally:
        plt.close(fig)


#: Pictured fields: (cell field name, colour-bar label).
FIELD_PICTURES = (("von_mises", "von Mises stress"), ("peeq", "equivalent plastic strain"))


def deformation_scale(points: np.ndarray, u: np.ndarray, fraction: float = 0.05) -> float:
    """Display magnification of the displacements ``u`` (nn, dim): the largest displacement is
    drawn as ``fraction`` of the model size, never below the true scale 1."""
    umax = float(np.max(np.linalg.norm(u, axis=1))) if u.size else 0.0
    size = float(np.linalg.norm(np.ptp(points, axis=0)))
    return max(1.0, fraction * size / umax) if umax > 0 else 1.0


def plot_fields(
    path: str | Path,
    mesh,
    u: np.ndarray,
    cell_fields: dict[str, np.ndarray],
    *,
    title: str = "",
    scale: float | None = None,
) -> list[str]:
    """Contour PNG of the :data:`FIELD_PICTURES` present in ``cell_fields`` (name → (ne,)), one
    panel each, on the mesh deformed by ``u`` (ndof,) × ``scale`` (default
    :func:`deformation_scale`).  2-D: filled cells; 3-D: the boundary facets coloured by their
    cell's value (surface view).  Returns the names of the fields drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dim = mesh.dim
    uu = np.asarray(u, float).reshape(-1, dim)
    s = deformation_scale(mesh.points, uu) if scale is None else float(scale)
    x = mesh.points + s * uu
    names = [(n, lab) for n, lab in FIELD_PICTURES if n in cell_fields]
    if not names:
        raise ValueError("plot_fields: none of the pictured fields is available")
    fig = plt.figure(figsize=(5.2 * len(names), 4.4), dpi=110)
    if dim == 3:
        facets, owner = mesh.boundary_facets_owned()
    for k, (name, label) in enumerate(names):
        vals = np.asarray(cell_fields[name], float)
        vmin, vmax = float(vals.min()), float(vals.max())
        if vmax <= vmin:  # a uniform field: still a readable colour bar
            vmax = vmin + max(abs(vmin), 1.0) * 1e-6
        norm = matplotlib.colors.Normalize(vmin, vmax)
        if dim == 2:
            from matplotlib.collections import PolyCollection

            ax = fig.add_subplot(1, len(names), k + 1)
            coll = PolyCollection(x[mesh.cells], array=vals, cmap="turbo", norm=norm,
                                  edgecolors="k", linewidths=0.15)
            ax.add_collection(coll)
            ax.set_xlim(x[:, 0].min(), x[:, 0].max())
            ax.set_ylim(x[:, 1].min(), x[:, 1].max())
            ax.set_aspect("equal")
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        else:
            from mpl_toolkits.mplot3d.art3d import Poly3DCollection

            ax = fig.add_subplot(1, len(names), k + 1, projection="3d")
            coll = Poly3DCollection(x[facets], cmap="turbo", norm=norm, edgecolors="k", linewidths=0.1)
            coll.set_array(vals[owner])
            ax.add_collection3d(coll)
            lo, hi = x.min(0), x.max(0)
            ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), zlim=(lo[2], hi[2]),
                   xlabel="x", ylabel="y", zlabel="z")
            ax.set_box_aspect(np.maximum(hi - lo, 1e-3 * np.max(hi - lo)))
            ax.view_init(elev=25, azim=-60)
            ax.tick_params(labelsize=7)
        fig.colorbar(coll, ax=ax, shrink=0.8, label=label, pad=0.12 if dim == 3 else 0.05)
        ax.set_title(f"{label}\n(deformation ×{s:.3g})", fontsize=9)
    if title:
        import textwrap

        fig.suptitle(textwrap.fill(title, 60 * len(names)), fontsize=9)
    fig.tight_layout()
    try:
        atomic_save(Path(path), lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    finally:
        plt.close(fig)
    return [n for n, _ in names]
