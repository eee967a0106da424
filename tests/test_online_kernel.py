"""Low-level network kernel: linear limit, FD tangent, failure statuses."""

import numpy as np
import pytest

from dmn_umat import network, tensors
from dmn_umat.laws import parse_phase, props_table
from dmn_umat.online import kernel
from dmn_umat.status import INFO_STATUS, Status

J2 = "j2:E=70e3,nu=0.3,sy=100,H=500,Q=50,b=20,Hk=300"


def _random_net(rng, depth, rot=False):
    n = 2**depth
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 3, 3)) for _ in range(n)]) if rot else None
    return network.complete_tree(depth, rng.uniform(0.2, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


class Point:
    """One integration point driven through the raw kernel."""

    def __init__(self, net, specs):
        self.ph = [parse_phase(s) for s in specs]
        self.pt = props_table(self.ph)
        self.mi, self.mf = kernel.pack_network(net)
        self.nsv = kernel.state_size(self.mi, self.pt)
        self.work = np.zeros(kernel.work_size(self.mi))

    def update(self, eps, state_old):
        s, C, sn, info = np.zeros(6), np.zeros((6, 6)), np.zeros(self.nsv), np.zeros(4)
        st = kernel.network_update(self.mi, self.mf, self.pt, eps, state_old, s, C, sn, self.work, info)
        return st, s, C, sn, info


@pytest.mark.parametrize("rot", [False, True])
def test_linear_phases_give_recursive_laminate_stiffness(rot):
    rng = np.random.default_rng(3)
    net = _random_net(rng, 4, rot)
    b = rng.normal(size=(6, 6))
    Ca = b @ b.T + 3 * np.eye(6)
    specs = ["elastic:E=10,nu=0.3", "aniso:C=" + ";".join(repr(float(x)) for x in Ca[np.triu_indices(6)])]
    p = Point(net, specs)
    eps = rng.normal(size=6) * 1e-3
    st, s, C, _, _ = p.update(eps, np.zeros(p.nsv))
    Cref = net.homogenize([ph.stiffness() for ph in p.ph])
    assert st == 0
    assert tensors.relative_error(C, Cref) < 1e-12
    assert np.allclose(s, Cref @ eps, rtol=0, atol=1e-12 * np.abs(s).max())


def test_tangent_matches_central_differences_in_plastic_state():
    rng = np.random.default_rng(4)
    p = Point(_random_net(rng, 4, True), [J2, "elastic:E=400e3,nu=0.2"])
    d = rng.normal(size=6)
    state = np.zeros(p.nsv)
    for k in range(1, 6):
        st, _, _, state, _ = p.update(d * k * 2e-3, state)
        assert st == 0
    eps = d * 11e-3
    st, _, C, _, _ = p.update(eps, state)
    h = 1e-7
    Cfd = np.empty((6, 6))
    for j in range(6):
        e = np.zeros(6)
        e[j] = h
        Cfd[:, j] = (p.update(eps + e, state)[1] - p.update(eps - e, state)[1]) / (2 * h)
    assert state[: p.nsv - 6].any()  # plastic
    assert tensors.relative_error(C, Cfd) < 1e-5


def test_nan_strain_fails_without_exception():
    rng = np.random.default_rng(5)
    p = Point(_random_net(rng, 3), [J2, "elastic:E=400e3,nu=0.2"])
    old = np.zeros(p.nsv)
    st, s, C, sn, info = p.update(np.array([np.nan, 0, 0, 0, 0, 0.0]), old)
    assert st == Status.FAILED and np.all(s == 0) and np.all(sn == old)
    assert info[INFO_STATUS] == Status.FAILED


def test_tree_elimination_equals_dense_newton_step():
    """The condensation + back substitution gives the same Newton step as a dense solve with the
    full (finite-difference) Jacobian of the traction residuals, and that Jacobian has no block
    between nodes that are not ancestor/descendant of each other (no fill-in)."""
    rng = np.random.default_rng(13)
    net = _random_net(rng, 3, True)
    p = Point(net, [J2, "elastic:E=400e3,nu=0.2"])
    mi, mf, work = p.mi, p.mf, p.work
    N = net.n_nodes
    internal = [k for k in range(N) if net.children[k, 0] >= 0]
    eps = rng.normal(size=6) * 4e-3
    s_old, s_new = np.zeros(p.nsv), np.zeros(p.nsv)
    oa, oT, oda = 81 * N, 42 * N, 87 * N
    H = {k: tensors.h_matrix(net.normals[k] / np.linalg.norm(net.normals[k])) for k in internal}

    def residual(a):
        work[oa : oa + 3 * N] = 0.0
        for i, k in enumerate(internal):
            work[oa + 3 * k : oa + 3 * k + 3] = a[3 * i : 3 * i + 3]
        st, _, _, _ = kernel._evaluate(mi, mf, p.pt, eps, s_old, s_new, work, N, True, 0.0, 0.0, 0.0)
        assert st == 0
        T = work[oT : oT + 6 * N].reshape(N, 6)
        w = net.weights
        return np.concatenate(
            [H[k].T @ (T[c1] / w[c1] - T[c2] / w[c2]) for k in internal for c1, c2 in [net.children[k]]]
        )

    a0 = rng.normal(size=3 * len(internal)) * 1e-3
    r0 = residual(a0)
    assert kernel._condense(mi, mf, work, N, 0.0) == 0
    kernel._newton_direction(mi, mf, work, N)
    step = np.concatenate([work[oda + 3 * k : oda + 3 * k + 3] for k in internal])
    h = 1e-9
    J = np.empty((r0.size, r0.size))
    for j in range(r0.size):
        e = np.zeros(r0.size)
        e[j] = h
        J[:, j] = (residual(a0 + e) - residual(a0 - e)) / (2 * h)
    dense = np.linalg.solve(J, -r0)
    assert np.linalg.norm(step - dense) <= 1e-5 * np.linalg.norm(dense)
    # sparsity: block (k, l) vanishes unless one node lies in the other's subtree
    parent = {int(c): k for k in internal for c in net.children[k]}

    def ancestors(k):
        out = set()
        while k in parent:
            k = parent[k]
            out.add(k)
        return out

    for i, k in enumerate(internal):
        for j, l in enumerate(internal):
            related = k == l or k in ancestors(l) or l in ancestors(k)
            blk = np.abs(J[3 * i : 3 * i + 3, 3 * j : 3 * j + 3]).max()
            assert related or blk <= 1e-6 * np.abs(J).max()
