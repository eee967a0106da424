"""Isotropic Poisson-ratio law of the phase sampler (``nu_law``, ``--nu``, ``--nu-law``): the
default stream is the documented one, ``log-kg`` spreads log10(K/G) uniformly up to nearly
incompressible phases, bad settings give one-line errors."""

import numpy as np
import pytest
from scipy import stats

from dmn_umat.cli import main
from dmn_umat.rve import dataset as dsm
from dmn_umat.rve import micro as mic
from dmn_umat.rve import sampling as smp
from dmn_umat.rve.api import DataJob, generate_data
from dmn_umat.tensors import bulk_shear_moduli, isotropic_stiffness


def _documented_iso_stream(seed: int, index: int, lc=(-3.0, 3.0), nu=(0.1, 0.45)):
    """The draw order docs/data.md states for ``kind=iso``: contrast, then ν of each phase."""
    rng = np.random.default_rng([seed, index])
    s2 = 10.0 ** rng.uniform(*lc)
    return s2, rng.uniform(*nu), rng.uniform(*nu)


@pytest.mark.parametrize("settings", [smp.SamplerSettings(), smp.SamplerSettings(nu_law="uniform")])
def test_default_nu_law_keeps_the_documented_stream_bit_for_bit(settings):
    """Existing data sets regenerate identically: the default (and explicit ``uniform``) draws are
    exactly the documented stream (same generator calls, same order)."""
    _, C2, P, _ = smp.sample_pairs(5, range(64), settings)
    for i in range(64):
        s2, nu1, nu2 = _documented_iso_stream(5, i)
        assert P[i, 1, 0] == s2 and P[i, 0, 3] == nu1 and P[i, 1, 3] == nu2
        assert np.array_equal(C2[i], isotropic_stiffness(s2, nu2))


def test_log_kg_draws_are_uniform_in_log_bulk_shear_ratio():
    lo, hi = 0.1, 0.499
    s = smp.SamplerSettings(nu=(lo, hi), nu_law="log-kg")
    C1, C2, P, K = smp.sample_pairs(2, range(1500), s)
    nu = P[:, :, 3].ravel()
    assert lo <= nu.min() and nu.max() <= hi
    assert nu.max() > 0.498  # reaches the nearly incompressible end
    # log10(K/G) of the stiffnesses themselves (not only the stored ν) is uniform on its range
    x = np.log10([k / g for k, g in map(bulk_shear_moduli, np.concatenate([C1, C2]))])
    a, b = np.log10(smp.bulk_shear_ratio(np.array([lo, hi])))
    assert a - 1e-12 <= x.min() and x.max() <= b + 1e-12
    assert stats.kstest((x - a) / (b - a), "uniform").pvalue > 1e-3
    # ... so ν is not uniform: most draws lie above 0.45 (K/G from 0.92 to 500: 9.7 is 36 % up)
    share = (b - np.log10(smp.bulk_shear_ratio(0.45))) / (b - a)
    assert np.mean(nu > 0.45) == pytest.approx(share, abs=0.04)
    # scale and symmetry draws are unchanged: phase 1 unit scale, isotropic, consistent C
    assert np.all(K == smp.ISO) and np.allclose(P[:, 0, 0], 1.0)
    for i in (0, 7, 1499):
        assert np.allclose(C2[i], isotropic_stiffness(P[i, 1, 0], P[i, 1, 3]))
        assert np.linalg.eigvalsh(C1[i]).min() > 0.0


def test_bulk_shear_ratio_round_trip():
    nu = np.linspace(-0.99, 0.4999, 101)
    r = smp.bulk_shear_ratio(nu)
    assert np.all(np.diff(r) > 0)  # monotone: the inverse is unique
    assert np.allclose(smp.nu_of_bulk_shear_ratio(r), nu, rtol=0, atol=1e-12)
    K, G = bulk_shear_moduli(isotropic_stiffness(2.0, 0.3))
    assert smp.bulk_shear_ratio(0.3) == pytest.approx(K / G, rel=1e-12)


def test_settings_round_trip_and_older_metadata():
    s = smp.SamplerSettings(nu=(0.1, 0.499), nu_law="log-kg")
    assert smp.SamplerSettings.from_dict(s.to_dict()) == s
    old = smp.SamplerSettings().to_dict()
    del old["nu_law"]  # metadata written before the option existed
    assert smp.SamplerSettings.from_dict(old).nu_law == "uniform"


@pytest.mark.parametrize(
    "kw, msg",
    [({"nu_law": "normal"}, "nu_law must be one of uniform, log-kg"),
     ({"nu": (0.1, 0.5)}, "Poisson ratio range must lie in (-1, 0.5)"),
     ({"nu": (0.1, 0.5), "nu_law": "log-kg"}, "Poisson ratio range must lie in (-1, 0.5)")],
)  # fmt: skip
def test_bad_nu_settings_are_refused(kw, msg):
    with pytest.raises(smp.SamplerError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        smp.SamplerSettings(**kw)


def test_data_job_passes_nu_options_to_the_sampler(tmp_path):
    """Library entry point: the written data set holds draws of the requested law and says so."""
    lam = mic.laminate((4, 4, 8), 0.5, axis="z")
    job = DataJob(micro=lam.voxels, out=tmp_path / "kg.npz", samples=3, seed=4, nu=(0.3, 0.499),
                  nu_law="log-kg", executor="local")  # fmt: skip
    sampler = job.sampler()
    assert sampler.nu == (0.3, 0.499) and sampler.nu_law == "log-kg"
    ds = generate_data(job, show_progress=False).dataset
    assert ds.metadata["sampler"]["nu_law"] == "log-kg"
    assert np.array_equal(ds.params, smp.sample_pairs(4, range(3), sampler)[2])


@pytest.mark.parametrize(
    "extra, msg",
    [(["--nu", "0.1", "0.5"], "Poisson ratio range must lie in (-1, 0.5)"),
     (["--nu", "0.4", "0.2"], "must be two finite numbers lo <= hi")],
)  # fmt: skip
def test_cli_bad_nu_is_one_line(tmp_path, capsys, extra, msg):
    micro = tmp_path / "m.npy"
    np.save(micro, mic.laminate((4, 4, 8), 0.5, axis="z").voxels)
    out = tmp_path / "o.h5"
    rc = main(["data", "generate", str(micro), "--samples", "2", "--out", str(out), "--executor", "local",
               "--nu-law", "log-kg", *extra])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc != 0 and msg in err and len(err.splitlines()) == 1, err
    assert not out.exists() and not dsm.partial_dir(out).exists()
