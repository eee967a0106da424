"""Total-Lagrangian finite-strain FE (dmn_umat.fe.finite): patch test and homogeneous block = the
law at large stretch and rotation, uniaxial stretch with free contraction = the law under mixed
control, FD element tangent, objectivity of the reactions, small-strain limit = small-strain FE²."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dmn_umat import model_file
from dmn_umat.fe import mesh as M
from dmn_umat.fe.finite import (
    FiniteAssembler,
    FiniteLawMaterial,
    FiniteSolver,
    finite_material,
    finite_props,
    mixed_point,
)
from dmn_umat.fe.solver import Dirichlet, FESolverError, Problem, solve
from dmn_umat.laws import PhaseMaterial
from dmn_umat.laws.finite_update import fj2_props, neohooke_props
from dmn_umat.offline.pretrained import path as shipped_model
from dmn_umat.online.solver import NetworkMaterial

NH = neohooke_props(E=1000.0, nu=0.3)
J2 = fj2_props(1000.0, 0.3, 5.0, 100.0, 10.0, 20.0)
TYPES = ("triangle", "quad", "tetra", "hexahedron")


def _mesh(cell_type: str, n: int = 2, distort: float = 0.15, seed: int = 0) -> M.Mesh:
    """Unit square / cube of ``cell_type`` with the interior nodes moved at random."""
    m = M.rectangle(1.0, 1.0, n, n, cell_type) if cell_type in ("triangle", "quad") else M.box(
        1.0, 1.0, 1.0, n, n, n, cell_type)
    inner = np.all((m.points > 1e-12) & (m.points < 1 - 1e-12), axis=1)
    rng = np.random.default_rng(seed)
    m.points[inner] += distort / n * rng.uniform(-1, 1, (int(inner.sum()), m.dim))
    return m


def _boundary_nodes(m: M.Mesh) -> np.ndarray:
    return np.unique(np.concatenate([m.node_sets[k] for k in m.node_sets]))


def _affine_bcs(m: M.Mesh, F: np.ndarray, nodes: np.ndarray) -> list[Dirichlet]:
    """u = (F − 1) X on ``nodes`` (all components of the mesh dimension)."""
    d = m.dim
    u = m.points[nodes] @ (F[:d, :d] - np.eye(d)).T
    return [Dirichlet(nodes, c, u[:, c]) for c in range(d)]


def _law_path(mat: FiniteLawMaterial, Fs: list[np.ndarray]):
    """P (9,) and state of one point driven through the deformation gradients ``Fs``."""
    state = mat.initial_state(1)
    for F in Fs:
        P, _, state, st = mat.update(F.reshape(1, 9), state)
        assert st[0] == 0
    return P[0], state[0]


def _rotation(dim: int, deg: float) -> np.ndarray:
    if dim == 2:
        return Rotation.from_euler("z", deg, degrees=True).as_matrix()
    return Rotation.from_rotvec(np.deg2rad(deg) * np.array([1.0, 2.0, 2.0]) / 3.0).as_matrix()


# ------------------------------------------------------------------ patch test / homogeneous block
@pytest.mark.parametrize("cell_type", TYPES)
@pytest.mark.parametrize("load", ["stretch", "rotated_stretch", "rigid_rotation"])
def test_patch_test_is_the_law(cell_type, load):
    """Distorted mesh, u = (F̄ − 1) X on the whole boundary: every point has F = F̄ and the law's P,
    the reactions on x = 1 sum to P·e1·area (≤ 1e-8); a rigid rotation gives P = 0."""
    m = _mesh(cell_type)
    dim = m.dim
    U = np.diag([1.5, 0.8, 1.0]) if dim == 2 else np.diag([1.5, 0.8, 1.1])
    U[0, 1] = U[1, 0] = 0.1
    Fbar = {"stretch": U, "rotated_stretch": _rotation(dim, 90.0) @ U,
            "rigid_rotation": _rotation(dim, 135.0)}[load]
    props = NH if load == "rigid_rotation" else J2
    mat = FiniteLawMaterial(props)
    n = 4 if load == "stretch" else 12  # the rotations pass through compression (J = 0.15 at 135°)
    lams = np.linspace(1.0 / n, 1.0, n)
    # P = 0 at the end of the rigid rotation: the force floor of the default tolerance applies
    rtol = 1e-8 if load == "rigid_rotation" else 1e-12
    res = solve(Problem(m, mat, _affine_bcs(m, Fbar, _boundary_nodes(m))), lams,
                solver_class=FiniteSolver, rtol=rtol)
    inc = res.increments[-1]
    assert sum(i.cutbacks for i in res.increments) == 0  # same λ path as the one-point reference
    assert np.abs(inc.F - Fbar.ravel()).max() <= 1e-10
    P_law, state_law = _law_path(mat, [np.eye(3) + t * (Fbar - np.eye(3)) for t in lams])
    scale = props[1]  # a modulus: P vanishes for the rigid rotation
    assert np.abs(inc.P - P_law).max() <= 1e-8 * scale
    assert np.abs(inc.state - state_law).max() <= 1e-8
    face = m.node_sets["xmax"]
    reaction = np.array([res.reaction_sum(face, c)[-1] for c in range(dim)])
    assert np.abs(reaction - P_law.reshape(3, 3)[:dim, 0]).max() <= 1e-8 * scale  # unit reference area
    if load == "rigid_rotation":
        assert np.abs(inc.P).max() <= 1e-8 * scale and np.abs(inc.stress).max() <= 1e-8 * scale


@pytest.mark.parametrize("cell_type", ["quad", "hexahedron", "tetra"])
def test_uniaxial_stretch_with_free_contraction_is_the_law(cell_type):
    """Block on symmetry planes, u_x = 0.6 on x = 1 (60 % stretch, plastic): reaction / area = the
    law's P11 under uniaxial stress and the contraction = the law's lateral stretch (≤ 1e-8)."""
    m = _mesh(cell_type, distort=0.0)
    dim = m.dim
    bcs = [Dirichlet(m.node_sets[f"{a}min"], c) for c, a in enumerate("xyz"[:dim])]
    bcs.append(Dirichlet(m.node_sets["xmax"], 0, 0.6))
    mat = FiniteLawMaterial(J2)
    lams = np.linspace(0.2, 1.0, 5)
    res = solve(Problem(m, mat, bcs), lams, solver_class=FiniteSolver, rtol=1e-12)
    assert sum(i.cutbacks for i in res.increments) == 0
    # the law in uniaxial stress: P22 = P33 = 0 (plane strain: F33 = 1, P22 = 0)
    Fs = [np.diag([1.0 + 0.6 * t, 1.0, 1.0]) for t in lams]
    F, P = mixed_point(mat, Fs, (4, 8) if dim == 3 else (4,))
    P11, lam2 = P[:, 0], F[:, 4]
    R = res.reaction_sum(m.node_sets["xmax"], 0)
    assert np.abs(R - P11).max() <= 1e-8 * np.abs(P11).max()
    corner = int(np.argmax(m.points.sum(axis=1)))
    assert abs(res.displacement(corner, 1)[-1] - (lam2[-1] - 1.0)) <= 1e-8


# ------------------------------------------------------------------ consistent tangent
def _forces(A: FiniteAssembler, mat, u: np.ndarray, state: np.ndarray):
    """f_int and the assembled tangent at ``u`` from the committed ``state`` (as the solver)."""
    r = mat.update(A.strain(u), state)
    assert np.all(r.status == 0)
    _, P, T = A.fbar_stress(u, r.stress, r.tangent)
    return A.internal_force(P), A.stiffness(T).toarray(), r


@pytest.mark.parametrize("cell_type", TYPES)
@pytest.mark.parametrize("law", ["fj2", "neohooke"])
@pytest.mark.parametrize("fbar", [False, True])
def test_element_tangent_matches_finite_differences(cell_type, law, fbar):
    """K(u) = Σ Gᵀ (dP/dF) G w₀ (F-bar: + the coupling to the element centre) vs central FD of
    f_int(u) at a large, non-uniform, plastic state."""
    m = _mesh(cell_type, n=2 if cell_type in ("triangle", "quad") else 1)
    m.points += 0.1 * np.random.default_rng(1).uniform(-1, 1, m.points.shape)  # every node
    A = FiniteAssembler(m, bbar=fbar)
    mat = FiniteLawMaterial(J2 if law == "fj2" else NH)
    rng = np.random.default_rng(2)
    Fbar = _rotation(m.dim, 40.0) @ np.diag([1.4, 0.85, 1.0])
    u0 = (m.points @ (Fbar[: m.dim, : m.dim] - np.eye(m.dim)).T).ravel()
    state = _forces(A, mat, u0, mat.initial_state(A.npts))[2].state  # committed plastic state
    if law == "fj2":
        assert np.all(state[:, 6] > 0)
    u = u0 + 0.05 * rng.normal(size=u0.size)
    K = _forces(A, mat, u, state)[1]
    h = 1e-6
    Kfd = np.empty_like(K)
    for j in range(u.size):
        du = np.zeros_like(u)
        du[j] = h
        Kfd[:, j] = (_forces(A, mat, u + du, state)[0] - _forces(A, mat, u - du, state)[0]) / (2 * h)
    assert np.abs(K - Kfd).max() <= 1e-6 * np.abs(K).max()


# ------------------------------------------------------------------ objectivity
@pytest.mark.parametrize("cell_type", ["quad", "hexahedron"])
def test_reactions_rotate_with_a_rigid_rotation_of_the_loading(cell_type):
    """Non-uniform problem (x = 0 held, x = 1 displaced by a stretch + bending field, sides free):
    the same loading followed by a rigid rotation R of 120° gives x → R x and nodal reactions
    r → R r (neo-Hookean: the end state does not depend on the path)."""
    m = _mesh(cell_type, n=3, seed=3)
    dim = m.dim
    R = _rotation(dim, 120.0)[:dim, :dim]

    def phi(X):  # the unrotated end positions of the two loaded faces
        x = X.copy()
        x[:, 0] *= 1.3
        x[:, 1] += 0.2 * X[:, 0] ** 2
        return x

    def run(rot):
        bcs = []
        for face in ("xmin", "xmax"):
            nodes = m.node_sets[face]
            X = m.points[nodes]
            u = phi(X) @ rot.T - X
            bcs += [Dirichlet(nodes, c, u[:, c]) for c in range(dim)]
        res = solve(Problem(m, FiniteLawMaterial(NH), bcs), np.linspace(0.1, 1.0, 10),
                    solver_class=FiniteSolver)
        inc = res.increments[-1]
        return m.points + inc.u.reshape(-1, dim), inc.reaction.reshape(-1, dim)

    x1, r1 = run(np.eye(dim))
    x2, r2 = run(R)
    loaded = np.concatenate([m.node_sets["xmin"], m.node_sets["xmax"]])
    assert np.abs(r1[loaded]).max() > 1.0  # a real load
    assert np.abs(x2 - x1 @ R.T).max() <= 1e-9
    assert np.abs(r2[loaded] - r1[loaded] @ R.T).max() <= 1e-8 * np.abs(r1[loaded]).max()


# ------------------------------------------------------------------ small-strain limit
@pytest.mark.parametrize("bbar", [False, True])
def test_small_strain_limit_is_small_strain_fe2(bbar):
    """The shipped IMN with a J2 matrix (yielding at ~5e-7) in a strip, finite vs small-strain FE²
    at 1e-5 and 1e-6 nominal strain, elasto-plastic: the reaction curves agree to O(strain) —
    plain elements (tapered mesh), and F-bar vs B-bar (rectangles: centre value = element mean)."""
    net = model_file.read(shipped_model("spheres16_imn_d6"))
    ss = NetworkMaterial(net, ["j2:E=70000,nu=0.33,sy=0.03,H=500", "elastic:E=400000,nu=0.2"])
    fs = finite_material(ss)
    m = M.rectangle(2.0, 1.0, 4, 2)
    if not bbar:
        m.points[:, 1] += 0.1 * m.points[:, 0] * m.points[:, 1]  # non-uniform stress
    gaps = []
    for strain in (1e-5, 1e-6):
        bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["ymin"], 1),
               Dirichlet(m.node_sets["xmax"], 0, 2.0 * strain)]
        lams = np.linspace(0.25, 1.0, 4)
        small = solve(Problem(m, ss, bcs, bbar=bbar), lams)
        large = solve(Problem(m, fs, bcs, bbar=bbar), lams, solver_class=FiniteSolver)
        Rs, Rl = (r.reaction_sum(m.node_sets["xmax"], 0) for r in (small, large))
        assert fs.fields(large.increments[-1].state)["peeq"].min() > 0  # plastic everywhere
        gaps.append(np.abs(Rl - Rs).max() / np.abs(Rs).max())
    assert gaps[0] <= 20 * 1e-5 and gaps[1] <= 20 * 1e-6
    assert gaps[1] < 0.3 * gaps[0]  # the gap vanishes with the strain


# ------------------------------------------------------------------ bad input
def test_bad_input_is_a_clear_error(capsys):
    from dmn_umat.cli import main

    assert main(["fe2", "plate-hole-finite", "--phase", "j2:E=1000,nu=0.3,sy=5,Hk=100"]) == 2
    err = capsys.readouterr().err
    assert "no finite-strain counterpart" in err and err.strip().count("\n") == 0
    m = _mesh("quad")
    with pytest.raises(ValueError, match="no finite-strain counterpart"):
        finite_props("j2:E=1000,nu=0.3,sy=5,Hk=100")
    assert finite_material(PhaseMaterial("elastic:E=1000,nu=0.3")).props[0] == NH[0]
    with pytest.raises(ValueError, match="no finite-strain counterpart"):
        finite_material(object())
    # compressing the block through itself: inverted points → cut-backs → one-line FESolverError
    bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["ymin"], 1),
           Dirichlet(m.node_sets["xmax"], 0, -1.5)]
    with pytest.raises(FESolverError, match="cut-backs") as exc:
        solve(Problem(m, FiniteLawMaterial(NH), bcs), [1.0], solver_class=FiniteSolver, max_cutbacks=3)
    assert "\n" not in str(exc.value)


# ------------------------------------------------------------------ the example
def test_plate_hole_finite_example(tmp_path):
    """``dmn fe2 plate-hole-finite`` (J2 phase, tiny): checks pass, files written, and the load
    passes a maximum before 20 % (the ligament thins; the weakly hardening J2 law alone rises)."""
    from dmn_umat.fe.api import FE2Job, run_fe2

    r = run_fe2(FE2Job("plate-hole-finite", phases=["j2:E=70000,nu=0.3,sy=250,H=70"], size="tiny",
                       n_steps=6, out=tmp_path, png_at="last"))
    assert r.ok, r.checks
    assert r.checks["equilibrium"].value <= 1e-8
    P = np.array(r.curve_force)
    assert np.argmax(P) < P.size - 1 and P[-1] < 0.99 * P.max()
    assert r.files and all(Path(f).exists() for f in r.files)
    assert any(f.endswith("_fields_007.png") for f in r.pictures)
