"""DNS agreement of a trained network (shipped pretrained depth-6 models, 16³ sphere RVE, J2
matrix, elastic spheres): uniaxial tension to 2% and unloading, network vs nonlinear FFT."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from dmn_umat import loadpath, model_file
from dmn_umat.laws import parse_phase
from dmn_umat.online.driver import drive_network

MODELS = Path(__file__).resolve().parents[1] / "dmn_umat" / "models"
PHASES = ["j2:E=70e3,nu=0.3,sy=100,H=500", "elastic:E=400e3,nu=0.2"]


def _rve(net):
    """Regenerate the model's training RVE from its metadata and check it voxel for voxel."""
    from dmn_umat.rve import micro

    info = net.metadata["microstructure"]
    gen = info["generator"]
    assert gen["kind"] == "spheres"
    p = gen["params"]
    m = micro.spheres(
        tuple(gen["shape"]), gen["target_volume_fraction"], seed=p["seed"], radius=p["radius"], gap=p["gap"]
    )
    vox = np.ascontiguousarray(m.voxels, dtype=np.int8)
    assert hashlib.sha256(vox.tobytes()).hexdigest() == info["voxels_sha256"]
    return vox.astype(np.int32)


def _mean_rel_error(stress, ref):
    return float(np.mean(np.linalg.norm(stress - ref, axis=1)) / np.linalg.norm(ref, axis=1).max())


@pytest.mark.parametrize(
    "name,steps", [("spheres16_imn_d6", 5), pytest.param("spheres16_dmn_d6", 10, marks=pytest.mark.slow)]
)
def test_trained_network_matches_fft_dns(name, steps):
    from dmn_umat.rve import fft

    path_file = MODELS / f"{name}.dmn"
    net = model_file.read(path_file)
    assert net.depth() >= 6
    vox = _rve(net)
    path = loadpath.cyclic([0.02, 0.0], steps)  # load to 2%, unload to 0 (reverse yielding)
    free = loadpath.ALL_BUT_11
    ref = fft.dns(vox, [parse_phase(s) for s in PHASES], path, free, tol=1e-6)
    res = drive_network(net, PHASES, path, free)
    assert np.allclose(res["strain"][:, 0], ref.strain[:, 0])
    assert ref.fields["peeq"][steps - 1, 0] > 1e-3  # the matrix really yields
    err = _mean_rel_error(res["stress"], ref.stress)
    assert err <= 0.03, err
