"""Library entry point of the FE² stage (docs/fe2.md): a job dataclass in, a result dataclass out.

- :class:`FE2Job` → :func:`run_fe2`: one of the bundled examples (``dmn fe2 EXAMPLE``);
- :class:`MeshJob` → :func:`run_mesh`: a user's mesh file with boundary conditions and loads by
  group name and a material per region (``dmn fe2 run MESH``).

Both return a :class:`FE2Result` (the summary JSON's fields as typed attributes,
:meth:`FE2Result.to_dict` gives the JSON).  Bad input raises a library error with a one-line
message: :class:`~dmn_umat.fe.examples.ExampleError` (and its subclass :class:`JobError` for a
mesh job), :class:`~dmn_umat.fe.elements.MeshError`, :class:`~dmn_umat.fe.solver.FESolverError`,
:class:`~dmn_umat.laws.PhaseSpecError`.

Boundary-condition strings (the CLI's, also accepted by the ``parse_*`` helpers); components are
``x y z`` or Abaqus' ``1 2 3``; a GROUP is a physical group / cell set / node set of the mesh
file, or one of the bounding-box node sets ``xmin xmax ymin ymax zmin zmax``:

- ``GROUP[:COMPS]``           fix the components (default: all), e.g. ``left:x,y``, ``base``
- ``GROUP:COMP=VAL[,…]``      prescribed displacement at load factor 1, e.g. ``right:x=0.01``
- ``GROUP:COMP=VAL[,…]``      traction (force/area; per unit thickness in 2-D) at load factor 1
- ``GROUP=SPEC``              material of a region: a phase spec or ``model`` (the surrogate)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .examples import (
    EXAMPLES,
    ExampleError,
    finish_summary,
    make_material,
    material_label,
    phase_material,
    run_schedule,
)

AXES = "xyz"


class JobError(ExampleError):
    """Bad mesh-job input: unknown group, bad BC string, singular constraints (one-line message)."""


# --------------------------------------------------------------------------- results
@dataclass
class Check:
    """One physical check: ``value`` vs ``reference`` (``ratio`` = value/reference when defined)."""

    value: float
    reference: float
    ok: bool
    note: str
    ratio: float | None = None


@dataclass
class FE2Result:
    """What an FE² run produced (units of the mesh and material: mm, MPa, N in the examples).

    ``curve_displacement``/``curve_force`` (n_increments,): the load–displacement curve;
    ``reactions`` (mesh jobs): group → component → reaction-force history; ``files``: outputs."""

    name: str
    material: str
    cell_type: str
    n_nodes: int
    n_cells: int
    n_points: int
    n_increments: int
    newton_iterations: int
    cutbacks: int
    wall_s: float
    timing_s: dict[str, float]
    point_updates: int
    curve_displacement: list[float]
    curve_force: list[float]
    checks: dict[str, Check] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)
    reactions: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """All physical checks passed."""
        return all(c.ok for c in self.checks.values())

    @classmethod
    def from_summary(cls, s: dict) -> FE2Result:
        checks = {k: Check(c["value"], c["reference"], c["ok"], c["note"], c.get("ratio"))
                  for k, c in s.get("checks", {}).items()}
        return cls(
            s["example"], s["material"], s["cell_type"], s["n_nodes"], s["n_cells"], s["n_points"],
            s["n_increments"], s["newton_iterations"], s["cutbacks"], s["wall_s"], s["timing_s"],
            s["point_updates"], s["curve"]["displacement"], s["curve"]["force"], checks,
            s.get("files", []), s.get("pictures", []), s.get("reactions", {}),
        )

    def to_dict(self) -> dict:
        """The summary JSON (same keys as ``NAME_summary.json``)."""
        d = {
            "example": self.name, "material": self.material, "cell_type": self.cell_type,
            "n_nodes": self.n_nodes, "n_cells": self.n_cells, "n_points": self.n_points,
            "n_increments": self.n_increments, "newton_iterations": self.newton_iterations,
            "cutbacks": self.cutbacks, "wall_s": self.wall_s, "timing_s": self.timing_s,
            "point_updates": self.point_updates, "pictures": self.pictures,
            "curve": {"displacement": self.curve_displacement, "force": self.curve_force},
            "checks": {k: {"value": c.value, "reference": c.reference,
                           **({"ratio": c.ratio} if c.ratio is not None else {}), "ok": c.ok, "note": c.note}
                       for k, c in self.checks.items()},
        }
        if self.reactions:
            d["reactions"] = self.reactions
        if self.files:
            d["files"] = self.files
        return d


# --------------------------------------------------------------------------- bundled examples
@dataclass
class FE2Job:
    """A bundled example: ``example`` (plate-hole, notched-bar, cyclic); material = ``model``
    (file or shipped name) with one ``phases`` spec per network phase, or one phase spec alone,
    or neither (the example's default composite); ``out`` None → no files."""

    example: str
    model: str | Path | None = None
    phases: Sequence[str] = ()
    size: str = "coarse"
    n_steps: int | None = None
    strain: float | None = None
    out: Path | None = None
    linear_solver: str = "direct"
    png_at: Sequence[int | str] | str | None = ("last",)
    progress: bool = False


def run_fe2(job: FE2Job) -> FE2Result:
    """Run a bundled example (reads the model once) → :class:`FE2Result` with its checks."""
    if job.example not in EXAMPLES:
        raise ExampleError(f"unknown example {job.example!r} (one of {', '.join(EXAMPLES)})")
    if job.n_steps is not None and job.n_steps < 2:
        raise ExampleError("--steps must be >= 2")
    if job.strain is not None and not (0.0 < job.strain < 0.5):
        raise ExampleError("--strain must lie in (0, 0.5) (small strain)")
    material = make_material(job.model, job.phases, job.example)
    kw = {"size": job.size, "out": None if job.out is None else Path(job.out), "progress": job.progress,
          "n_steps": job.n_steps, "linear_solver": job.linear_solver, "png_at": job.png_at}
    if job.strain is not None:
        kw["strain"] = job.strain
    return FE2Result.from_summary(EXAMPLES[job.example](material, **kw))


# --------------------------------------------------------------------------- a user's mesh
@dataclass
class Fix:
    """Zero displacement of ``components`` (0=x, 1=y, 2=z; empty = all) on the nodes of ``group``."""

    group: str
    components: tuple[int, ...] = ()


@dataclass
class Displace:
    """Prescribed displacement ``values`` {component: value at load factor 1} on ``group``."""

    group: str
    values: dict[int, float]


@dataclass
class TractionLoad:
    """Surface traction ``values`` {component: force/area at load factor 1} on the facets of ``group``."""

    group: str
    values: dict[int, float]


@dataclass
class MeshJob:
    """A user's mesh (gmsh ``.msh``, Abaqus ``.inp``, ``.vtu``, … any meshio format).

    Material: ``model`` + ``phases`` (the surrogate) or one phase spec in ``phases``, everywhere
    not covered by ``regions`` (group → phase spec or ``"model"``).  An orientation-aware
    (version-2) model reads each cell's A₂ from the mesh file's cell data ``orientation``
    (default ``"a2"``, (n_cells, 6): a11, a22, a33, a23, a13, a12; docs/fibres.md §4).  Load
    schedule: ``factors`` (target load factors, e.g. a cycle) or ``steps`` equal increments to 1.
    2-D meshes are plane strain (thickness 1)."""

    mesh: str | Path
    fix: Sequence[Fix] = ()
    displace: Sequence[Displace] = ()
    traction: Sequence[TractionLoad] = ()
    model: str | Path | None = None
    phases: Sequence[str] = ()
    regions: dict[str, str] = field(default_factory=dict)
    steps: int = 10
    factors: Sequence[float] | None = None
    out: Path | None = None
    name: str | None = None
    png_at: Sequence[int | str] | str | None = ("last",)
    linear_solver: str = "direct"
    bbar: bool | None = None
    progress: bool = False
    orientation: str | None = None


def _component(tok: str, what: str) -> int:
    t = tok.strip().lower()
    if t in ("x", "y", "z"):
        return AXES.index(t)
    if t in ("1", "2", "3"):
        return int(t) - 1
    raise JobError(f"{what}: component {tok!r} is not x, y, z (or 1, 2, 3)")


def _split(text: str, what: str) -> tuple[str, str]:
    group, sep, rest = text.partition(":")
    if not group.strip():
        raise JobError(f"{what} {text!r}: expected GROUP:... (a physical group, cell set or node set name)")
    return group.strip(), rest.strip() if sep else ""


def parse_fix(text: str) -> Fix:
    """``GROUP[:COMPS]`` (``left:x,y``; ``base`` or ``base:all`` = every component) → :class:`Fix`."""
    group, rest = _split(text, "--fix")
    if rest in ("", "all"):
        return Fix(group)
    return Fix(group, tuple(sorted({_component(c, f"--fix {text!r}") for c in rest.split(",")})))


def _values(text: str, what: str) -> tuple[str, dict[int, float]]:
    group, rest = _split(text, what)
    vals = {}
    for item in rest.split(","):
        comp, eq, val = item.partition("=")
        if not eq:
            raise JobError(f"{what} {text!r}: expected GROUP:COMP=VALUE[,COMP=VALUE] (e.g. right:x=0.01)")
        try:
            vals[_component(comp, f"{what} {text!r}")] = float(val)
        except ValueError:
            raise JobError(f"{what} {text!r}: {val.strip()!r} is not a number") from None
    return group, vals


def parse_displace(text: str) -> Displace:
    """``GROUP:COMP=VALUE[,…]`` (``right:x=0.01``) → :class:`Displace`."""
    return Displace(*_values(text, "--displace"))


def parse_traction(text: str) -> TractionLoad:
    """``GROUP:COMP=VALUE[,…]`` (``top:y=5``; force/area) → :class:`TractionLoad`."""
    return TractionLoad(*_values(text, "--traction"))


def parse_region(text: str) -> tuple[str, str]:
    """``GROUP=SPEC`` (``matrix=j2:E=70000,nu=0.3,sy=250``, ``composite=model``) → (group, spec)."""
    group, eq, spec = text.partition("=")
    if not eq or not group.strip() or not spec.strip():
        raise JobError(f"--material {text!r}: expected GROUP=SPEC (a phase spec or 'model')")
    return group.strip(), spec.strip()


def _names(sets: dict) -> str:
    names = sorted(sets)
    return ", ".join(names[:25]) + (f", … ({len(names)} in all)" if len(names) > 25 else "")


def _nodes(mesh, group: str, what: str) -> np.ndarray:
    if group not in mesh.node_sets:
        raise JobError(f"{what}: unknown group {group!r}; the mesh has: {_names(mesh.node_sets)}")
    nodes = mesh.node_sets[group]
    if nodes.size == 0:
        raise JobError(f"{what}: group {group!r} has no nodes on the solid mesh")
    return nodes


def _check_components(mesh, comps, what: str) -> None:
    bad = [AXES[c] for c in comps if c >= mesh.dim]
    if bad:
        raise JobError(f"{what}: component {bad[0]} on a {mesh.dim}-D mesh")


#: Keys of a TOML job file (``dmn fe2 run JOB.toml``): the CLI options' names and strings.
JOB_KEYS = ("mesh", "fix", "displace", "traction", "model", "phase", "material", "steps", "factors",
            "out", "name", "png_at", "solver", "bbar", "orientation")


def load_job(path: str | Path) -> MeshJob:
    """A :class:`MeshJob` from a TOML job file whose keys are the options of ``dmn fe2 run``
    (:data:`JOB_KEYS`; lists of the same strings, ``[material]`` a table GROUP = SPEC); relative
    ``mesh``/``out``/``model`` paths are relative to the job file's folder."""
    import tomllib

    path = Path(path)
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise JobError(f"cannot read job file {str(path)!r}: {exc}") from None
    bad = sorted(set(d) - set(JOB_KEYS))
    if bad:
        raise JobError(f"job file {str(path)!r}: unknown key {bad[0]!r} (keys: {', '.join(JOB_KEYS)})")
    if "mesh" not in d:
        raise JobError(f"job file {str(path)!r}: no 'mesh' key")

    def strings(key):
        v = d.get(key, [])
        v = [v] if isinstance(v, str) else v
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise JobError(f"job file {str(path)!r}: {key!r} must be a string or a list of strings")
        return v

    def local(p):
        return None if p is None else (path.parent / p if not Path(p).is_absolute() else Path(p))

    material = d.get("material", {})
    if not isinstance(material, dict) or not all(isinstance(v, str) for v in material.values()):
        raise JobError(f"job file {str(path)!r}: [material] must map GROUP = \"SPEC\"")
    model = d.get("model")
    if model is not None and local(model).is_file():
        model = local(model)
    try:
        return MeshJob(
            local(d["mesh"]), [parse_fix(x) for x in strings("fix")],
            [parse_displace(x) for x in strings("displace")],
            [parse_traction(x) for x in strings("traction")], model, strings("phase"), dict(material),
            int(d.get("steps", 10)),
            [float(x) for x in d["factors"]] if "factors" in d else None, local(d.get("out")), d.get("name"),
            d.get("png_at", ("last",)), str(d.get("solver", "direct")), d.get("bbar"),
            orientation=d.get("orientation"),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, JobError):
            raise
        raise JobError(f"job file {str(path)!r}: {exc}") from None


def free_rigid_modes(points: np.ndarray, cells: np.ndarray, fixed: np.ndarray) -> list[int]:
    """Rigid-body modes left free by the constrained dofs ``fixed`` (ndof,) bool: one count per
    connected part of the mesh (points (nn, dim), cells (ne, nen)); all zero ⇔ the stiffness on
    the free dofs is non-singular for a positive-definite material."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nn, dim = points.shape
    rows = np.repeat(cells, cells.shape[1], axis=1).ravel()
    cols = np.tile(cells, (1, cells.shape[1])).ravel()
    n_parts, part = connected_components(coo_matrix((np.ones(rows.size), (rows, cols)), shape=(nn, nn)))
    fixed = fixed.reshape(nn, dim)
    free = []
    for p in range(n_parts):
        nodes = np.flatnonzero(part == p)
        x = points[nodes] - points[nodes].mean(0)
        x /= max(float(np.abs(x).max()), 1e-300)
        modes = []  # (n, dim) each: translations, then rotations
        for i in range(dim):
            t = np.zeros_like(x)
            t[:, i] = 1.0
            modes.append(t)
        for i, j in ([(0, 1)] if dim == 2 else [(0, 1), (1, 2), (2, 0)]):
            r = np.zeros_like(x)
            r[:, i], r[:, j] = -x[:, j], x[:, i]
            modes.append(r)
        R = np.stack([m[fixed[nodes]] for m in modes], 1)  # (n constrained dofs, n modes)
        rank = np.linalg.matrix_rank(R, tol=1e-8) if R.size else 0
        free.append(len(modes) - int(rank))
    return free


def run_mesh(job: MeshJob) -> FE2Result:
    """Run a user's mesh with the job's boundary conditions, loads and materials; the same
    Newton and cut-back as the examples; with ``out``: XDMF, summary JSON, load–displacement and
    field PNGs (``NAME`` = ``job.name`` or the mesh file's stem)."""
    from .elements import ELEMENTS, facet_measure
    from .mesh import read_mesh
    from .solver import Dirichlet, Problem, Traction

    mesh = read_mesh(job.mesh)
    name = job.name or Path(job.mesh).stem
    if not (job.displace or job.traction):
        raise JobError("no load: give at least one --displace or --traction")
    # boundary conditions (a later --displace wins over a --fix on shared nodes)
    bcs, fixed = [], np.zeros(mesh.n_nodes * mesh.dim, bool)
    for f in job.fix:
        comps = list(f.components) or list(range(mesh.dim))
        _check_components(mesh, comps, f"--fix {f.group}")
        nodes = _nodes(mesh, f.group, "--fix")
        bcs += [Dirichlet(nodes, c) for c in comps]
    for d in job.displace:
        _check_components(mesh, d.values, f"--displace {d.group}")
        nodes = _nodes(mesh, d.group, "--displace")
        bcs += [Dirichlet(nodes, c, v) for c, v in d.values.items()]
    for bc in bcs:
        fixed[np.asarray(bc.nodes) * mesh.dim + bc.component] = True
    loads, areas = [], []
    for t in job.traction:
        _check_components(mesh, t.values, f"--traction {t.group}")
        facets = mesh.facet_sets.get(t.group)
        if facets is None:
            facets = mesh.facets_on(_nodes(mesh, t.group, "--traction"))
        if len(facets) == 0:
            raise JobError(f"--traction: group {t.group!r} holds no boundary facets")
        vec = np.zeros(mesh.dim)
        for c, v in t.values.items():
            vec[c] = v
        loads.append(Traction(facets, vec))
        areas.append(float(facet_measure(mesh.facet_type, mesh.points[facets])[1].sum()))
    free = free_rigid_modes(mesh.points, mesh.cells, fixed)
    if any(free):
        parts = [f"part {i + 1}: {n}" for i, n in enumerate(free) if n]
        raise JobError(f"the boundary conditions leave rigid-body motion free ({', '.join(parts)} of "
                       f"{3 if mesh.dim == 2 else 6} modes; singular stiffness): add --fix/--displace")
    material = _region_material(job, mesh, ELEMENTS[mesh.cell_type].ngp)
    # load schedule
    if job.factors is not None:
        lams = np.asarray(list(job.factors), float)
        if lams.size == 0 or not np.all(np.isfinite(lams)):
            raise JobError("--factors: give finite load factors, e.g. 0.5,1,0,-1")
    else:
        if job.steps < 1:
            raise JobError("--steps must be >= 1")
        lams = np.linspace(0.0, 1.0, job.steps + 1)[1:]
    out = None if job.out is None else Path(job.out)
    res, summary = run_schedule(name, Problem(mesh, material, bcs, loads, job.bbar), lams, out, job.progress,
                                material_label(material), job.png_at, linear_solver=job.linear_solver)
    # reactions of every constrained group, the curve and the equilibrium check
    reactions: dict[str, dict[str, list[float]]] = {}
    total = np.zeros((len(lams), mesh.dim))
    seen = np.zeros(mesh.n_nodes * mesh.dim, bool)
    constrained = [(f.group, list(f.components) or list(range(mesh.dim))) for f in job.fix]
    for bc_group, comps in constrained + [(d.group, list(d.values)) for d in job.displace]:
        nodes = mesh.node_sets[bc_group]
        for c in comps:
            r = res.reaction_sum(nodes, c)
            reactions.setdefault(bc_group, {})[AXES[c]] = r.tolist()
            dofs = nodes * mesh.dim + c
            new = dofs[~seen[dofs]]
            seen[new] = True
            total[:, c] += res.reaction_sum(new // mesh.dim, c) if new.size else 0.0
    applied = np.zeros((len(lams), mesh.dim))
    for t, area in zip(job.traction, areas):
        for c, v in t.values.items():
            applied[:, c] += res.lam * v * area
    biggest = [np.abs(v).max() for comps in reactions.values() for v in comps.values()]
    scale = max(max(biggest, default=0.0), float(np.abs(applied).max()), 1e-300)
    worst = float(np.abs(total + applied).max()) / scale
    summary["checks"] = {"equilibrium": {"value": worst, "reference": 0.0, "ok": bool(worst <= 1e-6),
                                         "note": "|Σ reactions + applied tractions| / max force"}}
    summary["reactions"] = reactions
    if job.displace:
        d = job.displace[0]
        c, v = max(d.values.items(), key=lambda kv: abs(kv[1]))
        disp, force = res.lam * v, np.asarray(reactions[d.group][AXES[c]])
        xlabel, ylabel = f"u_{AXES[c]} of {d.group}", f"reaction {AXES[c]} on {d.group}"
    else:
        t = job.traction[0]
        c = max(t.values, key=lambda k: abs(t.values[k]))
        nodes = np.unique(loads[0].facets)
        disp = np.array([i.u.reshape(-1, mesh.dim)[nodes, c].mean() for i in res.increments])
        force = applied[:, c]
        xlabel, ylabel = f"mean u_{AXES[c]} of {t.group}", f"applied force {AXES[c]} on {t.group}"
    unit = "force per unit thickness" if mesh.dim == 2 else "force"
    return FE2Result.from_summary(finish_summary(summary, out, disp, force, xlabel, f"{ylabel} ({unit})", {}))


def _orientation_points(job: MeshJob, mesh, ngp: int, default) -> np.ndarray | None:
    """A₂ (npts, 6) of every integration point from the mesh's cell data when the model is
    orientation-aware (None otherwise; naming a field for a fixed model is an error)."""
    from .elements import MeshError
    from .fibre_part import A2_FIELD, a2_field

    if not getattr(default, "orientation_aware", False):
        if job.orientation is not None:
            raise JobError(f"--orientation {job.orientation}: the material is not an orientation-aware "
                           "(version-2) model, so it takes no A2 field")
        return None
    try:
        a2 = a2_field(mesh, job.orientation or A2_FIELD)
    except MeshError as exc:
        raise JobError(f"the model is orientation-aware: {exc}") from None
    return np.repeat(a2, ngp, axis=0)


def _region_material(job: MeshJob, mesh, ngp: int):
    """The job's material: the default (model/phase) and one per ``regions`` entry; an
    orientation-aware model gets each point's A₂ (:class:`~dmn_umat.fe.regions.OrientedMaterial`)."""
    from .regions import OrientedMaterial, RegionMaterial

    default = make_material(job.model, job.phases, None) if (job.model is not None or job.phases) else None
    a2 = _orientation_points(job, mesh, ngp, default)
    if not job.regions:
        if default is None:
            raise JobError("no material: give --model with one --phase per network phase, --phase, "
                           "or --material GROUP=SPEC")
        return default if a2 is None else OrientedMaterial(default, a2)
    region = -np.ones(mesh.n_cells, np.int64)
    mats, labels = [], []
    for group, spec in job.regions.items():
        if group not in mesh.cell_sets:
            where = "unknown group" if group not in mesh.node_sets else "group holds no solid cells:"
            raise JobError(f"--material {group}: {where} {group!r}; material regions are: "
                           f"{_names(mesh.cell_sets) or 'none (no solid-cell groups in the mesh)'}")
        if spec == "model":
            if default is None or not hasattr(default, "net"):
                raise JobError(f"--material {group}=model needs --model and its --phase laws")
            mat = default
        else:
            mat = phase_material(spec)
        cells = mesh.cell_sets[group]
        clash = region[cells] >= 0
        if clash.any():
            other = labels[int(region[cells][clash][0])].split("=")[0]
            raise JobError(f"--material: groups {other!r} and {group!r} overlap (a cell has one material)")
        region[cells] = len(mats)
        mats.append(mat)
        labels.append(f"{group}={material_label(mat)}")
    rest = region < 0
    if rest.any():
        if default is None:
            raise JobError(f"{int(rest.sum())} of {mesh.n_cells} cells are in no --material group; give "
                           f"--material for them or a default --phase / --model")
        region[rest] = len(mats)
        mats.append(default)
        labels.append(f"rest={material_label(default)}")
    point_region = np.repeat(region, ngp)
    if a2 is not None:  # each region of the oriented model: the A₂ of its own points
        mats = [OrientedMaterial(m, a2[point_region == r]) if m is default else m for r, m in enumerate(mats)]
    return RegionMaterial(mats, point_region, labels)
