"""libdmn_umat: per-call cost through the C ABI vs the kernel called in process, thread
scaling, and cold/warm start-up.  Prints a table (``--json`` for machine-readable output).

    python benchmarks/bench_abi.py [--calls 200000] [--repeat 5] [--json] [--startup-only | --no-startup]

Rows:
- ``kernel (numba, in process)``: ``network_update`` in an @njit loop, same inputs every call
  (fresh state, so every call does the same work) — the reference cost.
- ``batch``: the in-process batched material (``NetworkMaterial.update``, 1 thread), per point.
- ``cfunc``: the same kernel through the ABI's cfunc address (what the library calls), from an
  @njit loop in the same process on the same arrays, runs interleaved with the kernel row.
  ``overhead`` = cfunc − kernel: the ABI's own cost per call (acceptance: ≤ 10 ns).
- ``C API dmn_eval_batch(n=1)``: one C call per point from the C driver (function pointer →
  numba cfunc → kernel), separate process.
- ``umat_``: the full Abaqus entry (material lookup, PROPS parsing, Voigt conversion, STATEV).
- threads: calls/s of ``umat_`` with 1 and 2 threads (C driver, pthreads), ratio.
- start-up: wall time of a 1-call C driver run (process start → first UMAT call served → exit):
  ``cold`` with an empty numba cache (``$DMN_UMAT_NUMBA_CACHE`` = fresh directory: what every
  first run paid before ``dmn abi build`` precompiled the kernels), ``first run after build``
  = the first run of a library freshly built with ``build()`` (kernels compiled at build time
  into ``DIR/numba``; the build's own time is printed too), ``warm`` = later runs (minimum).
  ``--startup-only`` runs just this part.

Two models: a one-leaf elastic "network" (kernel cost small, so the ABI overhead is visible)
and the depth-3 J2/elastic composite of :mod:`dmn_umat.abi.selftest` (plastic point).
Timings are minima over ``--repeat`` runs; the machine is shared, so read ratios, not digits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

from dmn_umat import model_file, tensors
from dmn_umat.abi import deck, selftest
from dmn_umat.abi.build import build, ensure_library
from dmn_umat.laws import parse_phase
from dmn_umat.network import Network
from dmn_umat.online import kernel

ROOT = Path(__file__).resolve().parent.parent


@njit(cache=True)
def _kernel_loop(n, mi, mf, ptab, strain, s_old, stress, C, s_new, work, info):
    acc = 0.0
    for _ in range(n):
        kernel.network_update(mi, mf, ptab, strain, s_old, stress, C, s_new, work, info)
        acc += stress[0]
    return acc


_POINT = None


def _point_fn():
    """The ABI's ``point`` cfunc as a ctypes function pointer (callable from @njit code)."""
    global _POINT
    if _POINT is None:
        import ctypes

        from dmn_umat.abi import cfuncs

        V, L = ctypes.c_void_p, ctypes.c_int64
        proto = ctypes.CFUNCTYPE(ctypes.c_int32, V, L, V, L, V, L, V, V, L, V, V, V, V, L, V)
        _POINT = proto(cfuncs.point.address)
    return _POINT


def _make_cfunc_loop():
    f = _point_fn()

    @njit
    def loop(n, mi, nmi, mf, nmf, pt, nph, e, so, nsv, s, C, sn, w, nw, info):
        acc = 0.0
        for _ in range(n):
            f(mi, nmi, mf, nmf, pt, nph, e, so, nsv, s, C, sn, w, nw, info)
        return acc

    return loop


def kernel_ns(net, props, strain_mandel, calls: int, repeat: int) -> tuple[float, float]:
    """(ns per call of the kernel from an @njit loop, ns per call of the same kernel through the
    ABI's cfunc address from an @njit loop) — same process, same arrays, interleaved runs."""
    ptab = deck.parse_props(props, net.n_phases)
    mi, mf = kernel.pack_network(net)
    nsv = int(kernel.state_size(mi, ptab))
    args = (mi, mf, ptab, np.array(strain_mandel, float), np.zeros(nsv), np.zeros(6), np.zeros((6, 6)),
            np.zeros(nsv), np.zeros(int(kernel.work_size(mi))), np.zeros(4))
    mi_, mf_, pt, e, so, s, C, sn, w, info = args
    p = [a.ctypes.data for a in args]
    cargs = (p[0], mi.size, p[1], mf.size, p[2], ptab.shape[0], p[3], p[4], nsv, p[5], p[6], p[7], p[8],
             w.size, p[9])
    cloop = _make_cfunc_loop()
    _kernel_loop(10, *args)
    cloop(10, *cargs)
    best_k = best_c = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        _kernel_loop(calls, *args)
        best_k = min(best_k, time.perf_counter() - t)
        t = time.perf_counter()
        cloop(calls, *cargs)
        best_c = min(best_c, time.perf_counter() - t)
    return 1e9 * best_k / calls, 1e9 * best_c / calls


def batched_ns(net, phases, strain_mandel, calls: int, repeat: int, threads: int = 1) -> float:
    """Per point cost of the in-process batched material (NetworkMaterial.update, 1 thread)."""
    from dmn_umat.online.solver import NetworkMaterial

    mat = NetworkMaterial(net, phases, threads=threads)
    eps = np.tile(np.asarray(strain_mandel, float), (calls, 1))
    s0 = mat.initial_state(calls)
    mat.update(eps[:10], s0[:10])
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        mat.update(eps, s0)
        best = min(best, time.perf_counter() - t)
    return 1e9 * best / calls


def build_driver(lib: Path, out: Path) -> Path:
    exe = out / "dmn_driver_c"
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-O2", str(ROOT / "fortran_bridge" / "drivers" / "dmn_driver_c.c"), "-o", str(exe),
                    f"-I{ROOT / 'fortran_bridge' / 'include'}", f"-L{lib.parent}", "-ldmn_umat",
                    f"-Wl,-rpath,{lib.parent}", "-lpthread"], check=True)
    return exe


def driver_bench(exe: Path, d: Path, calls: int, threads: int, api: bool, repeat: int, env: dict) -> dict:
    best = None
    for _ in range(repeat):
        cmd = [str(exe), "--bench", str(calls), "--threads", str(threads)] + (["--api"] if api else [])
        cmd += [str(d / "props.txt"), str(d / "path.csv")]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        if best is None or res["calls_per_s"] > best["calls_per_s"]:
            best = res
    return best


def prepare(d: Path, net: Network, phases, strain_tensor) -> np.ndarray:
    d.mkdir(parents=True, exist_ok=True)
    model_file.write(d / "model.dmn", net)
    props = deck.props_vector(phases)
    np.savetxt(d / "props.txt", props[None, :], fmt="%.17g")
    row = ",".join(repr(float(x)) for x in strain_tensor)
    (d / "path.csv").write_text("e11,e22,e33,e23,e13,e12\n" + row + "\n")
    return props


def startup(exe: Path, d: Path, cache: Path | None, env: dict) -> float:
    """Wall time (s) of one run of the C driver over ``d``'s one-step path; ``cache``: numba cache
    base to use (None: the library's own, next to it)."""
    e = {k: v for k, v in env.items() if k != "DMN_UMAT_NUMBA_CACHE"}
    if cache is not None:
        e["DMN_UMAT_NUMBA_CACHE"] = str(cache)
    t = time.perf_counter()
    cmd = [str(exe), str(d / "props.txt"), str(d / "path.csv")]
    subprocess.run(cmd, capture_output=True, env=e, check=True)
    return time.perf_counter() - t


def startup_bench(tmp: Path, d: Path, env: dict) -> dict:
    """Cold / first-after-build / warm start-up of a fresh library built into ``tmp/lib``."""
    t = time.perf_counter()
    lib = build(tmp / "lib")
    t_build = time.perf_counter() - t
    exe = build_driver(lib, tmp / "lib")
    first = startup(exe, d, None, env)
    warm = min(startup(exe, d, None, env) for _ in range(3))
    cold = startup(exe, d, tmp / "numba_empty", env)
    return {"startup_cold_s": cold, "startup_first_after_build_s": first, "startup_warm_s": warm,
            "build_s": t_build}


def print_startup(res: dict) -> None:
    print(f"start-up (1-call C driver run, {os.cpu_count()} CPUs): cold cache {res['startup_cold_s']:.2f} s, "
          f"first run after dmn abi build {res['startup_first_after_build_s']:.2f} s, "
          f"warm {res['startup_warm_s']:.2f} s (build incl. precompile {res['build_s']:.1f} s)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--startup-only", action="store_true", help="only the start-up timings")
    ap.add_argument("--no-startup", action="store_true",
                    help="skip the start-up timings (they compile the kernels twice: minutes)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench_abi_"))
    strain_t = np.array([5e-3, -1.5e-3, -1.5e-3, 1e-3, 0.0, 2e-3])  # plastic for the composite
    if args.startup_only:
        d0 = tmp / "elastic_1_leaf"
        prepare(d0, Network(np.array([[-1, -1]]), np.zeros((1, 3)), np.array([1.0]), np.array([0])),
                [parse_phase("elastic:E=70000,nu=0.3")], strain_t)
        env = dict(os.environ, DMN_UMAT_MODEL=str(d0 / "model.dmn"), DMN_UMAT_QUIET="1")
        res = startup_bench(tmp, d0, env)
        shutil.rmtree(tmp, ignore_errors=True)
        if args.json:
            print(json.dumps(res))
        else:
            print_startup(res)
        return 0
    lib = ensure_library()
    exe = build_driver(lib, tmp)
    models = {
        "elastic, 1 leaf": (Network(np.array([[-1, -1]]), np.zeros((1, 3)), np.array([1.0]), np.array([0])),
                            [parse_phase("elastic:E=70000,nu=0.3")], args.calls),
        "J2/elastic, depth 3": (selftest.example_network(), [parse_phase(s) for s in selftest.PHASES],
                                max(args.calls // 50, 1000)),
    }
    rows = []
    for name, (net, phases, calls) in models.items():
        d = tmp / name.replace(" ", "_").replace(",", "").replace("/", "_")
        props = prepare(d, net, phases, strain_t)
        env = dict(os.environ, DMN_UMAT_MODEL=str(d / "model.dmn"), DMN_UMAT_QUIET="1")
        k, kc = kernel_ns(net, props, tensors.tensor_components_to_mandel(strain_t), calls, args.repeat)
        bt = batched_ns(net, phases, tensors.tensor_components_to_mandel(strain_t), calls, args.repeat)
        api = driver_bench(exe, d, calls, 1, True, args.repeat, env)
        um1 = driver_bench(exe, d, calls, 1, False, args.repeat, env)
        um2 = driver_bench(exe, d, calls, 2, False, args.repeat, env)
        rows.append({
            "model": name, "calls": calls, "kernel_ns": k, "cfunc_ns": kc, "overhead_ns": kc - k,
            "batched_ns": bt, "api_ns": api["ns_per_call"], "umat_ns": um1["ns_per_call"],
            "umat_calls_per_s_1t": um1["calls_per_s"], "umat_calls_per_s_2t": um2["calls_per_s"],
            "thread_ratio": um2["calls_per_s"] / um1["calls_per_s"],
        })
    d0 = tmp / "elastic_1_leaf"
    env = dict(os.environ, DMN_UMAT_MODEL=str(d0 / "model.dmn"), DMN_UMAT_QUIET="1")
    st = {} if args.no_startup else startup_bench(tmp, d0, env)
    shutil.rmtree(tmp, ignore_errors=True)
    result = {"rows": rows, **st, "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'model':<22}{'kernel ns':>11}{'cfunc ns':>10}{'overhead':>10}{'batch ns':>10}{'C API ns':>10}"
          f"{'umat_ ns':>10}"
          f"{'calls/s 1t':>13}{'calls/s 2t':>13}{'2t/1t':>7}")
    for r in rows:
        print(f"{r['model']:<22}{r['kernel_ns']:>11.1f}{r['cfunc_ns']:>10.1f}{r['overhead_ns']:>10.1f}"
              f"{r['batched_ns']:>10.1f}{r['api_ns']:>10.1f}{r['umat_ns']:>10.1f}"
              f"{r['umat_calls_per_s_1t']:>13.3g}{r['umat_calls_per_s_2t']:>13.3g}"
              f"{r['thread_ratio']:>7.2f}")
    if st:
        print_startup(st)
    return 0


if __name__ == "__main__":
    sys.exit(main())
