"""Phase sampler and training-data generator: physics of every sample, Dask path, resume, bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dmn_umat.cli import main
from dmn_umat.rve import dataset as dsm
from dmn_umat.rve import micro as mic
from dmn_umat.rve import sampling as smp
from dmn_umat.tensors import bulk_shear_moduli, isotropic_stiffness, orthotropic_stiffness

N = 20
ARRAYS = ("C1", "C2", "Cbar", "params", "kinds", "iterations", "train_idx", "val_idx", "indices", "micro")


# --------------------------------------------------------------------------- sampler
def test_sampler_per_index_streams_are_reproducible():
    s = smp.SamplerSettings(kind="mixed")
    a = smp.sample_pairs(3, range(12), s)
    b = smp.sample_pairs(3, [11, 4, 7], s)  # any subset, any order, regenerates identically
    for x, y in zip(a, b):
        assert np.array_equal(x[[11, 4, 7]], y)
    c = smp.sample_pairs(4, range(12), s)
    assert not np.array_equal(a[1], c[1])
    assert set(np.unique(a[3])) == {smp.ISO, smp.ORTHO}  # mixed draws both kinds


def test_sampler_isotropic_ranges_and_stiffness():
    C1, C2, P, K = smp.sample_pairs(0, range(400), smp.SamplerSettings(kind="iso"))
    assert np.all(K == smp.ISO)
    assert np.allclose(P[:, 0, 0], 1.0)  # phase 1 is the unit scale
    lc = np.log10(P[:, 1, 0])
    assert -3.0 <= lc.min() < -2.5 and 2.5 < lc.max() <= 3.0  # log-uniform over 6 decades
    assert abs(np.mean(lc)) < 0.3
    nu = P[:, :, 3]
    assert 0.1 <= nu.min() and nu.max() <= 0.45
    for i in (0, 1, 2, 399):
        assert np.allclose(C2[i], isotropic_stiffness(P[i, 1, 0], P[i, 1, 3]))
        assert np.allclose(C1[i], isotropic_stiffness(1.0, P[i, 0, 3]))


def test_sampler_orthotropic_admissible_and_consistent():
    C1, C2, P, K = smp.sample_pairs(1, range(300), smp.SamplerSettings(kind="ortho"))
    assert np.all(K == smp.ORTHO)
    for C, p in ((C1, P[:, 0]), (C2, P[:, 1])):
        ev = np.linalg.eigvalsh(C)
        assert np.all(ev[:, 0] > 1e-4 * ev[:, -1])  # positive definite with margin
        assert np.allclose(C, np.swapaxes(C, 1, 2))
        for i in (0, 5, 299):
            assert np.allclose(C[i], orthotropic_stiffness(*p[i]))
        assert all(smp.orthotropic_admissible(q) for q in p)
    # genuinely anisotropic: directional moduli differ
    assert np.median(P[:, 0, :3].max(1) / P[:, 0, :3].min(1)) > 2.0
    # admissibility check rejects |nu12| >= sqrt(E1/E2) and a non-positive compliance
    assert not smp.orthotropic_admissible(np.array([1, 100, 1, 0.2, 0.3, 0.3, 1, 1, 1.0]))
    assert not smp.orthotropic_admissible(np.array([1, 1, 1, 0.7, 0.7, 0.7, 1, 1, 1.0]))
    assert smp.orthotropic_admissible(np.array([1, 1, 1, 0.3, 0.3, 0.3, 1, 1, 1.0]))


@pytest.mark.parametrize(
    "kw",
    [{"kind": "cubic"}, {"log10_contrast": (1.0, -1.0)}, {"nu": (0.1, 0.5)}, {"log10_contrast": (0, np.nan)}],
)
def test_sampler_rejects_bad_settings(kw):
    with pytest.raises(smp.SamplerError):
        smp.SamplerSettings(**kw)


# --------------------------------------------------------------------------- the data set
@pytest.fixture(scope="module")
def micro_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("micro")
    path = d / "spheres.npy"
    assert main(["micro", "spheres", "--size", "16", "--vf", "0.2", "--seed", "1", "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def dask_address():
    """One Dask LocalCluster (2 worker processes, 1 thread each) shared by the tests below."""
    import logging

    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def dask_dataset(micro_file, dask_address, tmp_path_factory):
    """The required 20-sample data set at 16³, generated on the Dask cluster (``--scheduler`` path)."""
    out = tmp_path_factory.mktemp("data") / "data.h5"
    ds = dsm.generate_dataset(micro_file, out, N, seed=0, scheduler=dask_address, show_progress=False)
    return out, ds


def _hashin_shtrikman(K, G, f):
    """(K_lo, K_hi, G_lo, G_hi) for isotropic phases (Walpole form: valid if not well-ordered)."""

    def kb(g):
        return 1.0 / np.sum(f / (K + 4.0 / 3.0 * g)) - 4.0 / 3.0 * g

    def gb(k, g):
        z = g / 6.0 * (9.0 * k + 8.0 * g) / (k + 2.0 * g)
        return 1.0 / np.sum(f / (G + z)) - z

    return kb(G.min()), kb(G.max()), gb(K.min(), G.min()), gb(K.max(), G.max())


def test_dask_dataset_roundtrip_and_physics(dask_dataset, micro_file):
    out, gen = dask_dataset
    assert out.is_file() and not dsm.partial_dir(out).exists()
    ds = dsm.load_dataset(out)
    assert len(ds) == N and ds.metadata["run"]["executor"] == "dask" and ds.metadata["run"]["workers"] == 2
    for k in ARRAYS:
        assert np.array_equal(getattr(ds, k), getattr(gen, k)), k
    # metadata: microstructure, sampler, solver, package
    m = ds.metadata
    vox = np.load(micro_file)
    assert m["micro"]["shape"] == [16, 16, 16] and np.array_equal(ds.micro, vox)
    assert m["micro"]["volume_fraction"] == pytest.approx(vox.mean())
    assert len(m["micro"]["file_sha256"]) == 64 and m["micro"]["generator"]["kind"] == "spheres"
    assert m["sampler"]["kind"] == "iso" and m["solver"]["tol"] == 1e-8 and m["package"]["version"]
    assert ds.iterations.shape == (N, 6) and ds.iterations.max() > 0
    # split: a partition, 20 % validation, views carry their original sample ids
    assert len(ds.val_idx) == 4 and len(ds.train_idx) == 16
    assert np.array_equal(np.sort(np.r_[ds.train_idx, ds.val_idx]), np.arange(N))
    tr, va = ds.train, ds.val
    assert np.array_equal(tr.Cbar, ds.Cbar[ds.train_idx]) and np.array_equal(va.indices, ds.val_idx)
    # the inputs are exactly the per-index sampler draws
    C1, C2, P, _ = smp.sample_pairs(0, range(N), smp.SamplerSettings())
    assert np.array_equal(ds.C1, C1) and np.array_equal(ds.C2, C2) and np.array_equal(ds.params, P)
    # physics of every sample: SPD, Voigt/Reuss (Loewner order), Hashin–Shtrikman on K, G
    f = np.array(m["micro"]["volume_fractions"])
    for i in range(N):
        Cb = ds.Cbar[i]
        assert np.allclose(Cb, Cb.T, atol=1e-12 * np.abs(Cb).max())
        assert np.linalg.eigvalsh(Cb)[0] > 0.0
        Cv = f[0] * ds.C1[i] + f[1] * ds.C2[i]
        Cr = np.linalg.inv(f[0] * np.linalg.inv(ds.C1[i]) + f[1] * np.linalg.inv(ds.C2[i]))
        scale = np.abs(Cv).max()
        assert np.linalg.eigvalsh(Cv - Cb)[0] > -1e-9 * scale
        assert np.linalg.eigvalsh(Cb - Cr)[0] > -1e-9 * scale
        E, nu = ds.params[i, :, 0], ds.params[i, :, 3]
        K, G = E / (3 * (1 - 2 * nu)), E / (2 * (1 + nu))
        k_lo, k_hi, g_lo, g_hi = _hashin_shtrikman(K, G, f)
        Kb, Gb = bulk_shear_moduli(Cb)
        assert k_lo * (1 - 1e-6) <= Kb <= k_hi * (1 + 1e-6), i
        assert g_lo * (1 - 1e-6) <= Gb <= g_hi * (1 + 1e-6), i
    # stiff inclusions stiffen, soft inclusions soften the composite
    lc = np.log10(ds.params[:, 1, 0])
    kb = np.array([bulk_shear_moduli(c)[0] for c in ds.Cbar])
    k1 = np.array([bulk_shear_moduli(c)[0] for c in ds.C1])
    assert np.all((kb > k1)[lc > 0.5]) and np.all((kb < k1)[lc < -0.5])


def test_dask_run_aborted_midway_resumes_to_identical_file(dask_dataset, dask_address, micro_file, tmp_path):
    ref_path, ref = dask_dataset
    out = tmp_path / "resumed.h5"

    def boom(index, n_done):
        if n_done == 8:
            raise RuntimeError("injected failure")

    # the aborted run starts its own LocalCluster (the default path), the rerun uses the shared one
    with pytest.raises(RuntimeError, match="injected"):
        dsm.generate_dataset(
            micro_file, out, N, executor="dask", workers=2, show_progress=False, on_sample=boom
        )
    part = dsm.partial_dir(out)
    assert not out.exists() and len(list(part.glob("s*.npz"))) == 8
    ds = dsm.generate_dataset(micro_file, out, N, scheduler=dask_address, show_progress=False)
    assert ds.metadata["run"]["resumed_samples"] == 8 and not part.exists()
    again = dsm.load_dataset(out)
    for k in ARRAYS:
        assert np.array_equal(getattr(again, k), getattr(ref, k)), k
    strip = ("run", "created", "solver")
    assert {k: v for k, v in again.metadata.items() if k not in strip} == {
        k: v for k, v in ref.metadata.items() if k not in strip
    }


def test_killed_subprocess_resumes_to_identical_file(micro_file, tmp_path):
    """SIGKILL a real `dmn data generate` (serial executor) midway, corrupt one finished record,
    rerun: the file equals an uninterrupted run's."""
    n = 8
    ref = dsm.generate_dataset(
        micro_file, tmp_path / "ref.npz", n, seed=5, executor="local", show_progress=False
    )
    out = tmp_path / "killed.npz"
    part = dsm.partial_dir(out)
    cmd = [sys.executable, "-m", "dmn_umat.cli", "data", "generate", str(micro_file), "--samples", str(n),
           "--seed", "5", "--out", str(out), "--executor", "local"]  # fmt: skip
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while len(list(part.glob("s*.npz"))) < 2 and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sorted(part.glob("s*.npz"))
    assert not out.exists() and 2 <= len(finished) < n, "the run was not killed midway"
    finished[0].write_bytes(b"truncated garbage")  # a damaged record is recomputed
    ds = dsm.generate_dataset(micro_file, out, n, seed=5, executor="local", show_progress=False)
    assert ds.metadata["run"]["resumed_samples"] == len(finished) - 1
    got = dsm.load_dataset(out)
    for k in ARRAYS:
        assert np.array_equal(getattr(got, k), getattr(ref, k)), k
    assert not part.exists() and not list(tmp_path.glob(".*tmp*"))


def test_resume_with_different_settings_is_refused(micro_file, tmp_path):
    out = tmp_path / "d.h5"

    def stop(index, n_done):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        dsm.generate_dataset(micro_file, out, 3, executor="local", show_progress=False, on_sample=stop)
    with pytest.raises(dsm.DatasetError, match="different settings.*seed"):
        dsm.generate_dataset(micro_file, out, 3, seed=9, executor="local", show_progress=False)


def test_cli_generate_and_show(micro_file, tmp_path, capsys):
    out = tmp_path / "o.h5"
    argv = ["data", "generate", str(micro_file), "--samples", "3", "--out", str(out), "--executor", "local",
            "--kind", "ortho", "--val-fraction", "0.34", "--json"]  # fmt: skip
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["samples"] == 3 and info["val"] == 1 and info["orthotropic_phases"] == 6
    assert main(["data", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "samples       3" in text and "ortho" in text and "spheres 16x16x16" in text
    assert main(["data", "show", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["Cbar_eigenvalue_range"][0] > 0


@pytest.mark.parametrize(
    "case,msg",
    [
        ("phase2", "phase id 2"),
        ("float", "must hold integers"),
        ("nan_val", "--val-fraction must be a finite number"),
        ("nan_tol", "--tol must be a finite number"),
        ("samples0", "positive integer"),
        ("suffix", ".h5, .hdf5 or .npz"),
        ("onephase", "both phases"),
        ("bad_scheduler", "cannot connect to Dask scheduler"),
        ("max_iter", "sample 0 failed (FFTConvergenceError"),
        ("show_missing", "not found"),
        ("show_foreign", "not a dmn_umat data set"),
    ],
)
def test_cli_bad_input_is_one_clear_line(case, msg, micro_file, tmp_path, capsys):
    vox = np.load(micro_file)
    path = tmp_path / "m.npy"
    args = ["--samples", "2", "--out", str(tmp_path / "o.h5"), "--executor", "local"]
    if case == "phase2":
        v = vox.copy()
        v[0, 0, 0] = 2
        np.save(path, v)
    elif case == "float":
        np.save(path, vox.astype(float))
    elif case == "onephase":
        np.save(path, np.zeros_like(vox))
    else:
        path = micro_file
    if case == "nan_val":
        args += ["--val-fraction", "nan"]
    elif case == "nan_tol":
        args += ["--tol", "nan"]
    elif case == "samples0":
        args[1] = "0"
    elif case == "suffix":
        args[3] = str(tmp_path / "o.txt")
    elif case == "max_iter":
        args += ["--max-iter", "2"]
    elif case == "bad_scheduler":
        args = args[:4] + ["--scheduler", "foo://nowhere"]
    if case.startswith("show"):
        target = tmp_path / "missing.h5"
        if case == "show_foreign":
            target = tmp_path / "foreign.npz"
            np.savez(target, a=np.zeros(3))
        rc = main(["data", "show", str(target)])
    else:
        rc = main(["data", "generate", str(path)] + args)
    err = capsys.readouterr().err.strip()
    assert rc != 0 and msg in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o.h5").exists() and not dsm.partial_dir(tmp_path / "o.h5").exists()


def test_micro_generator_feeds_dataset_without_files(tmp_path):
    """Library path: an in-memory laminate; its C̄ equals the exact laminate formula (staggered
    grid is exact for laminates), which pins the phase-id → C1/C2 convention."""
    lam = mic.laminate((4, 4, 10), 0.3, axis="z")
    ds = dsm.generate_dataset(lam.voxels, tmp_path / "lam.h5", 3, executor="local", show_progress=False)
    from dmn_umat.tensors import laminate_stiffness

    f_incl = lam.volume_fraction
    for i in range(3):
        exact = laminate_stiffness(ds.C1[i], ds.C2[i], 1.0 - f_incl, np.array([0.0, 0.0, 1.0]))
        assert np.allclose(ds.Cbar[i], exact, rtol=1e-6, atol=1e-6 * np.abs(exact).max())


def test_long_fibres_equal_poisson_axial_modulus_is_rule_of_mixtures(tmp_path):
    """Hill: with equal Poisson ratios, uniaxial stress along continuous fibres gives a uniform
    strain field, so the axial Young's modulus of C̄ is exactly f1 E1 + f2 E2 (any cross-section)."""
    lf = mic.long_fibres((14, 14, 3), 0.3, seed=2, radius=2.5, axis="z")
    s = smp.SamplerSettings(nu=(0.3, 0.3))
    ds = dsm.generate_dataset(
        lf.voxels, tmp_path / "lf.npz", 4, sampler=s, executor="local", show_progress=False
    )
    f = ds.volume_fractions
    for i in range(4):
        E = ds.params[i, :, 0]
        E_axial = 1.0 / np.linalg.inv(ds.Cbar[i])[2, 2]
        assert E_axial == pytest.approx(f @ E, rel=1e-6)
        assert 1.0 / np.linalg.inv(ds.Cbar[i])[0, 0] < 0.99 * (f @ E)  # transverse: strictly below Voigt


def test_resume_recomputes_stale_or_edited_sample_files(micro_file, tmp_path):
    """A sample file of OUT.partial is used only if it belongs to this run (run id, index) and its
    checksum holds: an edited record and one copied from another run are recomputed."""
    n = 4
    kw = dict(executor="local", show_progress=False)
    ref = dsm.generate_dataset(micro_file, tmp_path / "ref.npz", n, seed=3, **kw)

    def stop_after(k):
        def hook(index, n_done):
            if n_done >= k:
                raise RuntimeError("stop")

        return hook

    other = tmp_path / "other.npz"  # another run (other seed): same file names, other samples
    with pytest.raises(RuntimeError, match="stop"):
        dsm.generate_dataset(micro_file, other, n, seed=4, on_sample=stop_after(2), **kw)
    out = tmp_path / "d.npz"
    with pytest.raises(RuntimeError, match="stop"):
        dsm.generate_dataset(micro_file, out, n, seed=3, on_sample=stop_after(3), **kw)
    part = dsm.partial_dir(out)
    assert sorted(f.name for f in part.glob("s*.npz")) == ["s00000000.npz", "s00000001.npz", "s00000002.npz"]
    # edit sample 0's C̄ (keeping every other field, its stored checksum included)
    with np.load(part / "s00000000.npz", allow_pickle=False) as z:
        rec = {k: z[k] for k in z.files}
    rec["Cbar"] = rec["Cbar"] * 1.01
    with open(part / "s00000000.npz", "wb") as fh:
        np.savez(fh, **rec)
    # replace sample 1 by the other run's sample 1 (a stale file, valid on its own)
    shutil.copyfile(dsm.partial_dir(other) / "s00000001.npz", part / "s00000001.npz")
    logs = []
    ds = dsm.generate_dataset(micro_file, out, n, seed=3, log=logs.append, **kw)
    assert ds.metadata["run"]["resumed_samples"] == 1  # only sample 2 was trusted
    assert any("recomputing 2 sample file(s)" in m for m in logs), logs
    got = dsm.load_dataset(out)
    for k in ARRAYS:
        assert np.array_equal(getattr(got, k), getattr(ref, k)), k
