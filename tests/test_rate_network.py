"""Rate- and temperature-dependent phase laws inside the network, the driver, the CLI and the
C ABI (issue 12): the homogeneous limit (every leaf the same law = the law itself), time and
temperature columns of the path CSV, DTIME/TEMP/DTEMP through the C API and the UMAT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dmn_umat import loadpath, model_file, network, tensors
from dmn_umat.cli import main
from dmn_umat.laws import PhaseMaterial, parse_phase
from dmn_umat.online.driver import DriveError, DriveJob, drive, drive_model
from dmn_umat.online.solver import NetworkMaterial

VP = "vp:E=70e3,nu=0.3,sy=100,H=500,Q=50,b=20,Hk=300,eta=50,m=0.3"
PERZYNA = "vp:E=70e3,nu=0.3,sy=100,H=500,eta=20,m=0.5,form=1"
CREEP = "creep:E=70e3,nu=0.3,A=1e-10,n=3,k=-0.2"
CREEP_PLAST = "creep:E=70e3,nu=0.3,A=1e-8,n=2,sy=80,H=300,Q=30,b=10"
CHAB = "chaboche:E=70e3,nu=0.3,sy=100,Q=50,b=20,C1=30e3,gamma1=300,C2=3e3,gamma2=10,eta=20,m=0.3"
CHAB_RI = "chaboche:E=70e3,nu=0.3,sy=100,H=200,C1=30e3,gamma1=300,C2=3e3,gamma2=10"
# temperature dependent (E, sy, H, C1 soften with T; the path heats 20 → 220)
VP_T = "vp:E=70e3,nu=0.3,sy=100,H=500,eta=50,m=0.3,T0=20,dE=-40,dsy=-0.3,dH=-1"
CHAB_T = ("chaboche:E=70e3,nu=0.3,sy=100,Q=50,b=20,C1=30e3,gamma1=300,C2=3e3,gamma2=10,eta=20,m=0.3,"
          "T0=20,dE=-40,dsy=-0.2,dC1=-50")
LAWS = {"vp": VP, "perzyna": PERZYNA, "creep": CREEP, "creep+plasticity": CREEP_PLAST, "chaboche": CHAB,
        "chaboche rate independent": CHAB_RI, "vp heated": VP_T, "chaboche heated": CHAB_T}


def _path(amp: float = 0.01):
    """Load (10 s) / hold (30 s) / unload (5 s) / reverse (10 s) / hold (20 s) in e(t), with a
    temperature ramp 20 → 220 over the path: (e (n,), time (n,), temp (n,))."""
    knots_t = [0.0, 10.0, 40.0, 45.0, 55.0, 75.0]
    knots_e = [0.0, amp, amp, 0.4 * amp, -amp, -amp]
    n_seg = [8, 6, 4, 8, 5]
    t = np.concatenate([np.linspace(a, b, n + 1)[1:] for a, b, n in zip(knots_t[:-1], knots_t[1:], n_seg)])
    e = np.interp(t, knots_t, knots_e)
    return e, t, 20.0 + 200.0 * t / t[-1]


def _tree(depth: int, rot: bool, seed: int) -> network.Network:
    rng = np.random.default_rng(seed)
    n = 2**depth
    R = (np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
         if rot else None)
    return network.complete_tree(depth, rng.uniform(0.2, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


def _max_rel(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("name", list(LAWS))
@pytest.mark.parametrize("mixed", [False, True], ids=["strain", "mixed"])
def test_homogeneous_limit_with_time_and_temperature(name, mixed):
    """A network whose leaves all carry the same rate law = that law (PhaseMaterial) ≤ 1e-8 on a
    load / hold / unload / reverse path with time and temperature, strain or mixed control."""
    spec = LAWS[name]
    e, t, T = _path()
    temp = T if "heated" in name else None
    if mixed:  # uniaxial stress along x1
        path, free = np.outer(e, [1, 0, 0, 0, 0, 0]), loadpath.ALL_BUT_11
        net = _tree(4, False, 3)
    else:
        rng = np.random.default_rng(1)
        d = rng.normal(size=6)
        path, free = np.outer(e, d / np.abs(d).max()), ()
        net = _tree(3, True, 2)
    ref = drive(PhaseMaterial(spec), path, free, time=t, temp=temp)
    got = drive(NetworkMaterial(net, [spec, spec], threads=1), path, free, time=t, temp=temp)
    assert _max_rel(got["stress"], ref["stress"]) <= 1e-8
    assert _max_rel(got["strain"], ref["strain"]) <= 1e-8
    assert np.allclose(got["fields"]["peeq"], ref["fields"]["peeq"], rtol=1e-8, atol=1e-12)
    # the path is inelastic, and the law is really rate dependent / felt the temperature: the
    # same path without time (dt = 0, elastic trial for a viscous law) or heating differs
    assert ref["fields"]["peeq"][-1] > 1e-3
    if name != "chaboche rate independent":
        s0 = drive(PhaseMaterial(spec), path, free, temp=temp)["stress"]
        assert _max_rel(s0, ref["stress"]) > 1e-2
    if temp is not None:
        s1 = drive(PhaseMaterial(spec), path, free, time=t)["stress"]
        assert _max_rel(s1, ref["stress"]) > 1e-2


def test_hold_relaxes_and_rates_matter():
    """Physics through the network: stress relaxes during a strain hold, and a faster ramp to
    the same strain gives a higher stress (viscoplastic matrix, elastic inclusion)."""
    net = _tree(3, True, 5)
    mat = NetworkMaterial(net, [VP, "elastic:E=400e3,nu=0.2"], threads=1)
    e, t, _ = _path()
    path = np.outer(e, [1, 0, 0, 0, 0, 0])
    r = drive(mat, path, loadpath.ALL_BUT_11, time=t)
    s = r["stress"][:, 0]
    hold = (t > 10.0) & (t <= 40.0)
    assert np.all(np.diff(s[hold]) <= 0) and s[hold][-1] < s[7] - 5.0  # MPa
    fast = drive(mat, path[:8], loadpath.ALL_BUT_11, time=t[:8] / 100.0)["stress"][-1, 0]
    assert fast > 1.05 * s[7]


def test_rate_law_without_time_column_is_one_line_error(tmp_path):
    net = _tree(2, False, 0)
    model_file.write(tmp_path / "m.dmn", net)
    e, _, _ = _path()
    loadpath.write_path(tmp_path / "p.csv", np.outer(e, [1, 0, 0, 0, 0, 0]))
    with pytest.raises(DriveError, match="rate dependent: the path needs a time column"):
        drive_model(DriveJob(model=tmp_path / "m.dmn", phases=[CREEP, CREEP], path=tmp_path / "p.csv"))
    # rate-independent laws (and a Chaboche without viscosity) keep working without a time column
    drive_model(DriveJob(model=tmp_path / "m.dmn", phases=[CHAB_RI, "elastic:E=1e5,nu=0.3"],
                         path=tmp_path / "p.csv"))


def test_path_csv_time_and_temperature_columns(tmp_path):
    e, t, T = _path()
    strains = np.outer(e, [1.0, -0.3, -0.3, 0.1, 0.0, 0.2])
    loadpath.write_path(tmp_path / "p.csv", strains, time=t, temp=T)
    lp = loadpath.read_load_path(tmp_path / "p.csv")
    assert np.allclose(lp.strain, strains, rtol=1e-15)
    assert np.array_equal(lp.time, t) and np.array_equal(lp.temp, T)
    assert np.array_equal(loadpath.read_path(tmp_path / "p.csv"), lp.strain)
    dt, T0, dT = lp.increments()
    assert dt[0] == t[0] and np.allclose(np.cumsum(dt), t) and T0[0] == T[0] and np.allclose(T0 + dT, T)
    # columns in any order; a time that goes back, or a header naming unknown columns: one line
    (tmp_path / "q.csv").write_text("time,e11,e22,e33,e23,e13,e12\n1,0.001,0,0,0,0,0\n2,0.002,0,0,0,0,0\n")
    q = loadpath.read_load_path(tmp_path / "q.csv")
    assert np.array_equal(q.time, [1.0, 2.0]) and q.strain[1, 0] == 0.002 and q.temp is None
    (tmp_path / "b.csv").write_text("e11,e22,e33,e23,e13,e12,time\n0.001,0,0,0,0,0,2\n0.002,0,0,0,0,0,1\n")
    with pytest.raises(loadpath.PathError, match="never decrease"):
        loadpath.read_load_path(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("e11,e22,e33,e23,e13,time,x\n0.001,0,0,0,0,0,2\n")
    with pytest.raises(loadpath.PathError, match="must name"):
        loadpath.read_load_path(tmp_path / "c.csv")


def test_dmn_drive_cli_with_time_column(tmp_path, capsys):
    """`dmn drive` end to end with a time (and temperature) column = the law driven directly."""
    net = _tree(2, False, 4)
    model_file.write(tmp_path / "m.dmn", net)
    e, t, T = _path()
    path = np.outer(e, [1, 0, 0, 0, 0, 0])
    loadpath.write_path(tmp_path / "p.csv", path, time=t, temp=T)
    argv = ["drive", str(tmp_path / "m.dmn"), "--phase", CHAB_T, "--phase", CHAB_T, "--path",
            str(tmp_path / "p.csv"), "--stress-free", "22,33,23,13,12", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    lp = loadpath.read_load_path(tmp_path / "p.csv")
    ref = drive(PhaseMaterial(CHAB_T), lp.strain, loadpath.ALL_BUT_11, time=lp.time, temp=lp.temp)
    assert _max_rel(np.array(out["stress"]), ref["stress"]) <= 1e-8
    # the same file without its time column: refused in one line
    loadpath.write_path(tmp_path / "p0.csv", path)
    argv[7] = str(tmp_path / "p0.csv")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs a time column" in err and err.count("\n") == 1


def test_dns_takes_the_time_column():
    """The FFT DNS with the same time / temperature path: a homogeneous RVE = the law."""
    from dmn_umat.rve import fft

    e, t, T = _path()
    path = np.outer(e, [1, 0, 0, 0, 0, 0])
    micro = np.zeros((2, 2, 2), dtype=np.int64)
    micro[0] = 1
    ph = parse_phase(VP_T)
    res = fft.dns(micro, [ph, ph], path, stress_free=loadpath.ALL_BUT_11, times=t, temps=T)
    ref = drive(PhaseMaterial(ph), path, loadpath.ALL_BUT_11, time=t, temp=T)
    assert _max_rel(res.stress, ref["stress"]) <= 1e-7
    assert np.allclose(res.fields["peeq"][:, 0], ref["fields"]["peeq"], rtol=1e-7, atol=1e-12)


# ----------------------------------------------------------------------------- C ABI
def _increments(n: int = 12):
    """Uniaxial strain e11 up to 0.8 %, then held: (total strain (n,), dt (n,), temp0 (n,), dtemp (n,))."""
    e = np.concatenate([np.linspace(0.0008, 0.008, 10), [0.008] * (n - 10)])
    dt = np.full(n, 2.0)
    T = 20.0 + 10.0 * np.arange(n + 1)
    return e, dt, T[:-1], np.diff(T)


def _law_reference(spec, e, dt, temp0, dtemp):
    mat = PhaseMaterial(spec)
    st = mat.initial_state(1)
    out = []
    for k in range(e.size):
        eps = np.zeros((1, 6))
        eps[0, 0] = e[k]
        s, _, st, status = mat.update(eps, st, dt[k], temp0[k], dtemp[k])
        assert status[0] == 0
        out.append(s[0])
    return np.array(out)


def test_umat_cfunc_passes_dtime_temp_dtemp():
    """The UMAT kernel (cfunc, called through its C address as libdmn.c does) with DTIME, TEMP
    and DTEMP on a homogeneous creep / heated-vp network = the law; DTIME = 0 is elastic."""
    import ctypes

    from dmn_umat.abi import cfuncs, deck, runtime

    e, dt, T0, dT = _increments()
    for spec in (CREEP, VP_T):
        ph = parse_phase(spec)
        net = _tree(2, True, 6)
        props = deck.props_vector([ph, ph])
        m = runtime.open_model_from_network(net, props)
        V, L, D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
        f = ctypes.CFUNCTYPE(ctypes.c_int32, V, L, V, L, L, V, L, V, V, L, V, V, V, L, V, V, L, V, D, D, D)(
            cfuncs.umat_point.address)
        sv = np.zeros(m["nsv"])
        stress = np.zeros(6)
        work = np.zeros(m["nwork_umat"])
        got = []
        for k in range(e.size):
            stran = np.zeros(6)
            stran[0] = e[k - 1] if k else 0.0
            dstran = np.zeros(6)
            dstran[0] = e[k] - stran[0]
            dd, pn, info = np.zeros(36), np.array([1.0]), np.zeros(4)
            r = f(m["mi"].ctypes.data, m["mi"].size, m["mf"].ctypes.data, m["mf"].size,
                  m["nphase"], props.ctypes.data, props.size, stran.ctypes.data, dstran.ctypes.data, 6,
                  stress.ctypes.data, dd.ctypes.data, sv.ctypes.data, m["nsv"], pn.ctypes.data,
                  work.ctypes.data, work.size, info.ctypes.data, dt[k], T0[k], dT[k])
            assert r - cfuncs.RET_BASE == 0
            got.append(stress.copy())
        ref = _law_reference(spec, e, dt, T0, dT)
        voigt = np.array(got)  # Voigt 11,22,33,12,13,23: normal components equal Mandel's
        assert _max_rel(voigt[:, :3], ref[:, :3]) <= 1e-8
        # the stress relaxes during the hold (creep; vp: viscous flow and softening with heat)
        assert ref[-1, 0] < ref[9, 0] - 1.0  # MPa


LIB_HARNESS = textwrap.dedent(r"""
    import ctypes, json, sys
    import numpy as np
    spec = json.load(open(sys.argv[1]))
    lib = ctypes.CDLL(spec["lib"])
    lib.dmn_last_error.restype = ctypes.c_char_p
    P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    D = ctypes.c_double
    props = np.array(spec["props"])
    h = lib.dmn_open(spec["model"].encode(), P(props), props.size)
    nsv = lib.dmn_nstate(h)
    out = {"batch_t": [], "batch": [], "umat": []}
    s_api = np.zeros(nsv)
    for e, dt, t0, dT in zip(spec["e"], spec["dt"], spec["t0"], spec["dT"]):
        eps = np.array([e, 0, 0, 0, 0, 0.0]); sn = np.zeros(nsv)
        sig, C, info = np.zeros(6), np.zeros(36), np.zeros(4)
        r = lib.dmn_eval_batch_t(h, 1, D(dt), D(t0), D(dT), P(eps), P(s_api), P(sig), P(C), P(sn),
                                 P(info))
        assert r == 0, lib.dmn_last_error()
        s_api = sn
        out["batch_t"].append(sig.tolist())
    # the old entry point: dt = 0 (rate independent): a creep law answers elastically
    eps = np.array([spec["e"][0], 0, 0, 0, 0, 0.0]); sig, C, sn = np.zeros(6), np.zeros(36), np.zeros(nsv)
    assert lib.dmn_eval_batch(h, 1, P(eps), P(np.zeros(nsv)), P(sig), P(C), P(sn), None) == 0
    out["batch"] = sig.tolist()
    bad = lib.dmn_eval_batch_t(h, 1, D(-1.0), D(0.0), D(0.0), P(eps), P(np.zeros(nsv)), P(sig), P(C),
                               P(sn), None)
    out["negative_dt"] = [bad, lib.dmn_last_error().decode()]
    # umat_ with DTIME / TEMP / DTEMP (Fortran convention, all by reference)
    I = lambda v: ctypes.byref(ctypes.c_int(v))
    R = lambda v: ctypes.byref(ctypes.c_double(v))
    sv, stress = np.zeros(nsv), np.zeros(6)
    prev = 0.0
    name = b"DMN"
    for e, dt, t0, dT in zip(spec["e"], spec["dt"], spec["t0"], spec["dT"]):
        stran = np.array([prev, 0, 0, 0, 0, 0.0]); dstran = np.array([e - prev, 0, 0, 0, 0, 0.0])
        dd, z = np.zeros(36), np.zeros(64)
        lib.umat_(P(stress), P(sv), P(dd), P(z), P(z), P(z), P(z), P(z), P(z), P(z), P(stran), P(dstran),
                  P(np.zeros(2)), R(dt), R(t0), R(dT), P(z), P(z), name, I(3), I(3), I(6), I(nsv), P(props),
                  I(props.size), P(z), P(z), P(np.ones(1)), P(z), P(z), P(z), I(1), I(1), I(0), I(0), I(1),
                  I(1), ctypes.c_size_t(len(name)))
        prev = e
        out["umat"].append(stress.tolist())
    print(json.dumps(out))
""")


def test_c_api_and_umat_take_dtime(tmp_path):
    """The built library: dmn_eval_batch_t and umat_ pass dt / DTIME, TEMP, DTEMP (homogeneous
    creep network = the law ≤ 1e-8); dmn_eval_batch keeps working (dt = 0: elastic creep)."""
    from dmn_umat.abi import deck
    from dmn_umat.abi.build import ensure_library

    lib = ensure_library()
    net = _tree(2, False, 8)
    model_file.write(tmp_path / "m.dmn", net)
    ph = parse_phase(CREEP_PLAST)
    props = deck.props_vector([ph, ph])
    e, dt, T0, dT = _increments()
    (tmp_path / "h.py").write_text(LIB_HARNESS)
    job = {"lib": str(lib), "model": str(tmp_path / "m.dmn"), "props": props.tolist(), "e": e.tolist(),
           "dt": dt.tolist(), "t0": T0.tolist(), "dT": dT.tolist()}
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = dict(os.environ, DMN_UMAT_MODEL=str(tmp_path / "m.dmn"))
    r = subprocess.run([sys.executable, str(tmp_path / "h.py"), str(tmp_path / "job.json")],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.splitlines()[-1])
    ref = _law_reference(CREEP_PLAST, e, dt, T0, dT)
    assert _max_rel(np.array(out["batch_t"]), ref) <= 1e-8
    assert _max_rel(np.array(out["umat"])[:, :3], ref[:, :3]) <= 1e-8
    C = parse_phase(CREEP_PLAST).stiffness()
    assert np.allclose(out["batch"], C[:, 0] * e[0], rtol=1e-10)
    assert out["negative_dt"][0] == -1 and "dt must be finite and >= 0" in out["negative_dt"][1]


def test_deck_prints_and_reads_back_the_new_laws():
    """`dmn abi deck`'s material block holds the new laws' PROPS (id, head, temperature block,
    law constants) and NSTATV; the PROPS parse back to the same props table."""
    from dmn_umat.abi import deck

    net = _tree(2, False, 9)
    for specs in ([VP_T, CREEP], [CHAB_T, "elastic:E=1e5,nu=0.3"]):
        phases = [parse_phase(s) for s in specs]
        block = deck.material_block(net, phases)
        props = deck.props_vector(phases)
        assert f"CONSTANTS={props.size}" in block
        # the constants, less the temperature CalculiX reads after them
        values = [float(v) for ln in block.splitlines()[2:-2] for v in ln.split(",")][:-1]
        assert np.array_equal(values, props)
        table = deck.parse_props(props, 2)
        assert all(np.array_equal(table[i, : p.props.size], p.props) for i, p in enumerate(phases))
        nsv = int(block.splitlines()[-1])
        assert nsv == NetworkMaterial(net, phases).nstate


def test_dmn_dns_cli_reads_the_time_column(tmp_path, capsys):
    """`dmn dns` with a time/temperature column = the law (homogeneous RVE); without one a rate
    law is refused in one line."""
    e, t, T = _path()
    path = np.outer(e, [1, 0, 0, 0, 0, 0])
    loadpath.write_path(tmp_path / "p.csv", path, time=t, temp=T)
    loadpath.write_path(tmp_path / "p0.csv", path)
    np.save(tmp_path / "m.npy", np.zeros((2, 2, 2), dtype=np.int64))
    argv = ["dns", str(tmp_path / "m.npy"), "--phase", VP_T, "--path", str(tmp_path / "p.csv"),
            "--stress-free", "22,33,23,13,12", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    ref = drive(PhaseMaterial(VP_T), path, loadpath.ALL_BUT_11, time=t, temp=T)
    assert _max_rel(np.array(out["stress"]), ref["stress"]) <= 1e-7
    argv[5] = str(tmp_path / "p0.csv")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs a time column" in err and err.count("\n") == 1
