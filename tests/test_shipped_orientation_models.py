"""Every shipped orientation-aware (version-2) model answers as a function of A₂ alone: A₂ fixes
its principal axes only up to sign, so the principal-frame network must be orthotropic — C̄
invariant under the axis reflections M1, M2, M3 — at every orientation state (docs/fibres.md §3,
§4 *Frame*). A model without it (the former fibres32_pimn_d6: 0.8–1.9 %) must not be offered."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmn_umat import model_file, tensors
from dmn_umat.offline import pretrained

C_M = tensors.isotropic_stiffness(3000.0, 0.35)  # PA
C_F = tensors.isotropic_stiffness(72000.0, 0.22)  # glass
# corners (UD, planar isotropic, isotropic), edges and interior points of the orientation triangle
STATES = [(1.0, 0.0), (0.5, 0.5), (1 / 3, 1 / 3), (0.75, 0.25), (0.6, 0.2), (0.5, 0.3), (0.9, 0.05),
          (0.45, 0.45)]


def _version2_models() -> list[str]:
    out = []
    for name in pretrained.names():
        try:
            model_file.read_parametric(pretrained.path(name))
        except model_file.ModelFileError:
            continue  # a fixed (version-1) network
        out.append(name)
    return out


def test_an_orientation_aware_model_is_shipped():
    assert "fibres32_pimn_d7" in _version2_models()


@pytest.mark.parametrize("name", _version2_models())
def test_shipped_orientation_models_are_orthotropic_in_their_frame(name):
    pm = model_file.read_parametric(pretrained.path(name))
    for lam in STATES:
        C = pm.network_at(lam).homogenize([C_M, C_F])
        for D in (np.diag([-1.0, 1, 1]), np.diag([1.0, -1, 1]), np.diag([1.0, 1, -1])):
            Cd = tensors.rotate_stiffness(C, D)
            assert np.linalg.norm(Cd - C) <= 1e-10 * np.linalg.norm(C), (name, lam)


def test_index_lists_exactly_the_shipped_files():
    index = json.loads((pretrained.MODELS_DIR / "index.json").read_text(encoding="utf-8"))
    assert sorted(m["name"] for m in index["models"]) == pretrained.names()
