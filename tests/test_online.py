"""Online network solver: homogeneous limit, linear limit, exact laminate, consistent tangent,
batch invariance, pruned trees, failures, point driver and ``dmn drive``."""

import json

import numpy as np
import pytest
from scipy.optimize import root

from dmn_umat import loadpath, model_file, network, tensors
from dmn_umat.cli import main
from dmn_umat.laws import PhaseMaterial, parse_phase, props_table
from dmn_umat.laws import update as laws
from dmn_umat.network import Network
from dmn_umat.online import kernel
from dmn_umat.online.driver import drive, drive_network
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.status import INFO_SUBSTEPS, Status

_WS = np.zeros(laws.MAX_NWS)  # law scratch (phase_update)

J2 = "j2:E=70e3,nu=0.3,sy=100,H=500,Q=50,b=20,Hk=300"
J2_SOFT = "j2:E=3e3,nu=0.35,sy=30,H=100"
INCL = "elastic:E=400e3,nu=0.2"


def _rotations(rng, n):
    return np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])


def _random_net(rng, depth, rot=False):
    n = 2**depth
    R = _rotations(rng, n) if rot else None
    return network.complete_tree(depth, rng.uniform(0.2, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


def _aniso_spec(rng):
    b = rng.normal(size=(6, 6))
    C = 1e3 * (b @ b.T + 3 * np.eye(6))
    return "aniso:C=" + ";".join(repr(float(x)) for x in C[np.triu_indices(6)])


def _irregular_net(rng, rot=False):
    """A hand-built irregular (pruned-looking) tree: leaves at depths 1..4, 3 phases."""
    # pre-order: 0 -> (1, 8); 1 -> (2, 7); 2 -> (3, 6); 3 -> (4, 5); leaves 4..8
    children = -np.ones((9, 2), dtype=np.int64)
    children[0] = (1, 8)
    children[1] = (2, 7)
    children[2] = (3, 6)
    children[3] = (4, 5)
    leaves = [4, 5, 6, 7, 8]
    ph = -np.ones(9, dtype=np.int64)
    ph[leaves] = [0, 1, 0, 1, 2]
    w = np.zeros(9)
    w[leaves] = rng.uniform(0.1, 1.0, 5)
    nrm = np.zeros((9, 3))
    for k in (0, 1, 2, 3):
        v = rng.normal(size=3)
        nrm[k] = v / np.linalg.norm(v)
    R = None
    if rot:
        R = np.tile(np.eye(3), (9, 1, 1))
        R[leaves] = _rotations(rng, 5)
    net = Network(children, nrm, w, ph, R)
    net.refresh_weights()
    net.validate()
    return net


# ----------------------------------------------------------------------------- linear limit
@pytest.mark.parametrize("case", ["complete4_rot", "complete5", "irregular_rot"])
def test_linear_phases_tangent_is_recursive_laminate(case):
    rng = np.random.default_rng(11)
    if case == "irregular_rot":
        net = _irregular_net(rng, rot=True)
        specs = ["elastic:E=10,nu=0.3", _aniso_spec(rng), "elastic:E=3e3,nu=0.1"]
    else:
        net = _random_net(rng, 4 if case == "complete4_rot" else 5, rot=case.endswith("rot"))
        specs = [_aniso_spec(rng), "elastic:E=2e5,nu=0.25"]
    mat = NetworkMaterial(net, specs)
    eps = rng.normal(size=(3, 6)) * 1e-3
    stress, tangent, _, status = mat.update(eps, mat.initial_state(3))
    Cref = net.homogenize([p.stiffness() for p in mat.phases])
    assert np.all(status == 0)
    assert np.all(tensors.relative_error(tangent, Cref) < 1e-12)
    assert np.allclose(stress, eps @ Cref.T, rtol=0, atol=1e-12 * np.abs(stress).max())


# ----------------------------------------------------------------------------- homogeneous limit
def _homog_path():
    return loadpath.cyclic([0.01, 0.004, -0.012, 0.003], 6)


@pytest.mark.parametrize("depth,rot", [(3, True), (4, False)])
def test_homogeneous_limit_strain_control(depth, rot):
    rng = np.random.default_rng(depth)
    net = _random_net(rng, depth, rot)
    direction = rng.normal(size=6)
    path = _homog_path()[:, :1] * direction / np.abs(direction).max()
    r_net = drive_network(net, [J2, J2], path)
    r_ref = drive(PhaseMaterial(J2), path)
    scale = np.abs(r_ref["stress"]).max()
    assert np.abs(r_net["stress"] - r_ref["stress"]).max() <= 1e-8 * scale
    # plastic, and unloading/reverse loading really happened
    assert r_net["fields"]["peeq"][-1] > 5e-3
    assert np.allclose(r_net["fields"]["peeq"], r_net["fields"]["peeq_phase0"], rtol=1e-10)


@pytest.mark.parametrize("rot", [False, True])
def test_homogeneous_limit_mixed_control(rot):
    rng = np.random.default_rng(7)
    net = _random_net(rng, 4, rot)
    path = _homog_path()
    r_net = drive_network(net, [J2, J2], path, loadpath.ALL_BUT_11)
    r_ref = drive(PhaseMaterial(J2), path, loadpath.ALL_BUT_11)
    scale = np.abs(r_ref["stress"]).max()
    assert np.abs(r_net["stress"] - r_ref["stress"]).max() <= 1e-8 * scale
    assert np.abs(r_net["strain"] - r_ref["strain"]).max() <= 1e-8 * np.abs(r_ref["strain"]).max()
    assert np.abs(r_net["stress"][:, 1:]).max() <= 1e-8 * scale  # stress-free components


# ----------------------------------------------------------------------------- exact laminate
def _frame(n):
    """Rotation R with R e1 = n."""
    n = n / np.linalg.norm(n)
    t = np.array([1.0, 0, 0]) if abs(n[0]) < 0.9 else np.array([0, 1.0, 0])
    t2 = np.cross(n, t)
    t2 /= np.linalg.norm(t2)
    return np.column_stack([n, np.cross(t2, n), t2])


def _laminate_reference(specs, f1, n, path):
    """Independent layered solution in the laminate frame (x1' = n): the layers share ε22', ε33',
    ε23'; the unknown jumps d act on ε11', ε13', ε12' only; σ11', σ13', σ12' continuous; solved
    with scipy's hybrid root finder on the strain unknowns.  Isotropic phases (so a law may be
    evaluated in the rotated frame)."""
    Q = tensors.rotation_mandel(_frame(np.asarray(n, float)))
    props = [parse_phase(s).props for s in specs]
    states = [np.zeros(laws.MAX_NSTATE), np.zeros(laws.MAX_NSTATE)]
    jump_comp = [0, 4, 5]
    d = np.zeros(3)
    out = []

    def layer_stresses(d, eps_p):
        sig, new = [], []
        for pr, st, fac in zip(props, states, (1 - f1, -f1)):
            e = eps_p.copy()
            e[jump_comp] += fac * d
            s, C, sn = np.zeros(6), np.zeros((6, 6)), np.zeros(laws.MAX_NSTATE)
            assert laws.phase_update(pr, e, st, 0.0, 0.0, 0.0, s, C, sn, _WS) == 0
            sig.append(s)
            new.append(sn)
        return sig, new

    def traction_jump(d, eps_p):
        s = layer_stresses(d, eps_p)[0]
        return (s[0] - s[1])[jump_comp]

    for eps in path:
        eps_p = Q.T @ eps
        sol = root(traction_jump, d, args=(eps_p,), tol=1e-13)
        assert np.abs(traction_jump(sol.x, eps_p)).max() < 1e-9
        d = sol.x
        sig, new = layer_stresses(d, eps_p)
        states[:] = new
        out.append(Q @ (f1 * sig[0] + (1 - f1) * sig[1]))
    return np.array(out)


@pytest.mark.parametrize("normal", [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.3, -0.5, 0.8)])
def test_depth1_laminate_matches_layered_solution(normal):
    n = np.array(normal) / np.linalg.norm(normal)
    f1 = 0.35
    net = Network(
        np.array([[1, 2], [-1, -1], [-1, -1]]),
        np.array([n, [0, 0, 0], [0, 0, 0]]),
        np.array([1.0, f1, 1 - f1]),
        np.array([-1, 0, 1]),
    )
    specs = [J2, INCL]
    rng = np.random.default_rng(5)
    direction = rng.normal(size=6)
    path = loadpath.cyclic([0.008, 0.002, -0.006], 5)[:, :1] * direction / np.abs(direction).max()
    res = drive_network(net, specs, path)
    ref = _laminate_reference(specs, f1, n, path)
    assert np.abs(res["stress"] - ref).max() <= 1e-8 * np.abs(ref).max()
    assert res["fields"]["peeq_phase0"][-1] > 1e-3


# ----------------------------------------------------------------------------- consistent tangent
def test_batched_tangent_matches_central_differences():
    rng = np.random.default_rng(21)
    net = _random_net(rng, 4, rot=True)
    mat = NetworkMaterial(net, [J2_SOFT, INCL], threads=2)
    npts = 4
    # points with different histories: elastic, mildly and strongly plastic, unloaded
    dirs = rng.normal(size=(npts, 6))
    amps = np.array([1e-4, 4e-3, 2e-2, 1.5e-2])
    state = mat.initial_state(npts)
    for t in np.linspace(0.2, 1.0, 5):
        r = mat.update(dirs * amps[:, None] * t, state)
        assert np.all(r.status == 0)
        state = r.state
    eps = dirs * amps[:, None]
    eps[1:3] *= 1.05  # continued plastic loading (at Δε = 0 the law sits on its elastic/plastic kink)
    eps[3] *= 0.9  # elastic unloading from a plastic state
    r = mat.update(eps, state)
    assert np.all(r.status == 0)
    C = r.tangent
    h = 1e-8
    Cfd = np.empty_like(C)
    for j in range(6):
        e = np.zeros(6)
        e[j] = h
        Cfd[:, :, j] = (mat.update(eps + e, state).stress - mat.update(eps - e, state).stress) / (2 * h)
    err = tensors.relative_error(C, Cfd)
    assert np.all(err < 1e-5), err
    peeq = mat.fields(state)["peeq"]
    assert peeq[0] == 0.0 and peeq[2] > peeq[1] > 0.0


# ----------------------------------------------------------------------------- batch invariance
def test_batch_invariance_bit_for_bit_with_threads():
    rng = np.random.default_rng(8)
    net = _random_net(rng, 5, rot=True)
    eps = rng.normal(size=6) * 5e-3
    single = NetworkMaterial(net, [J2, INCL], threads=1)
    s1, C1, st1, _ = single.update(eps[None], single.initial_state(1))
    s1b, C1b, _, _ = single.update((1.3 * eps)[None], st1)
    multi = NetworkMaterial(net, [J2, INCL], threads=2)
    n = 37
    sN, CN, stN, status = multi.update(np.tile(eps, (n, 1)), multi.initial_state(n))
    sNb, CNb, _, _ = multi.update(np.tile(1.3 * eps, (n, 1)), stN)
    assert np.all(status == 0)
    assert np.array_equal(sN, np.tile(s1, (n, 1))) and np.array_equal(CN, np.tile(C1, (n, 1, 1)))
    assert np.array_equal(stN, np.tile(st1, (n, 1)))
    assert np.array_equal(sNb, np.tile(s1b, (n, 1))) and np.array_equal(CNb, np.tile(C1b, (n, 1, 1)))


# ----------------------------------------------------------------------------- pruned networks
def test_zero_weight_leaves_equal_collapsed_tree():
    """A complete depth-3 tree with 3 zero-weight leaves (one whole subtree) gives the response of
    the hand-collapsed tree without them (nonlinear, with rotations)."""
    rng = np.random.default_rng(9)
    w = rng.uniform(0.2, 1.0, 8)
    w[[2, 3, 6]] = 0.0  # leaves 2,3 = whole subtree; leaf 6 = one child of a node
    R = _rotations(rng, 8)
    nrm = rng.normal(size=(7, 3))
    full = network.complete_tree(3, w, nrm, rotations=R)
    # collapsed: root -> (A, B); A = node(1) -> laminate(l0,l1) only (its child 2-3 vanished);
    # B = node(2) -> (laminate(l4,l5), l7)
    nb = nrm / np.linalg.norm(nrm, axis=1)[:, None]
    children = np.array([[1, 4], [2, 3], [-1, -1], [-1, -1], [5, 8], [6, 7], [-1, -1], [-1, -1], [-1, -1]])
    normals = np.zeros((9, 3))
    normals[0], normals[1], normals[4], normals[5] = nb[0], nb[3], nb[2], nb[5]
    leaf_src = {2: 0, 3: 1, 6: 4, 7: 5, 8: 7}
    weights = np.zeros(9)
    phase = -np.ones(9, dtype=np.int64)
    rot = np.tile(np.eye(3), (9, 1, 1))
    for k, j in leaf_src.items():
        weights[k], phase[k], rot[k] = w[j], j % 2, R[j]
    small = Network(children, normals, weights, phase, rot)
    small.refresh_weights()
    small.validate()
    path = loadpath.cyclic([0.01, -0.004], 5)[:, :1] * rng.normal(size=6)
    ra = drive_network(full, [J2, INCL], path)
    rb = drive_network(small, [J2, INCL], path)
    assert np.abs(ra["stress"] - rb["stress"]).max() <= 1e-10 * np.abs(rb["stress"]).max()
    lin = NetworkMaterial(full, ["elastic:E=10,nu=0.3", INCL])
    C = lin.update(np.zeros((1, 6)), lin.initial_state(1)).tangent[0]
    assert tensors.relative_error(C, full.homogenize([p.stiffness() for p in lin.phases])) < 1e-12


# ----------------------------------------------------------------------------- failures
def test_nan_strain_and_bad_state_give_status_2_without_exception():
    rng = np.random.default_rng(4)
    mat = NetworkMaterial(_random_net(rng, 3), [J2, INCL])
    eps = np.zeros((3, 6))
    eps[1, 2] = np.nan
    state = mat.initial_state(3)
    state[2, 0] = np.inf
    stress, C, new, status = mat.update(eps, state)
    assert list(status) == [0, 2, 2]
    assert np.all(np.isfinite(stress)) and np.all(stress[1:] == 0) and np.all(C[1:] == 0)
    assert np.array_equal(new[1:], state[1:], equal_nan=True)


def test_unsupported_props_and_singular_phase_do_not_raise():
    rng = np.random.default_rng(6)
    net = _random_net(rng, 3)
    mi, mf = kernel.pack_network(net)
    table = props_table([parse_phase(J2)])  # phase 1 missing
    assert kernel.state_size(mi, table) == -1
    s, C, info = np.zeros(6), np.zeros((6, 6)), np.zeros(4)
    work = np.zeros(kernel.work_size(mi))
    st = kernel.network_update(mi, mf, table, np.zeros(6), np.zeros(64), s, C, np.zeros(64), work, info)
    assert st == Status.FAILED
    # a zero-stiffness phase makes every interaction block singular: cut back, never raise
    table = np.zeros((2, laws.MAX_NPROPS))
    table[:, 0] = laws.LAW_ANISO  # both phases: C = 0
    nsv = kernel.state_size(mi, table)
    st = kernel.network_update(
        mi, mf, table, np.full(6, 1e-3), np.zeros(nsv), s, C, np.zeros(nsv), work, info
    )
    assert st == Status.CUTBACK and 0 < info[0] < 1
    N = net.n_nodes
    for pos, val in [(kernel.NHEAD + N + 1, 99), (kernel.NHEAD + 1, 7), (kernel.NHEAD + 3 * N, 5)]:
        bad = mi.copy()  # child index out of range, bad node kind, wrong leaf ordinal
        bad[pos] = val
        assert (
            kernel.network_update(bad, mf, table, np.zeros(6), np.zeros(nsv), s, C, np.zeros(nsv), work, info)
            == 2
        )
    corrupt = mi.copy()
    corrupt[0] = 0
    assert (
        kernel.network_update(corrupt, mf, table, np.zeros(6), np.zeros(nsv), s, C, np.zeros(nsv), work, info)
        == 2
    )


def test_huge_increment_is_substepped_or_cut_back():
    """Two perfectly plastic phases of very different strength: a 10% / 100% strain increment in
    one call needs sub-steps (then it must agree with an explicitly fine path) or a cut back."""
    rng = np.random.default_rng(12)
    net = network.complete_tree(
        4, rng.uniform(0.01, 1, 16), rng.normal(size=(15, 3)), rotations=_rotations(rng, 16)
    )
    mat = NetworkMaterial(net, ["j2:E=70e3,nu=0.49,sy=10", "j2:E=70e3,nu=0.3,sy=1000"])
    direction = np.array([[1, -0.3, 0.05, 0.2, -0.1, 0.25]])
    hard = 0
    for amp in (0.1, 1.0):
        eps = amp * direction
        stress, C, new, status = mat.update(eps, mat.initial_state(1))
        info = mat.last_info[0]
        if status[0] == 0:
            if info[INFO_SUBSTEPS] > 1:
                hard += 1
            st = mat.initial_state(1)
            for t in np.linspace(0, 1, 41)[1:]:
                s_fine, _, st, stt = mat.update(t * eps, st)
                assert stt[0] == 0
            assert np.abs(s_fine - stress).max() <= 2e-2 * np.abs(s_fine).max()
        else:
            hard += 1
            assert status[0] == 1 and 0 < mat.suggested_ratio(status) < 1
            assert np.array_equal(new, mat.initial_state(1)) and np.all(stress == 0)
    assert hard >= 1


# ----------------------------------------------------------------------------- CLI
def test_dmn_drive_cli(tmp_path, capsys):
    rng = np.random.default_rng(2)
    net = _random_net(rng, 3)
    model = tmp_path / "m.dmn"
    model_file.write(model, net)
    path = tmp_path / "p.csv"
    loadpath.write_path(path, loadpath.cyclic([0.006, -0.002], 4))
    args = [
        str(model),
        "--phase",
        J2,
        "--phase",
        INCL,
        "--path",
        str(path),
        "--stress-free",
        "22,33,23,13,12",
    ]
    # DNS-like overlay file
    dns = tmp_path / "dns.json"
    assert (
        main(["drive", *args, "--json", "--out", str(tmp_path / "r.csv"), "--png", str(tmp_path / "r.png")])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    strain, stress = np.array(out["strain"]), np.array(out["stress"])
    assert strain.shape == stress.shape == (8, 6) and len(out["iterations"]) == 8
    assert np.abs(stress[:, 1:]).max() < 1e-6 * np.abs(stress[:, 0]).max()
    ref = drive_network(net, [J2, INCL], loadpath.read_path(path), loadpath.ALL_BUT_11)
    assert np.allclose(stress, ref["stress"], rtol=1e-12, atol=1e-9)
    csv = np.loadtxt(tmp_path / "r.csv", delimiter=",", skiprows=1)
    assert csv.shape == (8, 14) and np.allclose(csv[:, 7], stress[:, 0])
    assert (tmp_path / "r.png").stat().st_size > 1000
    dns.write_text(json.dumps({"strain": out["strain"], "stress": (stress * 1.01).tolist()}))
    assert main(["drive", *args, "--json", "--dns", str(dns), "--out", str(tmp_path / "r.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (
        abs(
            out["dns_mean_rel_error"]
            - 0.01 * np.mean(np.linalg.norm(stress, axis=1)) / np.linalg.norm(stress * 1.01, axis=1).max()
        )
        < 1e-9
    )
    assert json.loads((tmp_path / "r.json").read_text())["stress"] == out["stress"]
    # user errors: one line, exit code 2
    assert main(["drive", str(model), "--phase", J2, "--path", str(path)]) == 2
    assert main(["drive", *args[:-2], "--stress-free", "22,44"]) == 2
    assert (
        main(["drive", str(tmp_path / "none.dmn"), "--phase", J2, "--phase", INCL, "--path", str(path)]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(e.startswith("dmn drive: error:") for e in err)


def test_driver_bisects_after_cut_back():
    """A single 100% strain step that the kernel refuses (cut back) is bisected by the driver and
    lands close to an explicitly fine path; an impossible step raises DriveError, not a crash."""
    from dmn_umat.online.driver import DriveError

    rng = np.random.default_rng(12)
    net = network.complete_tree(
        4, rng.uniform(0.01, 1, 16), rng.normal(size=(15, 3)), rotations=_rotations(rng, 16)
    )
    mat = NetworkMaterial(net, ["j2:E=70e3,nu=0.49,sy=10", "j2:E=70e3,nu=0.3,sy=1000"])
    target = np.array([[1, -0.3, 0.05, 0.2, -0.1, 0.25]])
    assert mat.update(target, mat.initial_state(1)).status[0] == 1  # the kernel alone cuts back
    coarse = drive(mat, target)
    fine = drive(mat, np.linspace(0, 1, 41)[1:, None] * target)
    assert np.abs(coarse["stress"][-1] - fine["stress"][-1]).max() <= 2e-2 * np.abs(fine["stress"][-1]).max()
    with pytest.raises(DriveError):
        drive(mat, target, max_cuts=0)


def test_single_leaf_network_is_the_phase_law():
    net = network.complete_tree(0, np.array([1.0]), np.zeros((0, 3)))
    mat = NetworkMaterial(net, [J2])
    path = loadpath.cyclic([0.01, -0.01], 4)[:, :1] * np.array([1.0, -0.3, 0.1, 0.4, 0.0, 0.2])
    a = drive(mat, path)
    b = drive(PhaseMaterial(J2), path)
    assert np.array_equal(a["stress"], b["stress"])
