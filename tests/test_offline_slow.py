"""Long study (``pytest -m slow``): IMN on FFT-homogenized 3-D sphere data reaches ≤ 2 % error.

Uses ``$DMN_UMAT_TRAIN_DATA`` if set (a ``dmn data generate`` file), otherwise generates
640 samples on a 16³ sphere RVE (vf ≈ 0.2) with the local executor (several minutes).
"""

import os
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sphere_data(tmp_path_factory):
    from dmn_umat.offline.data import load

    path = os.environ.get("DMN_UMAT_TRAIN_DATA")
    if not path:
        from dmn_umat.rve import micro
        from dmn_umat.rve.dataset import generate_dataset

        d = tmp_path_factory.mktemp("spheres")
        m = micro.spheres(16, 0.2, seed=1)
        np.save(d / "spheres16.npy", m.voxels)
        path = d / "spheres16.h5"
        generate_dataset(d / "spheres16.npy", path, 640, seed=0, executor="local", show_progress=False)
    return load(path)


def test_imn_depth6_reaches_two_percent_on_spheres(sphere_data):
    import torch

    from dmn_umat import tensors
    from dmn_umat.offline.train import TrainConfig, export_network, train

    torch.set_num_threads(1)
    assert sphere_data.n_train >= 500
    cfg = TrainConfig(formulation="imn", depth=6, epochs=150, batch_size=32, lr=0.2, seed=0)
    t0 = time.perf_counter()
    r = train(sphere_data, cfg, show_progress=False)
    wall = time.perf_counter() - t0
    net = export_network(r, sphere_data)
    t = net.metadata["training"]
    print(
        f"IMN K=6: val mean {t['val_error']:.4f} max {t['val_error_max']:.4f}, "
        f"train {t['train_error']:.4f}, {len(net.leaves)} leaves, {wall:.0f} s"
    )
    assert t["val_error"] <= 0.02
    # the exported network (the online solver's input) gives the same C̄ as torch
    C = np.array([net.homogenize([a, b]) for a, b in zip(sphere_data.C1_val, sphere_data.C2_val)])
    assert np.isclose(tensors.relative_error(C, sphere_data.Cbar_val).mean(), t["val_error"], rtol=1e-8)
