"""Offline stage: torch DMN/IMN against analytic laminates, export, pruning, training, CLI."""

import json

import numpy as np
import pytest
import torch

from dmn_umat import model_file, tensors
from dmn_umat.cli import main
from dmn_umat.network import Network
from dmn_umat.offline import data as D
from dmn_umat.offline import export, models
from dmn_umat.offline import train as T

torch.set_num_threads(1)


def _aniso(rng, scale=1.0):
    A = rng.normal(size=(6, 6))
    return scale * (A @ A.T + 3 * np.eye(6))


def _t(*arrays):
    return [torch.tensor(np.asarray(a)[None], dtype=torch.float64) for a in arrays]


def test_torch_rotations_match_numpy_conventions():
    ang = np.array([[0.3, 1.1, -0.7], [-2.0, 0.4, 2.5]])
    R = models.rotations_from_euler(torch.tensor(ang)).numpy()
    Q = models.rotation_mandel(torch.tensor(R)).numpy()
    for k in range(2):
        assert np.allclose(R[k], tensors.rotation_from_euler(*ang[k]), atol=1e-15)
        assert np.allclose(Q[k], tensors.rotation_mandel(R[k]), atol=1e-14)
    n = models.normals_from_angles(
        torch.tensor([0.7], dtype=torch.float64), torch.tensor([2.1], dtype=torch.float64)
    ).numpy()[0]
    assert np.allclose(n, tensors.normal_from_angles(0.7, 2.1))
    assert np.allclose(models.h_matrices(torch.tensor(n)[None])[0].numpy(), tensors.h_matrix(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_depth1_imn_is_the_analytic_laminate(seed):
    rng = np.random.default_rng(seed)
    C1, C2 = _aniso(rng), _aniso(rng, 30.0)
    m = models.IMN(1, seed=seed)
    theta, phi = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    with torch.no_grad():
        m.theta[0], m.phi[0] = theta, phi
    f1 = float((m.weights()[0] / m.weights().sum()).detach())
    ref = tensors.laminate_stiffness(C1, C2, f1, tensors.normal_from_angles(theta, phi))
    got = m(*_t(C1, C2))[0].detach().numpy()
    assert tensors.relative_error(got, ref) < 1e-13


@pytest.mark.parametrize("seed", [0, 1])
def test_depth1_dmn_is_the_rotated_laminate(seed):
    """Root rotation R, unrotated leaves: C = Q lam(C1, C2, e3) Qᵀ = lam(QC1Qᵀ, QC2Qᵀ, R e3)."""
    rng = np.random.default_rng(seed)
    C1, C2 = _aniso(rng), _aniso(rng, 0.05)
    m = models.DMN(1, seed=seed)
    ang = rng.uniform(-3, 3, 3)
    with torch.no_grad():
        m.angles.zero_()
        m.angles[0] = torch.tensor(ang)
    R = tensors.rotation_from_euler(*ang)
    f1 = float((m.weights()[0] / m.weights().sum()).detach())
    lam_local = tensors.laminate_stiffness(C1, C2, f1, np.array([0.0, 0, 1]))
    got = m(*_t(C1, C2))[0].detach().numpy()
    assert tensors.relative_error(got, tensors.rotate_stiffness(lam_local, R)) < 1e-13
    # isotropic phases: any normal n = R e3 gives the plain laminate with that normal
    I1, I2 = tensors.isotropic_stiffness(1.0, 0.3), tensors.isotropic_stiffness(50.0, 0.2)
    got = m(*_t(I1, I2))[0].detach().numpy()
    ref = tensors.laminate_stiffness(I1, I2, f1, R[:, 2])
    assert tensors.relative_error(got, ref) < 1e-13


@pytest.mark.parametrize("formulation", ["dmn", "imn"])
def test_gradcheck_tiny_model(formulation):
    rng = np.random.default_rng(3)
    m = models.build(formulation, 2, seed=4)
    C1 = torch.tensor(np.stack([_aniso(rng) for _ in range(2)]))
    C2 = torch.tensor(np.stack([_aniso(rng, 10.0) for _ in range(2)]))
    names = [n for n, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for p in m.parameters())

    def f(*ps):
        return torch.func.functional_call(m, dict(zip(names, ps)), (C1, C2))

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("formulation", ["dmn", "imn"])
def test_export_equals_torch_and_survives_model_file(formulation, tmp_path):
    rng = np.random.default_rng(5)
    m = models.build(formulation, 3, seed=6)
    with torch.no_grad():
        m.z[[1, 4]] = -0.3  # two dead leaves (relu) / tiny weights (softplus)
    C1 = np.stack([_aniso(rng) for _ in range(4)])
    C2 = np.stack([_aniso(rng, 20.0) for _ in range(4)])
    ref = m(torch.tensor(C1), torch.tensor(C2)).detach().numpy()
    net = export.to_network(m)
    assert (net.rotations is not None) == (formulation == "dmn")
    got = np.stack([net.homogenize([a, b]) for a, b in zip(C1, C2)])
    assert np.max(tensors.relative_error(got, ref)) <= 1e-10
    model_file.write(tmp_path / "m.dmn", net)
    back = model_file.read(tmp_path / "m.dmn")
    assert np.array_equal(back.homogenize([C1[0], C2[0]]), got[0])


def test_prune_keeps_cbar_and_collapses():
    rng = np.random.default_rng(7)
    m = models.DMN(4, "relu", seed=8)
    with torch.no_grad():
        m.z[[0, 1, 5, 9, 10, 11]] = -1.0  # leaves 0,1 (a whole subtree) and 10,11 die
    net = export.to_network(m)
    pr = export.prune(net, 0.0)
    pr.validate()
    assert len(pr.leaves) == 10 and pr.n_nodes == 2 * 10 - 1  # full binary tree again
    assert np.all(pr.weights[pr.leaves] > 0)
    for _ in range(5):
        C1, C2 = _aniso(rng), _aniso(rng, 10 ** rng.uniform(-2, 2))
        assert tensors.relative_error(pr.homogenize([C1, C2]), net.homogenize([C1, C2])) < 1e-13
    assert pr.metadata["pruned"]["removed_leaves"] == 6
    # a positive tolerance removes small (softplus) leaves with a change of the order of their weight
    imn = export.to_network(models.IMN(3, seed=2))
    imn.weights[imn.leaves[3]] = 1e-9
    imn.refresh_weights()
    pi = export.prune(imn, 1e-6)
    assert len(pi.leaves) == 7
    C1, C2 = _aniso(rng), _aniso(rng, 5.0)
    assert tensors.relative_error(pi.homogenize([C1, C2]), imn.homogenize([C1, C2])) < 1e-7
    with pytest.raises(ValueError, match="every leaf"):
        export.prune(imn, 2.0)


def test_training_reduces_error_and_resume_is_identical(tmp_path):
    d = D.laminate_dataset(60, depth=2, seed=1)
    cfg = T.TrainConfig(formulation="imn", depth=2, epochs=12, batch_size=16, lr=0.1, lam=0.1, seed=3)
    full = T.train(d, cfg, show_progress=False)
    assert full.history[-1]["train_loss"] < 0.5 * full.history[0]["train_loss"]
    assert full.best_val < full.history[0]["val_error"]
    part = T.train(d, cfg, checkpoint_dir=tmp_path, show_progress=False, stop_after=3)
    assert not part.finished and len(part.history) == 3
    resumed = T.train(d, cfg, checkpoint_dir=tmp_path, resume=True, show_progress=False)
    for a, b in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert [h["val_error"] for h in full.history] == [h["val_error"] for h in resumed.history]
    with pytest.raises(T.TrainError, match="different settings"):
        T.train(
            d,
            T.TrainConfig(**{**cfg.to_dict(), "lr": 0.5}),
            checkpoint_dir=tmp_path,
            resume=True,
            show_progress=False,
        )


def test_dmn_learns_a_laminate_tree():
    d = D.laminate_dataset(80, depth=2, seed=2)
    cfg = T.TrainConfig(formulation="dmn", depth=2, epochs=15, batch_size=16, lr=0.05, seed=0, loss="rel2")
    r = T.train(d, cfg, show_progress=False)
    assert r.best_val < 0.6 * r.history[0]["val_error"]
    net = T.export_network(r, d)
    va = np.array([net.homogenize([a, b]) for a, b in zip(d.C1_val, d.C2_val)])
    assert np.isclose(
        tensors.relative_error(va, d.Cbar_val).mean(), net.metadata["training"]["val_error"], rtol=1e-8
    )


def _save_npz(d: D.TrainingData, npz) -> None:
    """Write ``d`` as a ``dmn train`` .npz (C1, C2, Cbar, val mask)."""
    np.savez(
        npz,
        C1=np.concatenate([d.C1, d.C1_val]),
        C2=np.concatenate([d.C2, d.C2_val]),
        Cbar=np.concatenate([d.Cbar, d.Cbar_val]),
        val=np.r_[np.zeros(d.n_train, bool), np.ones(d.n_val, bool)],
    )


def test_cli_train_inspect_prune_models(tmp_path, capsys):
    d = D.laminate_dataset(50, depth=2, seed=4)
    npz = tmp_path / "data.npz"
    _save_npz(d, npz)
    out = tmp_path / "m.dmn"
    rc = main(
        [
            "train",
            str(npz),
            "--formulation",
            "dmn",
            "--depth",
            "2",
            "--out",
            str(out),
            "--epochs",
            "3",
            "--batch-size",
            "8",
            "--json",
            "--checkpoint",
            str(tmp_path / "ck"),
        ]
    )
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n_train"] == 40 and s["n_val"] == 10 and s["epochs"] == 3
    assert out.exists() and (tmp_path / "m.log.json").exists() and (tmp_path / "m.png").exists()
    net = model_file.read(out)
    assert net.metadata["formulation"] == "dmn" and net.rotations is not None
    assert main(["inspect", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["depth"] <= 2 and abs(sum(info["volume_fractions"]) - 1) < 1e-12
    assert info["val_error"] == s["val_error"]
    assert main(["inspect", str(out)]) == 0 and "validation" in capsys.readouterr().out
    assert main(["prune", str(out), "--out", str(tmp_path / "p.dmn"), "--data", str(npz), "--json"]) == 0
    pr = json.loads(capsys.readouterr().out)
    assert pr["leaves_after"] <= 4
    assert np.isclose(pr["val_error_before"], s["val_error"], rtol=1e-8)
    assert np.isclose(pr["val_error_after"], s["val_error"], rtol=1e-8)  # tol 0: C̄ unchanged
    assert main(["models", "--json"]) == 0
    assert "models" in json.loads(capsys.readouterr().out)
    # user errors are one-line messages with exit code 2
    assert (
        main(["train", str(tmp_path / "none.npz"), "--formulation", "imn", "--depth", "2", "--out", str(out)])
        == 2
    )
    assert (
        main(["train", str(npz), "--formulation", "imn", "--depth", "2", "--out", str(tmp_path / "x.txt")])
        == 2
    )
    (tmp_path / "bad.dmn").write_bytes(b"garbage")
    assert main(["inspect", str(tmp_path / "bad.dmn")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "truncated" in err and "Traceback" not in err


def test_inspect_abaqus_block(tmp_path, capsys):
    net = export.to_network(models.IMN(2, seed=0))
    model_file.write(tmp_path / "m.dmn", net)
    rc = main(
        [
            "inspect",
            str(tmp_path / "m.dmn"),
            "--abaqus",
            "--phase",
            "elastic:E=1,nu=0.3",
            "--phase",
            "j2:E=200,nu=0.3,sy=1",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "*USER MATERIAL" in out and "*DEPVAR" in out
    assert main(["inspect", str(tmp_path / "m.dmn"), "--abaqus", "--phase", "elastic:E=1,nu=0.3"]) == 2


def test_shipped_models_are_valid_and_physical():
    from dmn_umat.offline import pretrained

    names = pretrained.names()
    assert len(names) >= 2
    assert {m["formulation"] for m in pretrained.list_models()} >= {"dmn", "imn"}
    rng = np.random.default_rng(0)
    for name in names:
        p = pretrained.path(name)
        assert p == pretrained.path(name + ".dmn") and p.stat().st_size < 100_000
        model = model_file.read_any(p)
        meta = model.metadata
        assert meta["training"]["val_error"] < 0.02
        # an orientation-aware (version 2) model: its networks at the triangle's corners
        nets = [model] if isinstance(model, Network) else [
            model.network_at(s) for s in ((1 / 3, 1 / 3), (0.5, 0.5), (1.0, 0.0))]
        for net in nets:
            _check_shipped_network(net, meta, rng)
    with pytest.raises(ValueError, match="no shipped model"):
        pretrained.path("does-not-exist")


def _check_shipped_network(net, meta, rng):
    """Volume fraction of the RVE, homogeneous limit, Voigt/Reuss bounds."""
    # the learned phase volume fraction is the RVE's
    assert abs(net.volume_fractions()[1] - meta["microstructure"]["volume_fraction"]) < 0.03
    C1 = tensors.isotropic_stiffness(1.0, 0.3)
    assert tensors.relative_error(net.homogenize([C1, C1]), C1) < 1e-12  # homogeneous limit
    # Voigt/Reuss bounds at the network's own volume fractions
    C2 = tensors.isotropic_stiffness(10 ** rng.uniform(1, 3), 0.25)
    f = net.volume_fractions()
    Cb = net.homogenize([C1, C2])
    voigt = f[0] * C1 + f[1] * C2
    reuss = np.linalg.inv(f[0] * np.linalg.inv(C1) + f[1] * np.linalg.inv(C2))
    assert np.linalg.eigvalsh(voigt - Cb).min() > -1e-9 * np.abs(voigt).max()
    assert np.linalg.eigvalsh(Cb - reuss).min() > -1e-9 * np.abs(voigt).max()


def test_early_stop_at_target():
    d = D.laminate_dataset(30, depth=1, seed=5)
    r = T.train(
        d,
        T.TrainConfig(formulation="imn", depth=1, epochs=50, batch_size=8),
        show_progress=False,
        target=10.0,
    )
    assert len(r.history) == 1


def test_loads_rve_dataset_with_its_split(tmp_path):
    from dmn_umat.rve import dataset

    vox = np.zeros((6, 6, 6), dtype=np.int32)
    vox[:3] = 1
    np.save(tmp_path / "lam.npy", vox)
    ds = dataset.generate_dataset(
        tmp_path / "lam.npy",
        tmp_path / "d.npz",
        5,
        seed=0,
        val_fraction=0.4,
        executor="local",
        show_progress=False,
    )
    d = D.load(tmp_path / "d.npz")
    assert d.n_train == len(ds.train_idx) and d.n_val == len(ds.val_idx)
    assert np.array_equal(d.Cbar_val, ds.Cbar[ds.val_idx])
    assert d.meta["microstructure"]["volume_fraction"] == 0.5
    # a layered RVE is a depth-1 laminate with normal x1: the analytic network reproduces it
    from dmn_umat.network import complete_tree

    net = complete_tree(1, np.array([0.5, 0.5]), np.array([[1.0, 0, 0]]))
    for a, b, c in zip(d.C1, d.C2, d.Cbar):
        assert tensors.relative_error(net.homogenize([a, b]), c) < 1e-6


def test_l1_regularizer_values_and_scale_invariance():
    m = models.build("imn", 3, "relu", seed=0)
    with torch.no_grad():
        m.z.copy_(torch.full((8,), 0.4))
        assert float(T.regularization(m, "l1")) == pytest.approx(1.0)  # all leaves equal
        m.z.mul_(7.0)
        assert float(T.regularization(m, "l1")) == pytest.approx(1.0)  # scale-invariant like C̄
        m.z.copy_(torch.tensor([0.9, -1.0, -0.2, 0.0, -0.3, -0.1, -2.0, -0.5]))
        assert float(T.regularization(m, "l1")) == pytest.approx(0.0, abs=1e-14)  # one active leaf
    with pytest.raises(T.TrainError, match="reg must be one of"):
        T.TrainConfig(reg="l2").check()


@pytest.mark.parametrize("formulation", ["imn", "dmn"])
def test_l1_regularizer_prunes_leaves(formulation, tmp_path):
    d = D.laminate_dataset(60, depth=2, seed=1)
    base = dict(formulation=formulation, depth=3, epochs=20, batch_size=16, lr=0.05, activation="relu",
                seed=0, reg="l1")
    active = {}
    for lam in (0.0, 1.0):
        r = T.train(d, T.TrainConfig(**base, lam=lam), show_progress=False)
        active[lam] = int((r.model.weights() > 0).sum())
        assert r.best_val < 0.15  # still a usable network
    assert active[0.0] == 8
    assert active[1.0] <= 6
    # the default ``sum`` term at the same λ does not remove leaves
    r = T.train(d, T.TrainConfig(**{**base, "reg": "sum"}, lam=1.0), show_progress=False)
    assert int((r.model.weights() > 0).sum()) == 8
    # reg is part of the checkpointed configuration
    cfg = T.TrainConfig(**base, lam=1.0)
    T.train(d, cfg, checkpoint_dir=tmp_path, show_progress=False, stop_after=2)
    with pytest.raises(T.TrainError, match="different settings: reg"):
        T.train(d, T.TrainConfig(**{**base, "reg": "sum"}, lam=1.0), checkpoint_dir=tmp_path, resume=True,
                show_progress=False)


def _thin_laminate_data() -> D.TrainingData:
    """Depth-1 laminate with a 12 % phase 1 (a thin inclusion phase, like the 20³ vf 0.12 RVE)."""
    from dmn_umat.network import complete_tree

    truth = complete_tree(1, np.array([0.88, 0.12]), np.array([[1.0, 0.0, 0.0]]))
    return D.laminate_dataset(60, seed=1, truth=truth, contrast=3.0)


def test_dead_phase_is_recovered(tmp_path):
    """ReLU DMN at lr 0.2 (the old defaults) kills every phase-1 leaf in the first epoch (C̄ then
    ignores C2, a dead end: dead ReLUs get no gradient); the guard detects it and recovers."""
    d = _thin_laminate_data()
    base = dict(formulation="dmn", depth=2, epochs=30, seed=1, activation="relu", lr=0.2)
    old = T.train(d, T.TrainConfig(**base, recover=False), show_progress=False)
    assert T.dead_phases(old.model) == [1] and old.best_val > 0.3 and not old.events
    lines = []
    new = T.train(d, T.TrainConfig(**base), show_progress=False, log=lines.append)
    assert T.dead_phases(new.model) == []
    w = new.model.weights().detach()
    assert float(w[1::2].sum() / w.sum()) == pytest.approx(0.12, abs=0.03)  # the true phase-1 fraction
    assert new.best_val < 0.05
    assert new.events and new.events[0]["epoch"] == 1 and "dead phase 1" in new.events[0]["event"]
    assert any("dead phase 1" in s for s in lines)
    log = json.loads(T.write_log(new, tmp_path / "m.log.json").read_text())
    assert log["events"] == new.events
    assert new.history[0]["lr"] == pytest.approx(0.5 * 0.2)  # halved lr from the event on
    # checkpoint/resume across a recovery is bit-identical
    T.train(d, T.TrainConfig(**base), checkpoint_dir=tmp_path, show_progress=False, stop_after=2)
    res = T.train(d, T.TrainConfig(**base), checkpoint_dir=tmp_path, resume=True, show_progress=False)
    for a, b in zip(new.model.parameters(), res.model.parameters()):
        assert torch.equal(a, b)
    assert res.events == new.events
    assert [h["val_error"] for h in res.history] == [h["val_error"] for h in new.history]


@pytest.mark.parametrize("formulation", ["dmn", "imn"])
def test_default_training_keeps_both_phases(formulation):
    """The defaults (softplus leaves for both formulations) learn the thin laminate directly."""
    r = T.train(_thin_laminate_data(), T.TrainConfig(formulation=formulation, depth=2, epochs=30, seed=1),
                show_progress=False)
    assert r.best_val < 0.05 and T.dead_phases(r.model) == []
    w = r.model.weights().detach()
    assert float(w[1::2].sum() / w.sum()) == pytest.approx(0.12, abs=0.03)
    assert T.export_network(r, _thin_laminate_data()).metadata["training"]["activation"] == "softplus"


def test_dead_phase_guard_gives_up_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(T, "MAX_RECOVERIES", 0)
    with pytest.raises(T.TrainError, match="phase 1 died again at epoch 1"):
        T.train(_thin_laminate_data(), T.TrainConfig(formulation="dmn", depth=2, epochs=3, seed=1,
                                                     activation="relu"), show_progress=False)


def test_cli_train_reports_recoveries(tmp_path, capsys):
    npz = tmp_path / "thin.npz"
    _save_npz(_thin_laminate_data(), npz)
    out = tmp_path / "m.dmn"
    args = ["train", str(npz), "--formulation", "dmn", "--depth", "2", "--epochs", "30", "--seed", "1",
            "--activation", "relu", "--out", str(out), "--no-plot"]
    assert main(args) == 0
    assert "epoch 1: dead phase 1" in capsys.readouterr().err
    assert model_file.read(out).metadata["training"]["activation"] == "relu"
    assert json.loads(out.with_suffix(".log.json").read_text())["events"]
    assert main(args + ["--no-recover"]) == 0
    assert "dead phase" not in capsys.readouterr().err
    assert json.loads(out.with_suffix(".log.json").read_text())["events"] == []
