"""Low-level network kernel: linear limit, FD tangent, failure statuses."""

import numpy as np
import pytest

from dmn_umat import network, phases, tensors
from dmn_umat.online import kernel

J2 = "j2:E=70e3,nu=0.3,sy=100,H=500,Q=50,b=20,Hk=300"


def _random_net(rng, depth, rot=False):
    n = 2**depth
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 3, 3)) for _ in range(n)]) if rot else None
    return network.complete_tree(depth, rng.uniform(0.2, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


class Point:
    """One integration point driven through the raw kernel."""

    def __init__(self, net, specs):
        self.ph = [phases.parse_phase(s) for s in specs]
        self.pt = phases.props_table(self.ph)
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
    st, s, C, sn, _ = p.update(np.array([np.nan, 0, 0, 0, 0, 0.0]), old)
    assert st == kernel.STATUS_FAILED and np.all(s == 0) and np.all(sn == old)
