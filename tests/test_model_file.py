"""The binary model file: bit-exact round trip and refusal of corrupted/invalid files."""

import hashlib
import struct

import numpy as np
import pytest

from dmn_umat import model_file, network, tensors
from dmn_umat.model_file import HEADER, ModelFileError


def _net(rotations: bool = False, seed: int = 0) -> network.Network:
    rng = np.random.default_rng(seed)
    depth = 3
    w = rng.uniform(0.1, 1.0, 2**depth)
    w[2] = 0.0  # pruned-to-zero leaves are legal
    nrm = rng.normal(size=(2**depth - 1, 3))
    rot = None
    if rotations:
        rot = np.array([tensors.rotation_from_euler(*rng.uniform(-3, 3, 3)) for _ in range(2**depth)])
    net = network.complete_tree(depth, w, nrm, rot)
    net.metadata = {"formulation": "imn", "microstructure": {"kind": "spheres", "vf": 0.2}, "note": "ü"}
    return net


def _reseal(data: bytes) -> bytes:
    """Recompute the checksum so only the semantic checks can refuse the file."""
    body = data[:-32]
    return body + hashlib.sha256(body).digest()


def _weights_offset(n: int) -> int:
    return HEADER.size + 8 * n


@pytest.mark.parametrize("rotations", [False, True])
def test_round_trip_bit_exact(tmp_path, rotations):
    net = _net(rotations)
    p1, p2 = tmp_path / "a.dmn", tmp_path / "b.dmn"
    model_file.write(p1, net)
    back = model_file.read(p1)
    model_file.write(p2, back)
    assert p1.read_bytes() == p2.read_bytes()
    assert np.array_equal(back.children, net.children)
    assert np.array_equal(back.weights, net.weights)
    assert np.array_equal(back.normals, net.normals)
    assert np.array_equal(back.phase, net.phase)
    assert (back.rotations is None) == (not rotations)
    assert back.metadata["note"] == "ü" and "version" in back.metadata["created"]
    C = [tensors.isotropic_stiffness(1.0, 0.3), tensors.isotropic_stiffness(20.0, 0.25)]
    assert np.array_equal(back.homogenize(C), net.homogenize(C))
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob("*.tmp"))  # atomic write left no temp


def test_truncated(tmp_path):
    p = tmp_path / "m.dmn"
    model_file.write(p, _net())
    data = p.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 1):
        p.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated"):
            model_file.read(p)


def test_bit_flip(tmp_path):
    p = tmp_path / "m.dmn"
    model_file.write(p, _net())
    data = bytearray(p.read_bytes())
    data[HEADER.size + 100] ^= 0x04
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        model_file.read(p)


def test_wrong_magic(tmp_path):
    p = tmp_path / "m.dmn"
    model_file.write(p, _net())
    data = p.read_bytes()
    p.write_bytes(_reseal(b"PK\x03\x04xxxx" + data[8:]))
    with pytest.raises(ModelFileError, match="magic"):
        model_file.read(p)


def test_wrong_version(tmp_path):
    p = tmp_path / "m.dmn"
    model_file.write(p, _net())
    data = bytearray(p.read_bytes())
    struct.pack_into("<I", data, 8, model_file.FORMAT_VERSION + 1)
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match="unsupported format version"):
        model_file.read(p)


@pytest.mark.parametrize("value,match", [(np.nan, "non-finite"), (-0.25, "negative weight")])
def test_bad_weight(tmp_path, value, match):
    net = _net()
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    data = bytearray(p.read_bytes())
    leaf = int(net.leaves[0])
    struct.pack_into("<d", data, _weights_offset(net.n_nodes) + 8 * leaf, value)
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match=match):
        model_file.read(p)


def test_non_unit_normal(tmp_path):
    net = _net()
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    data = bytearray(p.read_bytes())
    off = _weights_offset(net.n_nodes) + 8 * net.n_nodes  # normals start after weights
    struct.pack_into("<d", data, off, 2.0)  # root normal x-component
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match="unit vector"):
        model_file.read(p)


def test_inconsistent_internal_weight(tmp_path):
    net = _net()
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    data = bytearray(p.read_bytes())
    struct.pack_into("<d", data, _weights_offset(net.n_nodes), 123.0)  # root weight
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match="sums"):
        model_file.read(p)


def test_missing_file_and_bad_metadata(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        model_file.read(tmp_path / "nope.dmn")
    net = _net()
    net.metadata = {"x": object()}
    with pytest.raises(ModelFileError, match="JSON"):
        model_file.write(tmp_path / "m.dmn", net)
