"""FE solver: element vs material point, patch tests, equilibrium, tangents, cut-back."""

from __future__ import annotations

import numpy as np
import pytest

from dmn_umat import loadpath
from dmn_umat.fe import mesh as M
from dmn_umat.fe.assembly import Assembler
from dmn_umat.fe.elements import MeshError
from dmn_umat.fe.solver import Dirichlet, FESolverError, NodalForce, Problem, Traction, solve
from dmn_umat.laws import MaterialUpdate, PhaseMaterial

J2 = "j2:E=200000,nu=0.3,sy=300,H=2000,Q=100,b=50,Hk=5000"
TYPES = ["quad", "triangle", "hexahedron", "tetra"]


def _unit(ct, n=1):
    return M.rectangle(1.0, 1.0, n, n, ct) if ct in ("quad", "triangle") else M.box(1, 1, 1, n, n, n, ct)


def _sym_bcs(m, ux):
    """Symmetry planes + prescribed ux on xmax: homogeneous uniaxial (plane-strain) tension."""
    bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["ymin"], 1),
           Dirichlet(m.node_sets["xmax"], 0, ux)]
    if m.dim == 3:
        bcs.append(Dirichlet(m.node_sets["zmin"], 2))
    return bcs


@pytest.mark.parametrize("ct", TYPES)
def test_one_element_equals_material_point(ct):
    """Uniaxial (plane-strain) tension of one element, loaded, unloaded and reversed, equals the
    mixed-control point response (loadpath.solve_mixed) to ~1e-10."""
    mat = PhaseMaterial(J2)
    m = _unit(ct)
    lams = np.r_[np.linspace(0.2, 1.0, 5), np.linspace(0.6, -1.0, 5)]
    res = solve(Problem(m, mat, _sym_bcs(m, 0.006)), lams, rtol=1e-13)
    free = (1, 2, 3, 4, 5) if m.dim == 3 else (1, 5)  # plane strain: ε33 = ε23 = ε13 = 0
    state = mat.initial_state(1)
    eps = np.zeros(6)
    for inc in res.increments:
        target = np.zeros(6)
        target[0] = 0.006 * inc.lam

        def upd(e, state=state):
            r = mat.update(e[None], state)
            return r.stress[0], r.tangent[0], int(r.status[0])

        eps, s, _, _ = loadpath.solve_mixed(upd, target, free, eps, tol=1e-14)
        state = mat.update(eps[None], state).state
        scale = np.abs(s).max()
        assert np.abs(inc.stress - s).max() <= 1e-10 * scale
        assert np.abs(inc.strain - eps).max() <= 1e-10 * np.abs(eps).max()
        assert np.abs(inc.state - state[0]).max() <= 1e-10 * max(np.abs(state).max(), 1e-12)
        # reaction on the loaded face = σ11 × area (unit face)
        assert res.reaction_sum(m.node_sets["xmax"], 0)[inc.index - 1] == pytest.approx(s[0], rel=1e-10)
    assert res.increments[-1].state[:, 6].max() > 0.005  # plastic flow happened


def _distort(m, amp, seed=0):
    rng = np.random.default_rng(seed)
    inner = np.ones(m.n_nodes, bool)
    for name in m.node_sets:
        inner[m.node_sets[name]] = False
    m.points[inner] += amp * rng.uniform(-1, 1, (inner.sum(), m.dim))
    return np.flatnonzero(~inner)


@pytest.mark.parametrize("ct", TYPES)
def test_patch_test_linear_field_is_exact(ct):
    """Distorted mesh, linear displacement on the boundary: interior nodes and stresses exact."""
    m = _unit(ct, n=3 if ct in ("quad", "triangle") else 2)
    boundary = _distort(m, 0.08)
    dim = m.dim
    G = np.array([[1.0, 0.4, -0.3], [-0.2, 0.7, 0.5], [0.1, -0.6, -0.8]])[:dim, :dim] * 1e-3
    c = np.array([1e-3, -2e-3, 5e-4])[:dim]
    U = m.points @ G.T + c
    mat = PhaseMaterial("elastic:E=70000,nu=0.33")
    bcs = [Dirichlet(boundary, k, U[boundary, k]) for k in range(dim)]
    res = solve(Problem(m, mat, bcs), [1.0], rtol=1e-14)
    inc = res.increments[0]
    assert np.abs(inc.u.reshape(-1, dim) - U).max() <= 1e-12
    eps_t = np.zeros((3, 3))
    eps_t[:dim, :dim] = 0.5 * (G + G.T)
    e6 = np.array([eps_t[0, 0], eps_t[1, 1], eps_t[2, 2], eps_t[1, 2], eps_t[0, 2], eps_t[0, 1]])
    e6[3:] *= np.sqrt(2)
    assert np.abs(inc.strain - e6).max() <= 1e-12
    assert np.abs(inc.reaction[res.assembler.edofs.ravel()][~np.isin(res.assembler.edofs.ravel(),
                   (boundary[:, None] * dim + np.arange(dim)).ravel())]).max() <= 1e-6


@pytest.mark.parametrize("ct", TYPES)
def test_stiffness_is_derivative_of_internal_force(ct):
    """Assembled tangent equals a central finite difference of f_int (J2, plastic state)."""
    m = _unit(ct, n=2)
    _distort(m, 0.05, seed=3)
    A = Assembler(m)
    mat = PhaseMaterial(J2)
    rng = np.random.default_rng(1)
    u = 0.004 * rng.standard_normal(A.ndof)
    state = mat.initial_state(A.npts)

    def fint(v):
        r = mat.update(A.strain(v), state)
        assert np.all(r.status == 0)
        return A.internal_force(r.stress), r.tangent

    f0, D = fint(u)
    K = A.stiffness(D).toarray()
    assert np.abs(K - K.T).max() <= 1e-9 * np.abs(K).max()
    h = 1e-8
    for j in rng.choice(A.ndof, 4, replace=False):
        du = np.zeros(A.ndof)
        du[j] = h
        fd = (fint(u + du)[0] - fint(u - du)[0]) / (2 * h)
        assert np.abs(fd - K[:, j]).max() <= 1e-5 * np.abs(K).max()


@pytest.mark.parametrize("ct", ["quad", "hexahedron", "tetra"])
def test_traction_balances_reactions(ct):
    """Uniform traction on xmax: reactions on the symmetry planes balance the applied force
    and a homogeneous elastic bar reproduces σ11 = t everywhere."""
    m = M.rectangle(2.0, 1.0, 4, 2, ct) if ct == "quad" else M.box(2, 1, 0.5, 4, 2, 1, ct)
    t = np.zeros(m.dim)
    t[0] = 120.0
    bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["ymin"], 1)]
    if m.dim == 3:
        bcs.append(Dirichlet(m.node_sets["zmin"], 2))
    loads = [Traction(m.facets_on(m.node_sets["xmax"]), t)]
    res = solve(Problem(m, PhaseMaterial("elastic:E=1000,nu=0.25"), bcs, loads), [0.5, 1.0])
    area = 1.0 if m.dim == 2 else 0.5
    R = res.reaction_sum(m.node_sets["xmin"], 0)
    assert R == pytest.approx(-t[0] * area * res.lam, rel=1e-10)
    assert np.abs(res.increments[-1].stress[:, 0] - t[0]).max() <= 1e-8 * t[0]


class _FragileMaterial(PhaseMaterial):
    """J2 that refuses (status 1) any point whose strain increment exceeds ``max_step``; the
    state stores the last committed strain in extra slots, so the check uses committed state."""

    def __init__(self, spec, max_step):
        super().__init__(spec)
        self.max_step = max_step
        self.nstate = 7 + 6
        self.calls = 0

    def update(self, strain, state_old):
        self.calls += 1
        s, D, st, status = super().update(strain, state_old[:, :7])
        big = np.abs(strain - state_old[:, 7:]).max(axis=1) > self.max_step
        status = np.where(big, 1, status)
        return MaterialUpdate(s, D, np.concatenate([st, strain], axis=1), status)

    def suggested_ratio(self, status):
        return 0.25


def test_cutback_reaches_same_answer():
    """A material that asks for small increments forces cut-backs; the converged answer at
    each target equals the one computed with many small increments (same path)."""
    m = _unit("hexahedron", 1)  # uniaxial stress: radial return is step-size independent
    bcs = _sym_bcs(m, 0.004)
    fine = solve(Problem(m, _FragileMaterial(J2, 1e9), bcs), np.linspace(0, 1, 65)[1:])
    mat = _FragileMaterial(J2, 1.2e-4)
    coarse = solve(Problem(m, mat, bcs), [0.5, 1.0])
    assert sum(i.cutbacks for i in coarse.increments) > 0
    # both paths are monotone; hardening is path independent under proportional loading
    assert coarse.increments[-1].stress == pytest.approx(fine.increments[-1].stress, rel=1e-9, abs=1e-9)
    with pytest.raises(FESolverError, match="cut-backs"):
        solve(Problem(m, _FragileMaterial(J2, 1e-12), bcs), [1.0], max_cutbacks=3)


def test_nodal_force_and_bad_input():
    m = M.rectangle(1.0, 1.0, 1, 1)
    bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["ymin"], 1)]
    loads = [NodalForce(m.node_sets["xmax"], 0, 50.0)]
    res = solve(Problem(m, PhaseMaterial("elastic:E=1000,nu=0.0"), bcs, loads), [1.0])
    assert res.reaction_sum(m.node_sets["xmin"], 0)[0] == pytest.approx(-100.0, rel=1e-12)
    assert res.increments[0].stress[:, 0] == pytest.approx(100.0, rel=1e-12)
    with pytest.raises(ValueError, match="singular"):
        solve(Problem(m, PhaseMaterial("elastic:E=1000,nu=0.0")), [1.0])
    bad = M.rectangle(1.0, 1.0, 1, 1)
    bad.points[2] = [-1.0, -1.0]
    with pytest.raises(MeshError, match="inverted"):
        Assembler(bad)


def test_read_mesh_roundtrip_and_errors(tmp_path):
    """A meshio file (clockwise quads on purpose) is read back, re-oriented, with plane sets."""
    import meshio

    m = M.rectangle(2.0, 1.0, 2, 1)
    cw = m.cells[:, ::-1]
    pts3 = np.c_[m.points, np.zeros(m.n_nodes)]
    meshio.write(tmp_path / "m.vtu", meshio.Mesh(pts3, [("quad", cw)]))
    r = M.read_mesh(tmp_path / "m.vtu")
    assert r.cell_type == "quad" and r.dim == 2 and r.n_cells == 2
    assert Assembler(r).wdet.sum() == pytest.approx(2.0, rel=1e-14)  # orientation fixed
    assert set(r.node_sets) >= {"xmin", "xmax", "ymin", "ymax"}
    with pytest.raises(MeshError, match="not found"):
        M.read_mesh(tmp_path / "nope.msh")
    meshio.write(tmp_path / "l.vtu", meshio.Mesh(pts3, [("line", m.cells[:, :2])]))
    with pytest.raises(MeshError, match="no supported cells .*found line"):
        M.read_mesh(tmp_path / "l.vtu")


def test_from_meshio_keeps_every_block_and_the_named_sets():
    """A file with the solid cells in several blocks of one type (gmsh writes one block per
    geometric entity) keeps all of them (only the last block was kept before); cell sets map to
    the merged cell numbering, facet sets to boundary facets, node sets to mesh nodes."""
    import meshio

    m = M.rectangle(2.0, 1.0, 2, 1)
    c = m.cells
    mm = meshio.Mesh(m.points, [("quad", c[:1]), ("line", np.array([[1, 4]])), ("quad", c[1:])],
                     cell_sets={"a": [np.array([0]), np.array([], int), np.array([], int)],
                                "b": [np.array([], int), np.array([], int), np.array([0])],
                                "edge": [np.array([], int), np.array([0]), np.array([], int)]},
                     point_sets={"corner": np.array([0])})
    r = M.from_meshio(mm)
    assert r.n_cells == 2 and np.array_equal(r.cells, c)
    assert r.cell_sets["a"].tolist() == [0] and r.cell_sets["b"].tolist() == [1]
    assert r.facet_sets["edge"].tolist() == [[1, 4]] and sorted(r.node_sets["edge"]) == [1, 4]
    assert r.node_sets["corner"].tolist() == [0] and sorted(r.node_sets["b"]) == sorted(c[1])


def test_cg_solver_matches_direct():
    m = M.box(2, 1, 1, 4, 2, 2)
    mat = PhaseMaterial(J2)
    bcs = _sym_bcs(m, 0.01)
    bcs.append(Dirichlet(m.node_sets["xmax"], 1, 0.002))  # shear: non-uniform field
    a = solve(Problem(m, mat, bcs), [0.5, 1.0])
    b = solve(Problem(m, mat, bcs), [0.5, 1.0], linear_solver="cg")
    assert np.abs(a.increments[-1].u - b.increments[-1].u).max() <= 1e-8 * np.abs(a.increments[-1].u).max()
    assert b.increments[-1].state[:, 6].max() > 0
