"""The kernel's blob and workspace layouts (named offsets of dmn_umat.online.kernel)."""

from __future__ import annotations

import numpy as np

from dmn_umat import network, tensors
from dmn_umat.online import kernel
from dmn_umat.online.solver import NetworkMaterial

ANISO = "aniso:C=" + ";".join(["3e5", "1e5", "1e5", "0", "0", "0", "3e5", "1e5", "0", "0", "0", "3e5"]
                              + ["0", "0", "0", "2e5", "0", "0", "2e5", "0", "2e5"])


def test_offsets_are_back_to_back():
    assert kernel._offsets(36, 6, 3) == (0, 36, 42, 45)
    w = [kernel.W_C, kernel.W_S, kernel.W_T, kernel.W_EPS, kernel.W_DEPS, kernel.W_ALPHA, kernel.W_GAMMA,
         kernel.W_A, kernel.W_A0, kernel.W_DA, kernel.W_NODE]
    assert w == sorted(w) and w[0] == 0
    assert kernel.M_Q - kernel.M_W == 24 and kernel.M_NODE - kernel.M_Q == 36  # w f1 f2 H n | Q
    assert kernel.SC_CT + 36 == kernel.SCRATCH


def _material():
    rng = np.random.default_rng(4)
    n = 16
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
    w = rng.uniform(0.1, 1, n)
    w[3] = 0.0  # a pruned leaf
    net = network.complete_tree(4, w, rng.normal(size=(n - 1, 3)), rotations=R)
    return NetworkMaterial(net, ["j2:E=70e3,nu=0.3,sy=100,H=500,Hk=300", ANISO])


def _call(m, strain, fill):
    nw = int(kernel.work_size(m.mi))
    work = np.empty(nw + 64)
    work[:nw] = np.random.default_rng(9).normal(size=nw) * 1e3 if fill == "noise" else fill
    work[nw:] = -123.0  # sentinel past the workspace
    out = np.zeros(6), np.zeros((6, 6)), np.zeros(m.nstate), np.zeros(5)
    st = kernel.network_update(m.mi, m.mf, m.table, strain, np.zeros(m.nstate), out[0], out[1], out[2],
                               work, out[3])
    assert np.all(work[nw:] == -123.0), "the kernel wrote past work_size"
    return st, out


def test_workspace_needs_no_initialization_and_stays_in_bounds():
    """Every workspace region is written before it is read (no overlap between regions): the
    result does not depend on the workspace's contents, and nothing past work_size is touched."""
    m = _material()
    strain = np.array([0.012, -0.004, 0.001, 0.003, -0.002, 0.004])  # plastic, aniso leaves rotated
    st0, ref = _call(m, strain, 0.0)
    assert st0 == 0 and np.abs(ref[2]).max() > 0
    for fill in (np.nan, "noise"):
        st, out = _call(m, strain, fill)
        assert st == st0 and all(np.array_equal(a, b) for a, b in zip(out, ref))
