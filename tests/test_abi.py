"""libdmn_umat: PROPS/deck layout, model selection, cache keying, Voigt boundary, the cfuncs in
process and the shared library through its C entry points (failure behaviour included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dmn_umat import model_file, tensors
from dmn_umat.abi import cachekey, deck, runtime, selftest
from dmn_umat.laws import parse_phase
from dmn_umat.network import Network

J2 = "j2:E=70000,nu=0.33,sy=120,H=800,Q=40,b=30,Hk=500"
EL = "elastic:E=380000,nu=0.22"


# --------------------------------------------------------------------------- pure Python
def test_material_key_rules():
    assert runtime.material_key("@ABAQUS_DMN") == ""
    assert runtime.material_key("@abaqus_dmn@fibre-1      ") == "FIBRE_1"
    assert runtime.material_key("@ABAQUS_DMN_UMAT@SPHERES") == "SPHERES"
    assert runtime.material_key("composite") == "COMPOSITE"


def test_resolve_model(tmp_path):
    a, b = tmp_path / "a.dmn", tmp_path / "b.dmn"
    a.write_bytes(b"x")
    b.write_bytes(b"y")
    env = {"DMN_UMAT_MODEL": str(a), "DMN_UMAT_MODEL_FIBRE": str(b)}
    assert runtime.resolve_model("@ABAQUS_DMN@fibre", env) == b
    assert runtime.resolve_model("@ABAQUS_DMN@OTHER", env) == a
    assert runtime.resolve_model("@ABAQUS_DMN", env) == a
    with pytest.raises(runtime.ABIError, match="DMN_UMAT_MODEL_X or DMN_UMAT_MODEL"):
        runtime.resolve_model("@ABAQUS_DMN@X", {})
    with pytest.raises(runtime.ABIError, match="not found"):
        runtime.resolve_model("M", {"DMN_UMAT_MODEL_M": str(tmp_path / "missing.dmn")})


def test_props_layout_roundtrip_and_errors():
    phases = [parse_phase(J2), parse_phase(EL)]
    v = deck.props_vector(phases)
    assert v.size == 8 + 3 and v[0] == 2 and v[8] == 0
    table = deck.parse_props(v, 2)
    np.testing.assert_array_equal(table[0, :8], phases[0].props)
    np.testing.assert_array_equal(table[1, :3], phases[1].props)
    with pytest.raises(deck.DeckError, match="2 phases"):
        deck.parse_props(v[:8], 2)
    with pytest.raises(deck.DeckError, match="use 11"):
        deck.parse_props(np.append(v, 1.0), 2)
    bad = v.copy()
    bad[0] = 7
    with pytest.raises(deck.DeckError, match=r"PROPS\(1\) = 7 is not a law id") as err:
        deck.parse_props(bad, 2)
    assert "np." not in str(err.value)  # plain numbers, not numpy reprs
    bad = v.copy()
    bad[3] = -1.0
    with pytest.raises(deck.DeckError, match="sy > 0"):
        deck.parse_props(bad, 2)


def test_material_block_calculix_layout():
    net = selftest.example_network()
    aniso = "3e5;1e4;1e4;1e3;1e3;1e3;2.5e5;1e4;1e3;1e3;1e3;2e5;1e3;1e3;1e3;1e5;1e3;1e3;1e5;1e3;"
    aniso += "1.23456789012345e5"
    phases = [parse_phase(J2), parse_phase("aniso:C=" + aniso)]
    block = deck.material_block(net, phases, "@ABAQUS_DMN@TEST")
    lines = block.strip().splitlines()
    assert lines[0] == "*MATERIAL, NAME=@ABAQUS_DMN@TEST"
    n = int(lines[1].split("=")[1])
    assert n == 8 + 22
    assert lines[-2] == "*DEPVAR" and int(lines[-1]) == deck.nstatv(net, phases)
    fields = [f.strip() for ln in lines[2:-2] for f in ln.split(",")]
    assert all(len(ln.split(",")) <= 8 for ln in lines[2:-2])
    assert len(lines[2:-2]) == n // 8 + 1  # CalculiX reads n // 8 + 1 lines: constants then temperature
    assert len(fields) == n + 1 and all(len(f) <= 20 for f in fields)
    np.testing.assert_allclose([float(f) for f in fields[:n]], deck.props_vector(phases), rtol=1e-15)
    # layout of the state: leaf states + 3 per internal node + 6
    n_j2_leaves = sum(1 for k in net.leaves if net.phase[k] == 0)
    assert deck.nstatv(net, phases) == 7 * n_j2_leaves + 3 * len(net.internal) + 6
    with pytest.raises(deck.DeckError, match="2 phases"):
        deck.material_block(net, phases[:1])


def test_cache_key_follows_helper_sources(tmp_path):
    """ABI.md pitfall 6: a change in a helper module (not the cfunc's file) must change the key."""
    root = tmp_path / "dmn_umat"
    laws_files = [f"laws/{p.name}" for p in (cachekey.package_root() / "laws").glob("*.py")]
    for rel in ("tensors.py", *laws_files, "online/kernel.py", "abi/cfuncs.py", "abi/cachekey.py"):
        src = cachekey.package_root() / rel
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, root / rel)
    k0 = cachekey.cache_key(root)
    assert k0 == cachekey.cache_key(root)
    for rel in ("tensors.py", "laws/j2.py"):  # j2.py: reached through laws/update.py only
        p = root / rel
        p.write_text(p.read_text() + "\n# edit\n")
        k1 = cachekey.cache_key(root)
        assert k1 != k0
        k0 = k1
    (root / "laws" / "unrelated.py").write_text("x = 1\n")  # not imported by the kernels
    assert cachekey.cache_key(root) == k0
    law = root / "laws" / "j2.py"
    law.write_text(law.read_text() + "\nfrom . import unrelated  # noqa\n")
    k1 = cachekey.cache_key(root)
    assert k1 != k0
    (root / "laws" / "unrelated.py").write_text("x = 2\n")  # now a dependency
    assert cachekey.cache_key(root) != k1


# --------------------------------------------------------------------------- cfuncs in process
def _single_leaf(phase: int = 0) -> Network:
    return Network(np.array([[-1, -1]]), np.zeros((1, 3)), np.array([1.0]), np.array([phase]))


def _umat_call(net, props, stran, dstran, ntens, stress0=None, statev=None, call_props=None,
               dtime=0.0, temp=0.0, dtemp=0.0):
    """Call the compiled umat cfunc through its C address (ctypes), like libdmn.c does."""
    import ctypes

    from dmn_umat.abi import cfuncs

    m = runtime.open_model_from_network(net, props)
    V, L = ctypes.c_void_p, ctypes.c_int64
    D = ctypes.c_double
    argtypes = [V, L, V, L, L, V, L, V, V, L, V, V, V, L, V, V, L, V, D, D, D]
    f = ctypes.CFUNCTYPE(ctypes.c_int32, *argtypes)(cfuncs.umat_point.address)
    stress = np.zeros(ntens) if stress0 is None else np.array(stress0, float)
    dd = np.full(ntens * ntens, np.nan)
    sv = np.zeros(m["nsv"]) if statev is None else np.array(statev, float)
    pn = np.array([-1.0])
    work = np.zeros(m["nwork_umat"])
    info = np.zeros(4)
    stran = np.asarray(stran, float)
    dstran = np.asarray(dstran, float)
    props = np.asarray(props if call_props is None else call_props, float)

    def p(a):
        return a.ctypes.data

    r = f(p(m["mi"]), m["mi"].size, p(m["mf"]), m["mf"].size, m["nphase"], p(props), props.size, p(stran),
          p(dstran), ntens, p(stress), p(dd), p(sv), m["nsv"], p(pn), p(work), work.size, p(info),
          dtime, temp, dtemp)
    return r - cfuncs.RET_BASE, stress, dd.reshape(ntens, ntens, order="F"), sv, pn[0]


def test_umat_voigt_boundary_aniso():
    """DDSDDE of an anisotropic phase = Voigt/engineering form of its Mandel C (13/23 swap caught)."""
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6))
    C = A @ A.T + 6 * np.eye(6)
    vals = [C[i, j] for i in range(6) for j in range(i, 6)]
    props = np.array([1.0, *vals])
    eps_t = np.array([1e-3, -2e-4, 3e-4, 4e-4, -5e-4, 6e-4])  # tensor comps 11,22,33,23,13,12
    voigt = np.array([eps_t[0], eps_t[1], eps_t[2], 2 * eps_t[5], 2 * eps_t[4], 2 * eps_t[3]])
    st, stress, dd, _, _ = _umat_call(_single_leaf(), props, voigt * 0.4, voigt * 0.6, 6)
    assert st == 0
    sig_m = C @ tensors.tensor_components_to_mandel(eps_t)
    sig_t = tensors.mandel_to_tensor_components(sig_m)
    np.testing.assert_allclose(stress, sig_t[[0, 1, 2, 5, 4, 3]], rtol=1e-13)
    # Voigt stiffness by definition: sigma_voigt = D gamma_voigt
    D = np.zeros((6, 6))
    for j in range(6):
        e = np.zeros(6)
        e[j] = 1.0
        ten = np.array([e[0], e[1], e[2], e[5] / 2, e[4] / 2, e[3] / 2])
        s = tensors.mandel_to_tensor_components(C @ tensors.tensor_components_to_mandel(ten))
        D[:, j] = s[[0, 1, 2, 5, 4, 3]]
    np.testing.assert_allclose(dd, D, rtol=1e-13)
    # plane strain: the 11,22,33,12 block
    st, stress4, dd4, _, _ = _umat_call(_single_leaf(), props, voigt[:4] * 0.4, voigt[:4] * 0.6, 4)
    assert st == 0
    np.testing.assert_allclose(dd4, D[:4, :4], rtol=1e-13)


def test_umat_fd_tangent_and_state_composite():
    """Composite J2 network in the plastic range: DDSDDE matches finite differences of STRESS."""
    net = selftest.example_network()
    props = deck.props_vector([parse_phase(J2), parse_phase(EL)])
    v = np.array([4e-3, -1e-3, -1e-3, 2e-3, 1e-3, -1.5e-3])
    st, s0, dd, sv, _ = _umat_call(net, props, np.zeros(6), v, 6)
    assert st == 0 and np.abs(sv).max() > 0
    # plastic strain recorded in the leaf states: stress is not elastic
    st_el, _, dd_el, _, _ = _umat_call(net, props, np.zeros(6), v * 1e-3, 6)
    assert np.abs(dd - dd_el).max() > 1e-3 * np.abs(dd_el).max()
    h = 1e-8
    fd = np.zeros((6, 6))
    for j in range(6):
        dp, dm = v.copy(), v.copy()
        dp[j] += h
        dm[j] -= h
        sp = _umat_call(net, props, np.zeros(6), dp, 6)[1]
        sm = _umat_call(net, props, np.zeros(6), dm, 6)[1]
        fd[:, j] = (sp - sm) / (2 * h)
    assert np.abs(fd - dd).max() <= 1e-5 * np.abs(dd).max()


def test_umat_failure_outputs_in_process():
    net = selftest.example_network()
    props = deck.props_vector([parse_phase(J2), parse_phase(EL)])
    bad = np.array([1e-3, 0, 0, np.nan, 0, 0])
    st, stress, dd, sv, pn = _umat_call(net, props, np.zeros(6), bad, 6, stress0=np.arange(6.0), statev=None)
    assert st == 2 and 0 < pn < 1
    np.testing.assert_array_equal(stress, np.arange(6.0))  # start-of-increment stress
    assert np.all(np.isfinite(dd)) and np.all(np.diag(dd) > 0)
    assert np.all(sv == 0)
    st, *_ = _umat_call(net, props, np.zeros(6), np.zeros(6), 6, call_props=props[:-1])
    assert st == 10  # PROPS do not match the model


# --------------------------------------------------------------------------- the shared library
HARNESS = textwrap.dedent(
    r"""
    import ctypes, json, sys
    import numpy as np
    spec = json.load(open(sys.argv[1]))
    lib = ctypes.CDLL(spec["lib"])
    lib.dmn_last_error.restype = ctypes.c_char_p
    if spec.get("init_only"):
        r = lib.dmn_init()
        print(json.dumps({"init": r, "error": lib.dmn_last_error().decode()}), flush=True)
        sys.exit(0)
    P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    I = lambda v: ctypes.byref(ctypes.c_int(v))
    dum = np.zeros(9)
    for c in spec["calls"]:
        nt = c["ntens"]
        stress = np.array(c.get("stress", [0.0] * nt), float)
        dd = np.full(nt * nt, np.nan)
        sv = np.zeros(c["nstatv"] + 1)
        pn = np.array([-1.0])
        props = np.array(c["props"], float)
        stran = np.array(c["stran"], float)
        dstran = np.array(c["dstran"], float)
        name = c["name"].encode()
        lib.umat_(P(stress), P(sv), P(dd), *[P(dum)] * 7, P(stran), P(dstran), *[P(dum)] * 6,
                  ctypes.c_char_p(name), I(3), I(nt - 3), I(nt), I(c["nstatv"]), P(props), I(props.size),
                  P(dum), P(dum), P(pn), *[P(dum)] * 3, *[I(1)] * 6, ctypes.c_size_t(len(name)))
        print(json.dumps({"stress": stress.tolist(), "ddsdde": dd.tolist(), "pnewdt": pn[0],
                          "statev": sv[:-1].tolist()}), flush=True)
    """
)


@pytest.fixture(scope="module")
def libpath():
    from dmn_umat.abi.build import ensure_library

    return ensure_library()


@pytest.fixture(scope="module")
def composite(tmp_path_factory):
    d = tmp_path_factory.mktemp("abi_model")
    net = selftest.example_network()
    model_file.write(d / "model.dmn", net)
    props = deck.props_vector([parse_phase(J2), parse_phase(EL)])
    nsv = deck.nstatv(net, [parse_phase(J2), parse_phase(EL)])
    return d / "model.dmn", props, nsv


def _harness(tmp_path, libpath, calls, env_extra=None, init_only=False):
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"lib": str(libpath), "calls": calls, "init_only": init_only}))
    env = dict(os.environ, **(env_extra or {}))
    env.pop("DMN_UMAT_MODEL", None)
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, str(script), str(spec)], capture_output=True, text=True, env=env,
                       timeout=600)
    out = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    return r, out


def test_library_exports_only_its_api(libpath):
    r = subprocess.run(["nm", "-D", "--defined-only", str(libpath)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("nm not available")
    syms = {ln.split()[-1] for ln in r.stdout.splitlines() if ln.strip()}
    from dmn_umat.abi.build import EXPORTS

    assert syms == set(EXPORTS)
    assert (libpath.parent / "libDMN.so").resolve() == libpath.resolve()


def _call(props, nsv, dstran, name="DMN", **kw):
    return {"name": name, "ntens": 6, "nstatv": nsv, "props": list(map(float, props)), "stran": [0.0] * 6,
            "dstran": list(dstran), **kw}


def test_library_failures_cut_back(tmp_path, libpath, composite):
    model, props, nsv = composite
    nan = float("nan")
    voce = props.copy()
    voce[5], voce[6] = 1e300, 1e300  # Voce Q, b: Q b overflows, the J2 return mapping cannot converge
    calls = [
        _call(props, nsv, [2e-3, 0, 0, 0, 0, 0]),
        _call(props, nsv, [1e-3, 0, nan, 0, 0, 0], stress=[1.0, 2, 3, 4, 5, 6]),
        _call(voce, nsv, [2e-2, 0, 0, 0, 0, 0], name="DMN@VOCE"),
    ]
    r, out = _harness(tmp_path, libpath, calls, {"DMN_UMAT_MODEL": str(model)})
    assert r.returncode == 0, r.stderr
    assert len(out) == 3
    ok, nanres, newton = out
    assert ok["pnewdt"] == -1.0 and np.all(np.isfinite(ok["ddsdde"])) and np.abs(ok["stress"]).max() > 0
    assert 0 < nanres["pnewdt"] < 1 and nanres["stress"] == [1.0, 2, 3, 4, 5, 6]
    assert np.all(np.isfinite(nanres["ddsdde"])) and np.all(np.array(nanres["statev"]) == 0)
    assert 0 < newton["pnewdt"] < 1 and np.all(np.isfinite(newton["ddsdde"]))
    assert np.all(np.isfinite(newton["stress"]))
    assert "non-finite" in r.stderr and "material DMN -> model" in r.stderr
    # the library's kernels are in the keyed cache directory next to it (pitfall 6), compiled there
    # by the build (so the first call of an analysis loads machine code)
    assert list(cachekey.cache_dir(base=libpath.parent / "numba").rglob("cfuncs.umat_point-*.nbi"))


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "no model file; set DMN_UMAT_MODEL"),
        ("corrupt", "cannot read model"),
        ("nstatv", "NSTATV=3 but the model needs"),
        ("props", "PROPS too short: phase 1"),
    ],
)
def test_library_configuration_errors_stop_cleanly(tmp_path, libpath, composite, case, match):
    model, props, nsv = composite
    env = {"DMN_UMAT_MODEL": str(model)}
    call = _call(props, nsv, [1e-3, 0, 0, 0, 0, 0])
    if case == "missing":
        env = {}
    elif case == "corrupt":
        bad = tmp_path / "bad.dmn"
        data = bytearray(model.read_bytes())
        data[40] ^= 0xFF
        bad.write_bytes(bytes(data))
        env = {"DMN_UMAT_MODEL": str(bad)}
    elif case == "nstatv":
        call["nstatv"] = 3
    elif case == "props":
        call["props"] = call["props"][:-1]
    r, out = _harness(tmp_path, libpath, [call], env)
    assert r.returncode == 3 and out == []
    assert match in r.stderr and "stopping the analysis" in r.stderr


def test_library_failed_init_is_reported(tmp_path, libpath):
    """A broken Python side gives dmn_init() = -1 and a message, not a crash (C host)."""
    src = tmp_path / "t.c"
    src.write_text('#include <stdio.h>\n#include "dmn_umat.h"\nint main(void){int r = dmn_init();'
                   'printf("%d|%s\\n", r, dmn_last_error()); return r ? 7 : 0;}\n')
    exe = tmp_path / "t"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    subprocess.run([cc, str(src), "-o", str(exe), f"-I{libpath.parent}", f"-L{libpath.parent}", "-ldmn_umat",
                    f"-Wl,-rpath,{libpath.parent}"], check=True)
    env = dict(os.environ, PYTHONHOME="/bogus", PYTHONPATH="/bogus")
    r = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr  # isolated start: PYTHON* variables are ignored
    broken = tmp_path / "broken" / "numpy"  # DMN_UMAT_PYTHONPATH comes after the build's own tree
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('deliberately broken for the test')\n")
    env = dict(os.environ, DMN_UMAT_PYTHONPATH=str(broken.parent))
    r = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 7, r.stdout + r.stderr
    code, msg = r.stdout.split("|", 1)
    assert code == "-1" and "cannot import dmn_umat" in msg and "deliberately broken" in msg


BATCH_HARNESS = textwrap.dedent(
    r"""
    import ctypes, json, sys, threading
    import numpy as np
    from dmn_umat import model_file
    from dmn_umat.abi import deck
    from dmn_umat.online import kernel
    lib_path, model, props_json = sys.argv[1], sys.argv[2], sys.argv[3]
    lib = ctypes.CDLL(lib_path)  # ctypes releases the GIL during calls
    lib.dmn_last_error.restype = ctypes.c_char_p
    P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    props = np.array(json.loads(props_json), float)
    h = lib.dmn_open(model.encode(), P(props), props.size)
    assert h >= 1, lib.dmn_last_error()
    nsv = lib.dmn_nstate(h)
    n = 48
    rng = np.random.default_rng(3)
    eps = rng.normal(scale=3e-3, size=(n, 6))
    s_old = np.zeros((n, nsv))

    errors = []

    def run(lo, hi, out_s, out_c, out_n, info):
        try:
            _run(lo, hi, out_s, out_c, out_n, info)
        except BaseException as exc:
            errors.append(repr(exc))

    def _run(lo, hi, out_s, out_c, out_n, info):
        for _ in range(20):
            r = lib.dmn_eval_batch(h, hi - lo, P(eps[lo:hi].copy()), P(s_old[lo:hi].copy()), P(out_s[lo:hi]),
                                   P(out_c[lo:hi]), P(out_n[lo:hi]), P(info[lo:hi]))
            assert r == 0, (r, lib.dmn_last_error())

    res = []
    for nthreads in (1, 2):
        S, C, N, I = np.zeros((n, 6)), np.zeros((n, 6, 6)), np.zeros((n, nsv)), np.zeros((n, 4))
        cuts = [int(c) for c in np.linspace(0, n, nthreads + 1)]
        ts = [threading.Thread(target=run, args=(cuts[i], cuts[i + 1], S, C, N, I)) for i in range(nthreads)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert not errors, errors
        res.append((S, C, N))
    net = model_file.read(model)
    ptab = deck.parse_props(props, net.n_phases)
    mi, mf = kernel.pack_network(net)
    work = np.zeros(kernel.work_size(mi))
    ref = np.zeros((n, 6)); refC = np.zeros((n, 6, 6)); refN = np.zeros((n, nsv))
    for i in range(n):
        assert kernel.network_update(mi, mf, ptab, eps[i], s_old[i], ref[i], refC[i], refN[i], work,
                                     np.zeros(4)) == 0
    bad = lib.dmn_eval_batch(h + 100, 1, P(eps), P(s_old), P(ref), P(refC), P(refN), None)
    print(json.dumps({
        "threads_equal": bool(all(np.array_equal(a, b) for a, b in zip(res[0], res[1]))),
        "err_stress": float(np.abs(res[0][0] - ref).max() / np.abs(ref).max()),
        "err_tangent": float(np.abs(res[0][1] - refC).max() / np.abs(refC).max()),
        "err_state": float(np.abs(res[0][2] - refN).max() / max(np.abs(refN).max(), 1e-300)),
        "bad_handle": bad, "bad_msg": lib.dmn_last_error().decode(), "close": lib.dmn_close(h),
        "plastic": bool(np.abs(refN[:, :6]).max() > 0)}))
    """
)


def test_library_batch_api_threads_match_kernel(tmp_path, libpath, composite):
    """dmn_eval_batch from 1 and 2 threads (library loaded into a running Python) = the kernel."""
    model, props, _ = composite
    script = tmp_path / "batch.py"
    script.write_text(BATCH_HARNESS)
    r = subprocess.run([sys.executable, str(script), str(libpath), str(model), json.dumps(props.tolist())],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["threads_equal"] and res["plastic"]
    assert res["err_stress"] <= 1e-13 and res["err_tangent"] <= 1e-13 and res["err_state"] <= 1e-13
    assert res["bad_handle"] == -1 and "invalid or closed handle" in res["bad_msg"]
    assert res["close"] == 0


def test_cli_abi_deck(tmp_path, capsys):
    from dmn_umat.cli import main

    net = selftest.example_network()
    model_file.write(tmp_path / "m.dmn", net)
    args = ["abi", "deck", str(tmp_path / "m.dmn"), "--phase", J2, "--phase", EL, "--name", "@ABAQUS_DMN@M"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out == deck.material_block(net, [parse_phase(J2), parse_phase(EL)], "@ABAQUS_DMN@M")
    assert main(["abi", "deck", str(tmp_path / "m.dmn"), "--phase", J2, "--json"]) == 2
    err = capsys.readouterr().err
    assert "2 phases but 1 phase laws" in err and err.count("\n") == 1
    assert main(["abi", "deck", str(tmp_path / "missing.dmn"), "--phase", J2]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_library_concurrent_cold_start(tmp_path, libpath):
    """ABI.md pitfall 8: several processes cold-starting on one empty numba cache are all correct."""
    d = tmp_path / "st"
    selftest.setup(d)
    cc = shutil.which("cc") or shutil.which("gcc")
    exe = tmp_path / "drv"
    src = Path(__file__).resolve().parent.parent / "fortran_bridge" / "drivers" / "dmn_driver_c.c"
    inc = Path(__file__).resolve().parent.parent / "fortran_bridge" / "include"
    subprocess.run([cc, "-O2", str(src), "-o", str(exe), f"-I{inc}", f"-L{libpath.parent}", "-ldmn_umat",
                    f"-Wl,-rpath,{libpath.parent}", "-lpthread"], check=True)
    env = dict(os.environ, DMN_UMAT_MODEL=str(d / "model.dmn"), DMN_UMAT_NUMBA_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen([str(exe), str(d / "props.txt"), str(d / "path.csv")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=1800) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    net = model_file.read(d / "model.dmn")
    from dmn_umat import loadpath

    ref = selftest.python_driver(net, np.loadtxt(d / "props.txt"), loadpath.read_path(d / "path.csv"))
    for out, _ in outs:
        got = np.loadtxt(out.splitlines(), ndmin=2)
        assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max()


def test_library_built_in_a_venv_embeds_the_venv(tmp_path):
    """ABI.md pitfall 2: a library built by a venv's python starts *that* environment (its
    site-packages, found through pyvenv.cfg), even when the host has no idea of the venv."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True)
    vpy = venv / "bin" / "python"
    site = subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # a .pth line runs at site initialization: visible only if the venv's site-packages is used
    Path(site, "dmn_venv_probe.pth").write_text("import os; os.environ['DMN_VENV_PROBE'] = '1'\n")
    out = tmp_path / "lib"
    subprocess.run([str(vpy), "-m", "dmn_umat.abi.build", "--out", str(out), "--no-warm"], check=True,
                   capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    src = tmp_path / "t.c"
    src.write_text('#include <stdio.h>\n#include <stdlib.h>\n#include "dmn_umat.h"\n'
                   'int main(void){int r = dmn_init(); const char *v = getenv("DMN_VENV_PROBE");'
                   'printf("%d|%s|%s\\n", r, v ? v : "-", dmn_last_error()); return r;}\n')
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "t"
    subprocess.run([cc, str(src), "-o", str(exe), f"-I{out}", f"-L{out}", "-ldmn_umat", f"-Wl,-rpath,{out}"],
                   check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    from dmn_umat.abi.build import ensure_library

    env["DMN_UMAT_NUMBA_CACHE"] = str(ensure_library().parent / "numba")  # compiled there already
    r = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("0|1|"), r.stdout


HANDLE_HARNESS = textwrap.dedent(
    r"""
    import ctypes, json, sys
    import numpy as np
    lib_path, model, props_json, n_open = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    lib = ctypes.CDLL(lib_path)
    lib.dmn_last_error.restype = ctypes.c_char_p
    P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    props = np.array(json.loads(props_json), float)
    first = lib.dmn_open(model.encode(), P(props), props.size)
    lib.dmn_close(first)
    handles, failed = set(), []
    for i in range(n_open):
        h = lib.dmn_open(model.encode(), P(props), props.size)
        if h < 1:
            failed.append((i, lib.dmn_last_error().decode()))
            break
        handles.add(h)
        assert lib.dmn_close(h) == 0
    h = lib.dmn_open(model.encode(), P(props), props.size)
    nsv = lib.dmn_nstate(h)
    eps = np.array([[1e-3, 0, 0, 0, 0, 0], [float("nan"), 0, 0, 0, 0, 0], [2e-3, 0, 0, 0, 0, 0]])
    s_old = np.zeros((3, nsv))
    out = [np.zeros((3, 6)), np.zeros((3, 6, 6)), np.zeros((3, nsv)), np.zeros((3, 4))]
    nbad = lib.dmn_eval_batch(h, 3, P(eps), P(s_old), *map(P, out))
    nan_msg = lib.dmn_last_error().decode()
    print(json.dumps({"failed": failed, "distinct": len(handles), "stale_nstate": lib.dmn_nstate(first),
                      "stale_close": lib.dmn_close(first), "stale_msg": lib.dmn_last_error().decode(),
                      "nbad": nbad, "status": out[3][:, 2].tolist(), "nan_msg": nan_msg,
                      "close": lib.dmn_close(h)}))
    """
)


def test_library_close_frees_handles_and_batch_failures_have_a_message(tmp_path, libpath, composite):
    """Open/close more models than there are slots (closed slots are reused, a closed handle never
    becomes valid again); a batch with a NaN strain says which point failed and why."""
    model, props, _ = composite
    script = tmp_path / "handles.py"
    script.write_text(HANDLE_HARNESS)
    args = [str(libpath), str(model), json.dumps(props.tolist()), "2100"]
    r = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["failed"] == [] and res["distinct"] == 2100
    assert res["stale_nstate"] == -1 and res["stale_close"] == -1 and "closed handle" in res["stale_msg"]
    assert res["nbad"] == 1 and res["status"] == [0.0, 2.0, 0.0] and res["close"] == 0
    assert "1 of 3 points failed" in res["nan_msg"] and "point 1" in res["nan_msg"]
    assert "non-finite" in res["nan_msg"] and "strain" in res["nan_msg"]


INIT_PROBE = ('#include <stdio.h>\n#include "dmn_umat.h"\nint main(void){int r = dmn_init();'
              'printf("%d|%s\\n", r, dmn_last_error()); return 0;}\n')


def test_library_runs_the_source_it_was_built_from(tmp_path):
    """A library built from one copy of the package runs that copy (not the installed one, nor one
    on DMN_UMAT_PYTHONPATH), and refuses, with a clear message, edited sources or a host that
    already imported another copy."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    root = Path(__file__).resolve().parent.parent
    copy = tmp_path / "copy"
    shutil.copytree(cachekey.package_root(), copy / "dmn_umat", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "fortran_bridge" / "include", copy / "fortran_bridge" / "include")
    rt = copy / "dmn_umat" / "abi" / "runtime.py"
    rt.write_text(rt.read_text() + textwrap.dedent("""

        def py_init(ffi, kernels, err, errlen):  # this copy's kernel start-up: identifiable
            _write_err(ffi, err, errlen, "COPY-MARKER: the copy's runtime ran")
            return 0
        """))
    lib = tmp_path / "lib"
    r = subprocess.run([sys.executable, "-m", "dmn_umat.abi.build", "--out", str(lib), "--no-warm"], cwd=copy,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (tmp_path / "t.c").write_text(INIT_PROBE)
    exe = tmp_path / "t"
    subprocess.run([cc, str(tmp_path / "t.c"), "-o", str(exe), f"-I{lib}", f"-L{lib}", "-ldmn_umat",
                    f"-Wl,-rpath,{lib}"], check=True)

    def init(**env_extra) -> tuple[int, str]:
        env = {k: v for k, v in os.environ.items() if k != "DMN_UMAT_PYTHONPATH"}
        env.update(env_extra)
        r = subprocess.run([str(exe)], capture_output=True, text=True, env=env, timeout=600)
        code, msg = r.stdout.split("|", 1)
        return int(code), msg

    # the installed dmn_umat (this checkout) is importable, but the copy's code runs
    code, msg = init()
    assert code == -1 and "COPY-MARKER" in msg, msg
    code, msg = init(DMN_UMAT_PYTHONPATH=str(root))
    assert code == -1 and "COPY-MARKER" in msg, msg
    # a host Python that already runs another dmn_umat: refused, naming both copies
    probe = ("import ctypes, sys, dmn_umat; lib = ctypes.CDLL(sys.argv[1]); "
             "lib.dmn_last_error.restype = ctypes.c_char_p; "
             "print(lib.dmn_init(), lib.dmn_last_error().decode())")
    r = subprocess.run([sys.executable, "-c", probe, str(lib / "libdmn_umat.so")], capture_output=True,
                       text=True, cwd=root, timeout=600)
    assert r.stdout.startswith("-1 "), r.stdout + r.stderr
    assert f"built from {copy / 'dmn_umat'}" in r.stdout
    assert f"runs dmn_umat from {root / 'dmn_umat'}" in r.stdout
    # the copy's kernel edited after the build: refused (rebuild), never run
    k = copy / "dmn_umat" / "online" / "kernel.py"
    k.write_text(k.read_text() + "\n# edited after the build\n")
    code, msg = init()
    assert code == -1 and "changed since this library was built" in msg and "COPY-MARKER" not in msg, msg


def _check_first_run_compiles_nothing(tmp_path: Path, seed: Path | None = None) -> None:
    """Build a library into ``tmp_path/lib`` (its ``numba/`` first filled with a copy of ``seed``
    when given), then run the C driver through umat_ and the C API: numba must add or rewrite no
    cache file."""
    from dmn_umat.abi.build import build

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    if seed is not None:
        shutil.copytree(seed, tmp_path / "lib" / "numba")
    lib = build(tmp_path / "lib")
    root = Path(__file__).resolve().parent.parent
    exe = tmp_path / "drv"
    subprocess.run([cc, "-O2", str(root / "fortran_bridge" / "drivers" / "dmn_driver_c.c"), "-o", str(exe),
                    f"-I{root / 'fortran_bridge' / 'include'}", f"-L{lib.parent}", "-ldmn_umat",
                    f"-Wl,-rpath,{lib.parent}", "-lpthread"], check=True)
    d = tmp_path / "st"
    selftest.setup(d)
    env = {k: v for k, v in os.environ.items() if k != "DMN_UMAT_NUMBA_CACHE"}
    env["DMN_UMAT_MODEL"] = str(d / "model.dmn")

    def cache_files() -> dict:
        return {str(f): (f.stat().st_mtime_ns, f.stat().st_size) for f in (lib.parent / "numba").rglob("*")}

    before = cache_files()
    assert [f for f in before if "umat_point" in f] and [f for f in before if "kernel.state_size" in f]
    for extra in ([], ["--bench", "10", "--api"]):
        r = subprocess.run([str(exe), *extra, str(d / "props.txt"), str(d / "path.csv")], capture_output=True,
                           text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
    assert cache_files() == before  # nothing compiled (numba would have saved it)


def test_build_self_test_fills_the_cache_the_library_loads(tmp_path, libpath):
    """Fast variant: a fresh build whose ``DIR/numba`` holds a copy of the kernels compiled for the
    session's library (so the build's self-test only loads them): the library's first runs find
    every kernel in its own ``DIR/numba`` and compile nothing.  From an empty cache (what the
    build's self-test alone must compile): the slow test below."""
    _check_first_run_compiles_nothing(tmp_path, seed=libpath.parent / "numba")


@pytest.mark.slow
def test_build_precompiles_so_the_first_run_compiles_nothing(tmp_path):
    """dmn abi build runs the library's self-test, so the first runs of a fresh library (umat_ and
    the C API) only load machine code from DIR/numba: numba adds or rewrites no cache file (a
    full compilation of the kernels: ~1 min on two cores)."""
    _check_first_run_compiles_nothing(tmp_path)
