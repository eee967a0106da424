"""Parity checks of the C ABI: the Python driver vs the C and Fortran point drivers (ctest).

    python -m dmn_umat.abi.selftest setup DIR
    python -m dmn_umat.abi.selftest check DIR --kind c|f --exe DRIVER [--ntens 6|4]

``setup`` writes a small composite model (depth-3 IMN-type tree, J2 matrix + elastic fibre,
hand-built with fixed weights and normals), its PROPS, a multiaxial load/unload path and
nothing else.  ``check`` runs a driver on them and compares its stress history with
:func:`python_driver` (the in-process kernel, no C ABI involved): max difference ≤ 1e-10
of the largest stress.  Exit code 0 = agree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from .. import loadpath, model_file, tensors
from ..laws import parse_phase, props_table
from ..network import Network, complete_tree
from .deck import props_vector

PHASES = ("j2:E=70000,nu=0.33,sy=120,H=800,Q=40,b=30,Hk=500", "elastic:E=380000,nu=0.22")
TOL = 1e-10


def example_network(depth: int = 3, seed: int = 7) -> Network:
    """A reproducible hand-built complete tree (2 phases, unequal weights, oblique normals)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.0, 2**depth)
    nrm = rng.normal(size=(2**depth - 1, 3))
    net = complete_tree(depth, w, nrm)
    net.metadata = {"description": "dmn_umat.abi.selftest example"}
    return net


def example_path(n: int = 8) -> np.ndarray:
    """(steps, 6) Mandel strains: multiaxial loading past yield, unloading, reverse loading."""
    d = np.array([1.0, -0.35, -0.25, 0.3, -0.2, 0.5])  # tensor components
    d = tensors.tensor_components_to_mandel(d)
    amp = np.concatenate([np.linspace(0, 1, n + 1)[1:], np.linspace(1, -0.6, 2 * n + 1)[1:]]) * 6e-3
    return amp[:, None] * d[None, :]


def python_driver(net: Network, props: np.ndarray, path_mandel: np.ndarray, ntens: int = 6) -> np.ndarray:
    """Stress history (steps, ntens) in Abaqus Voigt order from the in-process kernel."""
    from ..online import kernel
    from .deck import parse_props

    ptab = parse_props(props, net.n_phases)
    mi, mf = kernel.pack_network(net)
    nsv = int(kernel.state_size(mi, ptab))
    work = np.zeros(int(kernel.work_size(mi)))
    s_old = np.zeros(nsv)
    s_new = np.zeros(nsv)
    out = np.zeros((len(path_mandel), ntens))
    sig = np.zeros(6)
    C = np.zeros((6, 6))
    info = np.zeros(4)
    for i, e in enumerate(path_mandel):
        e = np.array(e, dtype=np.float64)
        if ntens == 4:
            e[3] = e[4] = 0.0
        st = kernel.network_update(mi, mf, ptab, e, s_old, sig, C, s_new, work, info)
        if st != 0:
            raise RuntimeError(f"python driver: step {i + 1} status {st}")
        s_old[:] = s_new
        v = np.zeros(ntens)
        tensors.mandel_stress_to_voigt(sig, ntens, v)
        out[i] = v
    return out


def setup(d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    net = example_network()
    phases = [parse_phase(s) for s in PHASES]
    model_file.write(d / "model.dmn", net)
    np.savetxt(d / "props.txt", props_vector(phases)[None, :], fmt="%.17g")
    loadpath.write_path(d / "path.csv", example_path())
    from ..online import kernel

    nsv = int(kernel.state_size(kernel.pack_network(net)[0], props_table(phases)))
    (d / "nstatv.txt").write_text(f"{nsv}\n")


def run_driver(kind: str, exe: str, d: Path, ntens: int, material: str = "DMN") -> np.ndarray:
    env = dict(os.environ, DMN_UMAT_MODEL=str(d / "model.dmn"))
    if kind == "c":
        cmd = [exe, "--ntens", str(ntens), "--material", material, str(d / "props.txt"), str(d / "path.csv")]
    else:
        nsv = (d / "nstatv.txt").read_text().strip()
        cmd = [exe, str(d / "props.txt"), str(d / "path.csv"), nsv, str(ntens), material]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{kind} driver failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return np.loadtxt(r.stdout.splitlines(), ndmin=2)


def check(d: Path, kind: str, exe: str, ntens: int) -> float:
    """Max |driver − Python| / max |σ| over the path (raises if the driver fails)."""
    net = model_file.read(d / "model.dmn")
    props = np.loadtxt(d / "props.txt", ndmin=1)
    ref = python_driver(net, props, loadpath.read_path(d / "path.csv"), ntens)
    got = run_driver(kind, exe, d, ntens)
    if got.shape != ref.shape:
        raise RuntimeError(f"{kind} driver: shape {got.shape}, expected {ref.shape}")
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dmn_umat.abi.selftest")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("dir")
    c = sub.add_parser("check")
    c.add_argument("dir")
    c.add_argument("--kind", choices=("c", "f"), required=True)
    c.add_argument("--exe", required=True)
    c.add_argument("--ntens", type=int, default=6, choices=(6, 4))
    args = ap.parse_args(argv)
    if args.cmd == "setup":
        setup(Path(args.dir))
        return 0
    err = check(Path(args.dir), args.kind, args.exe, args.ntens)
    ok = err <= TOL
    print(f"{args.kind} driver, NTENS={args.ntens}: max relative difference to the Python driver {err:.3e} "
          f"({'ok' if ok else 'FAIL'}, tolerance {TOL:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
