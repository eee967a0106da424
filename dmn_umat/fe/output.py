"""Results for ParaView: an XDMF (+HDF5) time series, one time step per converged increment, and
a load–displacement PNG.

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
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=120)
    ax.plot(np.r_[0.0, displacement], np.r_[0.0, force], "o-", ms=3, lw=1.2, label="FE")
    for i, (name, val) in enumerate((reference or {}).items()):
        ax.axhline(val, ls="--", lw=1, color=f"C{i + 1}", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        atomic_save(path, lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    finally:
        plt.close(fig)
