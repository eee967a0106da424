"""The FE² examples (``dmn fe2 plate-hole|notched-bar|cyclic``): geometry, boundary conditions,
load schedule, the physical checks each one reports, and the output files.

Units: mm, MPa, N (2-D: N per mm of thickness).  Every example returns a JSON-able summary
with the load–displacement curve and ``checks``: ``{name: {value, reference, ok, note}}``.

Material: ``--model FILE.dmn|NAME`` with one ``--phase`` per network phase gives the DMN/IMN
surrogate (:class:`dmn_umat.online.solver.NetworkMaterial`); without a model the single
``--phase`` (default below) is used at every integration point (:class:`PhaseMaterial`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_text
from . import mesh as M
from .output import XdmfSeries, increment_fields, plot_curve, plot_fields
from .solver import Dirichlet, Problem, Result, Solver

#: Default material of the examples: the shipped pretrained IMN of a spherical-particle composite
#: with an aluminium-like J2 matrix and stiff elastic (SiC-like) particles ...
DEFAULT_MODEL = "spheres16_imn_d6"
DEFAULT_COMPOSITE = {
    "plate-hole": ["j2:E=70000,nu=0.33,sy=250,H=500", "elastic:E=400000,nu=0.2"],
    "notched-bar": ["j2:E=70000,nu=0.33,sy=250,H=500", "elastic:E=400000,nu=0.2"],
    "cyclic": ["j2:E=70000,nu=0.33,sy=250,Hk=5000", "elastic:E=400000,nu=0.2"],
    "plate-hole-finite": ["j2:E=70000,nu=0.33,sy=250,H=500", "elastic:E=400000,nu=0.2"],
    "fibre-plate": ["j2:E=3000,nu=0.35,sy=30,H=300", "elastic:E=72000,nu=0.22"],  # PA + glass fibres
}
#: examples whose default model is another one: the orientation-aware short-fibre IMN (phase 0 the
#: matrix, phase 1 the fibres; docs/fibres.md)
DEFAULT_MODELS = {"fibre-plate": "fibres32_pimn_d7"}
#: ... and the single J2 phase used when that model is not installed (or with ``--phase`` alone).
DEFAULT_PHASE = {
    "plate-hole": "j2:E=70000,nu=0.3,sy=250,H=70",
    "notched-bar": "j2:E=70000,nu=0.3,sy=250,H=70",
    "cyclic": "j2:E=70000,nu=0.3,sy=250,Hk=7000",
    "plate-hole-finite": "j2:E=70000,nu=0.3,sy=250,H=70",
}

SIZES = ("tiny", "coarse", "fine")


class ExampleError(ValueError):
    """Bad example options (message is user-facing)."""


def phase_material(spec: str):
    """One phase law at every point (``PhaseSpecError`` on a bad spec)."""
    from ..laws import PhaseMaterial, parse_phase

    return PhaseMaterial(parse_phase(spec))


def make_material(model: str | Path | None, phase_specs: Sequence[str] | None, example: str | None):
    """The material of an example (or of ``dmn fe2 run`` with ``example=None``): the network
    surrogate when ``model`` (file or shipped name) is given — read once, exactly one phase spec
    per network phase — else the single phase law at every point.  With neither, an example
    uses its default composite (:data:`DEFAULT_MODEL`) or, if that is not installed, its
    default J2 phase.  Bad input raises :class:`ExampleError` (one line)."""
    specs = list(phase_specs or [])
    if model is None:
        if len(specs) > 1:
            raise ExampleError("several --phase need a --model (a network); else give one --phase")
        if specs:
            return phase_material(specs[0])
        if example is None:
            raise ExampleError("no material: give --model with one --phase per network phase, or one --phase")
        from ..offline.pretrained import path as shipped

        default = DEFAULT_MODELS.get(example, DEFAULT_MODEL)
        try:
            shipped(default)
        except (ValueError, OSError):
            if example not in DEFAULT_PHASE:
                raise ExampleError(f"{example}: its default model {default} is not installed; give --model "
                                   "and one --phase per network phase") from None
            return phase_material(DEFAULT_PHASE[example])
        model, specs = default, DEFAULT_COMPOSITE[example]
    from ..offline.pretrained import resolve

    path = resolve(model)  # an existing file, else a shipped model name
    if not path.is_file():
        raise ExampleError(f"model {str(model)!r} not found (no such file, no shipped model of that name)")
    from .. import model_file

    try:
        net = model_file.read_any(path)
    except Exception as exc:  # noqa: BLE001 - unreadable model → user error
        raise ExampleError(f"cannot read model {str(path)!r}: {exc}") from None
    from ..online.parametric import ParametricNetworkMaterial
    from ..online.solver import NetworkMaterial

    oriented = isinstance(net, model_file.ParametricModel)
    n = net.reference_network().n_phases if oriented else net.n_phases
    if len(specs) != n:
        raise ExampleError(f"model {str(model)!r} has {n} phase{'s' if n != 1 else ''} but {len(specs)} "
                           f"--phase given (give exactly one per phase, in phase order)")
    try:
        # an orientation-aware (version-2) model: A₂ per point from the mesh (regions.OrientedMaterial)
        mat = ParametricNetworkMaterial(net, specs, cache=True) if oriented else NetworkMaterial(net, specs)
    except ValueError as exc:
        raise ExampleError(str(exc)) from None
    mat.label = f"{path.stem} + " + " | ".join(specs)
    mat.orientation_aware = oriented
    return mat


def _check(value: float, reference: float, lo: float, hi: float, note: str) -> dict:
    ratio = value / reference
    return {
        "value": float(value),
        "reference": float(reference),
        "ratio": float(ratio),
        "ok": bool(lo <= ratio <= hi),
        "note": note,
    }


def _equilibrium(P: np.ndarray, P0: np.ndarray, note: str) -> dict:
    """Check that the reaction histories on two opposite boundaries balance (≤ 1e-6 relative)."""
    worst, scale = np.max(np.abs(P + P0)), np.max(np.abs(P))
    return {"value": float(worst / scale), "reference": 0.0, "ok": bool(worst <= 1e-6 * scale), "note": note}


def picture_increments(png_at: Sequence[int | str] | str | None, n: int) -> list[int]:
    """Increment numbers (1..n) to picture from ``png_at``: ints, ``"last"``, ``"all"`` or a
    comma-separated string of those (``"5,10,last"``); None, empty or ``"none"`` → none."""
    if png_at is None:
        return []
    items = png_at.split(",") if isinstance(png_at, str) else list(png_at)
    out = set()
    for it in items:
        key = str(it).strip().lower()
        if key in ("", "none"):
            continue
        if key == "last":
            out.add(n)
        elif key == "all":
            out.update(range(1, n + 1))
        else:
            try:
                k = int(key)
            except ValueError:
                raise ExampleError(f"--png-at: {it!r} is not an increment number, 'last' or 'all'") from None
            if not 1 <= k <= n:
                raise ExampleError(f"--png-at: increment {k} out of range 1..{n}")
            out.add(k)
    return sorted(out)


def run_schedule(
    name: str,
    problem: Problem,
    lams: np.ndarray,
    out: Path | None,
    progress: bool,
    material_label: str,
    png_at: Sequence[int | str] | str | None = ("last",),
    solver_class: type[Solver] = Solver,
    **opts,
) -> tuple[Result, dict]:
    """Walk the load factors ``lams`` with the cut-back Newton :class:`Solver` (or ``solver_class``,
    e.g. the finite-strain :class:`~dmn_umat.fe.finite.FiniteSolver`); with ``out``, write
    ``NAME.xdmf/.h5`` and the field PNGs ``NAME_fields_NNN.png`` of the increments ``png_at``
    (:func:`picture_increments`).  Returns the result and the summary dict (without checks)."""
    pick = set(picture_increments(png_at, len(lams))) if out is not None else set()
    solver = solver_class(problem, **opts)
    writer = None
    pictures = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        writer = XdmfSeries(out / name, solver.A)
    it = lams
    if progress:
        from ..progress import progress as bar

        it = bar(lams, total=len(lams), desc=name)
    incs = []
    t0 = time.perf_counter()
    try:
        for k, lam in enumerate(it):
            inc = solver.advance(float(lam))
            inc.index = k + 1
            if writer is not None:
                point, cell = increment_fields(solver.A, inc, problem.material)
                writer.write(inc.index, point, cell)
                if inc.index in pick:
                    png = out / f"{name}_fields_{inc.index:03d}.png"
                    plot_fields(png, problem.mesh, inc.u, cell,
                                title=f"{name} ({material_label}), increment {inc.index}, λ = {inc.lam:g}")
                    pictures.append(str(png))
            if incs and incs[-1].index > 1:  # keep full state of the first and last only (memory)
                incs[-1].state = incs[-1].state[:0]
            incs.append(inc)
    finally:
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - t0
    res = Result(solver.A, incs, solver.timing, solver.n_updates)
    summary = {
        "example": name,
        "material": material_label,
        "cell_type": problem.mesh.cell_type,
        "n_nodes": problem.mesh.n_nodes,
        "n_cells": problem.mesh.n_cells,
        "n_points": res.assembler.npts,
        "n_increments": len(res.increments),
        "newton_iterations": int(sum(i.iterations for i in res.increments)),
        "cutbacks": int(sum(i.cutbacks for i in res.increments)),
        "wall_s": wall,
        "timing_s": {k: float(v) for k, v in res.timing.items()},
        "point_updates": int(res.n_updates),
        "pictures": pictures,
    }
    return res, summary


def finish_summary(summary: dict, out: Path | None, disp, force, xlabel, ylabel, refs) -> dict:
    """Add the curve to ``summary``; with ``out`` write the load–displacement PNG and the JSON."""
    summary["curve"] = {"displacement": np.asarray(disp).tolist(), "force": np.asarray(force).tolist()}
    if out is not None:
        name = summary["example"]
        plot_curve(
            out / f"{name}_load_displacement.png",
            disp,
            force,
            xlabel=xlabel,
            ylabel=ylabel,
            title=f"{name} ({summary['material']})",
            reference=refs,
        )
        summary["files"] = [
            str(out / f"{name}.xdmf"),
            str(out / f"{name}.h5"),
            str(out / f"{name}_load_displacement.png"),
            *summary.get("pictures", []),
            str(out / f"{name}_summary.json"),
        ]
        atomic_write_text(out / f"{name}_summary.json", json.dumps(summary, indent=1))
    return summary


def material_label(material) -> str:
    """A short label of a material: its phase spec, its ``label`` or its class name."""
    ph = getattr(material, "phase", None)
    return ph.spec if ph is not None else getattr(material, "label", type(material).__name__)


def _point_stress(material, e11: np.ndarray, free: tuple[int, ...]) -> np.ndarray:
    """σ11 of one material point along the strain path ``e11`` (n,) with ``free`` components
    stress free and the others zero strain (mixed control, :func:`dmn_umat.loadpath.solve_mixed`)."""
    from ..loadpath import solve_mixed

    state = material.initial_state(1)
    eps = np.zeros(6)
    out = []
    for e in e11:
        target = np.zeros(6)
        target[0] = e

        def upd(x, state=state):
            r = material.update(x[None], state)
            return r.stress[0], r.tangent[0], int(r.status[0])

        eps, sig, _, _ = solve_mixed(upd, target, free, eps)
        state = material.update(eps[None], state).state
        out.append(sig[0])
    return np.array(out)


# --------------------------------------------------------------------------- (a) plate with hole
def _hole_top_stress(res: Result, material, mesh: M.Mesh, a: float) -> float:
    """σxx at the hole top (0, a) after the first (elastic) increment, from the displacements of
    the hole nodes: on the traction-free surface σxx = σθθ = E' εθθ with εθθ = (u_r + ∂u_θ/∂θ)/a
    (u_θ fitted by an odd cubic about θ = π/2) and E' the plane-strain modulus of the tangent
    with σyy = 0.  Second-order accurate, unlike extrapolated Gauss-point stresses."""
    inc = res.increments[0]
    nodes = mesh.node_sets["hole"]
    x, y = mesh.points[nodes].T
    th = np.arctan2(y, x) - np.pi / 2
    u = inc.u.reshape(-1, 2)[nodes]
    ur = u[:, 0] * np.cos(th + np.pi / 2) + u[:, 1] * np.sin(th + np.pi / 2)
    ut = -u[:, 0] * np.sin(th + np.pi / 2) + u[:, 1] * np.cos(th + np.pi / 2)
    near = np.argsort(np.abs(th))[:4]
    top = near[0]
    A = np.stack([th[near], th[near] ** 3], 1)
    c = np.linalg.lstsq(A, ut[near], rcond=None)[0]
    eps_tt = (ur[top] + c[0]) / a
    q = int(np.argmin(np.linalg.norm(res.assembler.gp_coords - [0.0, a], axis=1)))
    D = material.update(inc.strain[q : q + 1], material.initial_state(1)).tangent[0]
    return float((D[0, 0] - D[0, 1] * D[1, 0] / D[1, 1]) * eps_tt)


def plate_hole(
    material,
    size: str = "coarse",
    out: Path | None = None,
    progress: bool = False,
    strain: float = 0.02,
    n_steps: int | None = None,
    linear_solver: str = "direct",
    png_at: Sequence[int | str] | str | None = ("last",),
) -> dict:
    """Quarter plate (10×10 mm, hole radius 1 mm), plane strain, ux = strain·10 mm on x = 10.

    Checks: elastic stress concentration σxx(hole top)/σ_gross vs Heywood's finite-width
    formula (Kt ≈ 3.03 for d/W = 0.1); limit load vs the plane-strain net-section load
    (2/√3)σy·(H − a) for a J2 phase; equilibrium (reactions on x = 0 and x = 10 balance).
    """
    W, H, a = 10.0, 10.0, 1.0
    h = {"tiny": (a / 5, 2.5), "coarse": (a / 8, 1.5), "fine": (a / 20, 0.6)}[_size(size)]
    mesh = M.plate_with_hole(W, H, a, *h)
    delta = strain * W
    bcs = [
        Dirichlet(mesh.node_sets["xmin"], 0),
        Dirichlet(mesh.node_sets["ymin"], 1),
        Dirichlet(mesh.node_sets["xmax"], 0, delta),
    ]
    n = n_steps or {"tiny": 12, "coarse": 20, "fine": 40}[size]
    lams = np.r_[0.01, np.linspace(0.02, 1.0, n)]  # first increment elastic (Kt)
    prob = Problem(mesh, material, bcs)
    res, summary = run_schedule(
        "plate-hole", prob, lams, out, progress, material_label(material), png_at, linear_solver=linear_solver
    )
    P = res.reaction_sum(mesh.node_sets["xmax"], 0)
    P0 = res.reaction_sum(mesh.node_sets["xmin"], 0)
    d = res.lam * delta
    kt = _hole_top_stress(res, material, mesh, a) / (P[0] / H)
    kt_ref = (2.0 + (1.0 - a / H) ** 3) / (1.0 - a / H)
    checks = {
        "stress_concentration": _check(
            kt, kt_ref, 0.95, 1.05, "elastic σxx at hole / gross stress vs Heywood (d/W = 0.1)"
        ),
        "equilibrium": _equilibrium(P, P0, "|R(x=10) + R(x=0)| / |R|"),
    }
    # net-section load: the material point's own plane-strain uniaxial response at the nominal strain
    # (for perfect J2 → (2/√3)σy); the ligament carries at least that, at most the gross section
    sig_ps = _point_stress(material, res.lam * strain, (1, 5))
    p_net = sig_ps[-1] * (H - a)
    checks["limit_load"] = _check(
        P[-1],
        p_net,
        0.98,
        H / (H - a) + 0.02,
        "final load vs net section × point plane-strain stress at the nominal strain; ≤ gross H/(H−a)",
    )
    refs = {"σ_ps(ε_nom)·net": p_net}
    summary["checks"] = checks
    return finish_summary(summary, out, d, P, "end displacement u_x [mm]", "load per unit thickness [N/mm]",
                          refs)


# --------------------------------------------------------------------------- (b) notched bar
def notched_bar(
    material,
    size: str = "coarse",
    out: Path | None = None,
    progress: bool = False,
    strain: float = 0.01,
    n_steps: int | None = None,
    linear_solver: str = "direct",
    png_at: Sequence[int | str] | str | None = ("last",),
) -> dict:
    """One eighth of a double-edge notched bar (hexahedra), 40×10×4 mm, notch radius 2 mm,
    ux = strain·20 mm on the end.  Checks: limit load vs σy·A_net (J2 phase), equilibrium."""
    L, B, T, r = 20.0, 5.0, 2.0, 2.0
    h = {"tiny": (r / 3, 4.0, 1), "coarse": (r / 5, 2.5, 2), "fine": (r / 10, 1.2, 4)}[_size(size)]
    mesh = M.notched_bar(L, B, T, r, h[0], h[1], h[2])
    delta = strain * L
    bcs = [
        Dirichlet(mesh.node_sets["xmin"], 0),
        Dirichlet(mesh.node_sets["ymin"], 1),
        Dirichlet(mesh.node_sets["zmin"], 2),
        Dirichlet(mesh.node_sets["xmax"], 0, delta),
    ]
    n = n_steps or {"tiny": 10, "coarse": 16, "fine": 30}[size]
    lams = np.r_[0.02, np.linspace(0.05, 1.0, n)]
    res, summary = run_schedule(
        "notched-bar",
        Problem(mesh, material, bcs),
        lams,
        out,
        progress,
        material_label(material),
        png_at,
        linear_solver=linear_solver,
    )
    P = res.reaction_sum(mesh.node_sets["xmax"], 0)
    P0 = res.reaction_sum(mesh.node_sets["xmin"], 0)
    a_net = (B - r) * T
    checks = {
        "equilibrium": _equilibrium(P, P0, "|R(end) + R(net section)| / |R|")
    }
    # net-section load with the point's uniaxial-stress response (σy for perfect J2) at the mean
    # axial strain of the integration points within h_notch of the net section
    A = res.assembler
    near = A.gp_coords[:, 0] <= h[0]
    e_lig = np.array([np.average(i.strain[near, 0], weights=A.wdet.ravel()[near]) for i in res.increments])
    sig_u = _point_stress(material, e_lig, (1, 2, 3, 4, 5))
    p_net = sig_u[-1] * a_net
    checks["limit_load"] = _check(
        P[-1],
        p_net,
        0.98,
        1.35,
        "final load vs A_net × point uniaxial stress at the mean ligament strain "
        "(notch constraint factor, ~1.2 here)",
    )
    refs = {"σ_uni(ε_lig)·A_net": p_net}
    summary["checks"] = checks
    return finish_summary(
        summary, out, res.lam * delta, P, "end displacement u_x [mm]", "load (1/8 model) [N]", refs
    )


# --------------------------------------------------------------------------- (c) cyclic
def cyclic(
    material,
    size: str = "coarse",
    out: Path | None = None,
    progress: bool = False,
    strain: float = 0.01,
    n_steps: int | None = None,
    linear_solver: str = "direct",
    png_at: Sequence[int | str] | str | None = ("last",),
) -> dict:
    """The plate with hole under a displacement cycle 0 → +δ → −δ → +δ (δ = strain·10 mm).

    Checks: the first unloading increment is elastic, so its slope equals the initial elastic
    slope; reversed yielding (Bauschinger) gives |P(−δ)| of the order of P(+δ); the loop closes
    (load at the second +δ vs the first)."""
    W, H, a = 10.0, 10.0, 1.0
    h = {"tiny": (a / 5, 2.5), "coarse": (a / 8, 1.5), "fine": (a / 20, 0.6)}[_size(size)]
    mesh = M.plate_with_hole(W, H, a, *h)
    delta = strain * W
    n = n_steps or {"tiny": 6, "coarse": 10, "fine": 20}[size]
    up = np.linspace(0.01, 1.0, n)
    down = np.r_[0.99, np.linspace(1.0, -1.0, 2 * n + 1)[1:]]
    reup = np.linspace(-1.0, 1.0, 2 * n + 1)[1:]
    lams = np.r_[up, down, reup]
    bcs = [
        Dirichlet(mesh.node_sets["xmin"], 0),
        Dirichlet(mesh.node_sets["ymin"], 1),
        Dirichlet(mesh.node_sets["xmax"], 0, delta),
    ]
    res, summary = run_schedule(
        "cyclic",
        Problem(mesh, material, bcs),
        lams,
        out,
        progress,
        material_label(material),
        png_at,
        linear_solver=linear_solver,
    )
    P = res.reaction_sum(mesh.node_sets["xmax"], 0)
    d = res.lam * delta
    k0 = P[0] / d[0]
    i = n  # first unloading increment (1.0 → 0.99)
    k_unload = (P[i] - P[i - 1]) / (d[i] - d[i - 1])
    i_min = int(np.argmin(d))
    checks = {
        "elastic_unloading": _check(
            k_unload, k0, 1 - 1e-5, 1 + 1e-5, "first unloading slope / initial slope"
        ),
        "reversed_load": _check(-P[i_min], P[n - 1], 0.7, 1.3, "|P(−δ)| / P(+δ) (Bauschinger, hardening)"),
        "loop_closure": _check(P[-1], P[n - 1], 0.9, 1.1, "P(+δ) second time / first time"),
    }
    summary["checks"] = checks
    return finish_summary(summary, out, d, P, "end displacement u_x [mm]", "load per unit thickness [N/mm]",
                          {})


def _size(size: str) -> str:
    if size not in SIZES:
        raise ExampleError(f"--size must be one of {', '.join(SIZES)}")
    return size


def plate_hole_finite(material, **kw) -> dict:
    """The plate with a hole to 20 % nominal strain on total-Lagrangian finite-strain elements
    (:func:`dmn_umat.fe.finite.plate_hole_finite`)."""
    from .finite import plate_hole_finite as run

    return run(material, **kw)


def fibre_plate(material, **kw) -> dict:
    """The skin–core short-fibre plate with an orientation field
    (:func:`dmn_umat.fe.fibre_part.fibre_plate_example`)."""
    from .fibre_part import fibre_plate_example

    return fibre_plate_example(material, **kw)


EXAMPLES = {"plate-hole": plate_hole, "notched-bar": notched_bar, "cyclic": cyclic,
            "plate-hole-finite": plate_hole_finite, "fibre-plate": fibre_plate}
