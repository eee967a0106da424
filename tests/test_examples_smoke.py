"""Smoke runs of the executable examples and benchmarks at a tiny size, so they cannot rot.

Each script runs as a user would run it (a subprocess from the repository root) with options
that make it finish in seconds; the test checks the exit code and that it printed its table or
summary. What the scripts measure is checked elsewhere (physics tests) or reported in the docs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "fe2_examples" / "data"


def run_script(rel: str, *args: str, cwd: Path | None = None, timeout: float = 600) -> str:
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(ROOT / rel), *args], cwd=cwd or ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{rel} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.mark.parametrize("script,name", [("plate_hole.py", "plate-hole"), ("cyclic.py", "cyclic"),
                                         ("notched_bar.py", "notched-bar"),
                                         ("fibre_plate.py", "fibre-plate")])
def test_fe2_example_scripts(tmp_path, script, name):
    out = tmp_path / name
    run_script(f"fe2_examples/{script}", "--size", "tiny", "--steps", "2", "--out", str(out))
    assert any(out.glob("*.xdmf")), sorted(p.name for p in out.iterdir())


def test_fe2_vs_fft_script(tmp_path):
    out = tmp_path / "cmp"
    stdout = run_script("fe2_examples/fe2_vs_fft.py", "--micro", str(DATA / "spheres8.npy"),
                        "--model", str(DATA / "spheres8_imn5.dmn"), "--nx", "1", "--steps", "2",
                        "--out", str(out))
    summary = json.loads((out / "fe2_vs_fft.json").read_text())
    assert len(summary["force_fe2"]) == len(summary["force_fft"]) == 2
    assert "speed-up" in stdout


def test_fe2_vs_fft_default_laminate_is_exact(tmp_path):
    """Without --micro/--model the script compares the exact depth-1 network with the FFT RVE of
    a laminate: the two FE solutions agree to the solvers' tolerances."""
    out = tmp_path / "lam"
    run_script("fe2_examples/fe2_vs_fft.py", "--nx", "1", "--steps", "2", "--out", str(out))
    assert json.loads((out / "fe2_vs_fft.json").read_text())["max_rel_diff"] < 1e-6


def test_bench_online_tiny():
    out = run_script("benchmarks/bench_online.py", "--depths", "3", "--points", "4", "--incr", "2",
                     "--dns-steps", "2")
    assert "µs" in out or "us" in out


def test_bench_fe_tiny():
    out = run_script("benchmarks/bench_fe.py", "--size", "strip", "--steps", "1", "--depth", "2")
    assert "upd/s" in out


def test_bench_fft_tiny():
    out = run_script("benchmarks/bench_fft.py", "--sizes", "8", "--workers", "1", "--dns-size", "8",
                     "--dns-steps", "1")
    assert "PCG its" in out


def test_bench_train_tiny():
    out = run_script("benchmarks/bench_train.py", "--depths", "2", "--epochs", "1", "--n-train", "40",
                     "--target-depth", "2", "--max-epochs", "2", "--target", "0.5")
    assert "DMN/IMN" in out


def test_bench_abi_tiny():
    """Without the start-up part: it builds a fresh library and compiles the kernels twice (the
    slow test below runs it)."""
    out = run_script("benchmarks/bench_abi.py", "--calls", "2000", "--repeat", "1", "--no-startup")
    assert "overhead" in out.lower() and "start-up" not in out


@pytest.mark.slow
def test_bench_abi_startup():
    out = run_script("benchmarks/bench_abi.py", "--startup-only", timeout=1800)
    assert "cold cache" in out and "first run after dmn abi build" in out
