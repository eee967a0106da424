"""The binary model file: bit-exact round trip and refusal of corrupted/invalid files."""

import hashlib
import os
import struct
import subprocess
import sys

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
    struct.pack_into("<I", data, 8, max(model_file.VERSIONS) + 1)
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


def _normals_offset(n: int) -> int:
    return _weights_offset(n) + 8 * n


@pytest.mark.parametrize(
    "value, match",
    [([1e308, -5.0, 3.0], r"normal of leaf \d+ must be zero"), ([np.nan, 0.0, 0.0], r"normal of leaf \d+")],
)
def test_leaf_normal_must_be_zero(tmp_path, value, match):
    """The spec says zeros for leaves: a non-zero (or NaN) leaf normal is refused, naming the leaf."""
    net = _net()
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    leaf = int(net.leaves[1])
    data = bytearray(p.read_bytes())
    struct.pack_into("<3d", data, _normals_offset(net.n_nodes) + 24 * leaf, *value)
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match=match) as exc:
        model_file.read(p)
    assert f"leaf {leaf}" in str(exc.value)
    bad = _net()
    bad.normals[leaf] = value
    with pytest.raises(ModelFileError, match=match):  # the writer refuses what the reader refuses
        model_file.write(tmp_path / "w.dmn", bad)


def test_nan_internal_normal_names_the_node(tmp_path):
    net = _net()
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    k = int(net.internal[2])
    data = bytearray(p.read_bytes())
    struct.pack_into("<d", data, _normals_offset(net.n_nodes) + 24 * k + 8, np.nan)
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match=f"normal of internal node {k} is not a unit vector"):
        model_file.read(p)


def test_internal_rotation_must_be_identity(tmp_path):
    net = _net(rotations=True)
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    n = net.n_nodes
    off = HEADER.size + n * (8 + 8 + 24 + 4)  # rotations follow the phase block
    data = bytearray(p.read_bytes())
    R = tensors.rotation_from_euler(0.3, 0.2, 0.1)
    struct.pack_into("<9d", data, off, *R.ravel())  # root (internal) rotation
    p.write_bytes(_reseal(bytes(data)))
    with pytest.raises(ModelFileError, match="rotation of internal node 0 is not the identity"):
        model_file.read(p)


def test_special_files_are_refused_without_reading(tmp_path):
    """/dev/zero would be read forever, a FIFO would block: both are refused at once."""
    with pytest.raises(ModelFileError, match="not a regular file"):
        model_file.read("/dev/zero")
    fifo = tmp_path / "pipe.dmn"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        model_file.read(fifo)
    with pytest.raises(ModelFileError, match="is a directory"):
        model_file.read(tmp_path)


def test_size_checked_from_header_before_reading(tmp_path):
    """A file far larger than its header announces is refused without being read (the read runs
    under a 2 GiB address-space limit; the file is a sparse 64 GiB)."""
    net = _net()
    p = tmp_path / "m.dmn"
    model_file.write(p, net)
    with open(p, "ab") as fh:
        fh.truncate(64 << 30)
    code = (
        "import resource, sys\n"
        "from dmn_umat import model_file\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "try:\n"
        "    model_file.read(sys.argv[1])\n"
        "except model_file.ModelFileError as exc:\n"
        "    print(exc)\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "unexpected trailing bytes" in r.stdout
