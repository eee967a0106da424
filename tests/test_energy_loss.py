"""Training loss ``energy`` (relative error in the energy norm of the reference C̄): sees the
shear modes of a nearly incompressible C̄ that the relative Frobenius error hides."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dmn_umat.offline.api import TrainJob, train_model  # noqa: E402
from dmn_umat.offline.config import TrainConfig  # noqa: E402
from dmn_umat.offline.data import laminate_dataset  # noqa: E402
from dmn_umat.offline.train import energy_errors, relative_errors  # noqa: E402
from dmn_umat.tensors import isotropic_stiffness  # noqa: E402


def _iso_kg(K: float, G: float) -> np.ndarray:
    """Isotropic Mandel stiffness (6,6) of bulk K and shear G."""
    P = np.zeros((6, 6))
    P[:3, :3] = 1.0 / 3.0
    return 3.0 * K * P + 2.0 * G * (np.eye(6) - P)


def _t(*arrays):
    return [torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in arrays]


def test_uniform_factor_gives_the_same_error_as_frobenius():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 6, 6))
    C = A @ A.transpose(0, 2, 1) + 6.0 * np.eye(6)
    for eps in (1e-3, 0.2, -0.3):
        pred, ref = _t((1.0 + eps) * C, C)
        assert np.allclose(energy_errors(pred, ref).numpy(), abs(eps), rtol=0, atol=1e-13)
        assert np.allclose(relative_errors(pred, ref).numpy(), abs(eps), rtol=0, atol=1e-13)


def test_energy_error_is_invariant_under_a_change_of_basis():
    """e(A Cp Aᵀ, A Cr Aᵀ) = e(Cp, Cr) for any invertible A (units, frame, Mandel scaling)."""
    rng = np.random.default_rng(1)
    B = rng.normal(size=(3, 6, 6))
    Cr = B @ B.transpose(0, 2, 1) + np.eye(6)
    Cp = Cr + 0.05 * (B + B.transpose(0, 2, 1))
    A = rng.normal(size=(6, 6)) + 3.0 * np.eye(6)
    e0 = energy_errors(*_t(Cp, Cr)).numpy()
    e1 = energy_errors(*_t(A @ Cp @ A.T, A @ Cr @ A.T)).numpy()
    assert np.allclose(e0, e1, rtol=1e-10)


def test_shear_error_of_a_nearly_incompressible_stiffness_is_not_hidden():
    """ν = 0.499 (K/G = 500): a 10 % error in G at exact K is 10 % · √5/√6 in the energy norm,
    but below 0.5 % in the Frobenius norm (dominated by 3K)."""
    K, G = 500.0, 1.0
    ref, pred = _iso_kg(K, G), _iso_kg(K, 1.1 * G)
    assert np.allclose(ref, isotropic_stiffness(9 * K * G / (3 * K + G), (3 * K - 2 * G) / (6 * K + 2 * G)))
    e = float(energy_errors(*_t(pred[None], ref[None]))[0])
    f = float(relative_errors(*_t(pred[None], ref[None]))[0])
    assert e == pytest.approx(0.1 * np.sqrt(5.0 / 6.0), rel=1e-12)
    assert f < 0.005


def test_training_with_the_energy_loss(tmp_path):
    d = laminate_dataset(40, depth=2, seed=3)
    data = tmp_path / "lam.npz"
    val = np.r_[np.zeros(d.n_train, bool), np.ones(d.n_val, bool)]
    np.savez(data, C1=np.r_[d.C1, d.C1_val], C2=np.r_[d.C2, d.C2_val], Cbar=np.r_[d.Cbar, d.Cbar_val],
             val=val)
    out = tmp_path / "m.dmn"
    cfg = TrainConfig(formulation="imn", depth=2, epochs=30, batch_size=8, lr=0.1, loss="energy")
    s = train_model(TrainJob(data=data, out=out, config=cfg, plot=False))
    log = json.loads((tmp_path / "m.log.json").read_text())
    hist = log["history"]
    assert log["config"]["loss"] == "energy"
    # it learns: the (Frobenius) validation error falls well below the untrained network's
    assert hist[-1]["val_error"] < 0.5 * hist[0]["val_error"]
    # the loss is the energy-norm error, the logged train error stays Frobenius (they differ)
    assert hist[-1]["train_loss"] != pytest.approx(hist[-1]["train_error"], rel=1e-6)
    assert out.is_file() and np.isfinite(s.val_error)
