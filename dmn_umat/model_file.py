"""The one reader/writer of ``*.dmn`` model files (spec: ``docs/model_format.md``).

Layout (little-endian, no padding)::

    offset  size        content
    0       8           magic  b"\\x89DMN\\r\\n\\x1a\\n"
    8       4  uint32   format version (= FORMAT_VERSION)
    12      4  uint32   flags (bit 0: per-node rotations present; other bits 0)
    16      4  uint32   N  number of nodes
    20      4  uint32   P  number of phases
    24      8  uint64   L  length of the JSON metadata block in bytes
    32      8N int32    children (N,2), -1 for leaves, pre-order tree
    ..      8N float64  weights (N,) (internal = sum of children)
    ..     24N float64  normals (N,3) unit for internal nodes, 0 for leaves
    ..      4N int32    phase (N,) 0..P-1 for leaves, -1 for internal nodes
    ..     72N float64  rotations (N,3,3) (only if flags bit 0)
    ..      L           metadata: UTF-8 JSON object
    end-32  32          SHA-256 of every byte before it

:func:`write` is atomic (temporary file + ``os.replace``) and deterministic, so
write → read → write reproduces identical bytes.  :func:`read` refuses anything it cannot
trust with a :class:`ModelFileError` (a ``ValueError``) whose message names the problem.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import struct
import subprocess
from pathlib import Path

import numpy as np

from .fileio import atomic_write_bytes
from .network import Network

MAGIC = b"\x89DMN\r\n\x1a\n"
FORMAT_VERSION = 1
FLAG_ROTATIONS = 1
HEADER = struct.Struct("<8sIIIIQ")  # magic, version, flags, N, P, L  (32 bytes)
DIGEST_SIZE = 32
#: Hard limits that keep a corrupted header from asking for absurd allocations.
MAX_NODES = 1 << 24
MAX_METADATA = 1 << 26


class ModelFileError(ValueError):
    """A ``*.dmn`` file is missing, corrupted, of an unknown version or semantically invalid."""


def _body_size(n: int, flags: int, meta_len: int) -> int:
    size = HEADER.size + n * (8 + 8 + 24 + 4) + meta_len
    if flags & FLAG_ROTATIONS:
        size += 72 * n
    return size


def _git_hash() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def creation_info() -> dict:
    """Provenance dict: package version, UTC date, git hash (None outside a checkout)."""
    from . import __version__

    return {
        "package": "dmn_umat",
        "version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": _git_hash(),
    }


def encode(net: Network) -> bytes:
    """The exact bytes :func:`write` stores for ``net`` (metadata used as given)."""
    try:
        net.validate()
    except ValueError as exc:
        raise ModelFileError(f"cannot write an invalid network: {exc}") from None
    N = net.n_nodes
    if N > MAX_NODES:
        raise ModelFileError(f"network too large for the model file ({N} nodes > {MAX_NODES})")
    w = np.array(net.weights, dtype="<f8")
    tmp = Network(net.children, net.normals, w, net.phase, net.rotations)
    tmp.refresh_weights()
    w = tmp.weights
    children = np.ascontiguousarray(net.children, dtype="<i4")
    normals = np.ascontiguousarray(net.normals, dtype="<f8")
    phase = np.ascontiguousarray(net.phase, dtype="<i4")
    flags = 0 if net.rotations is None else FLAG_ROTATIONS
    n_phases = max(net.n_phases, int(net.metadata.get("n_phases", 0) or 0))
    try:
        meta = json.dumps(
            net.metadata, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"metadata is not JSON-serializable: {exc}") from None
    meta_b = meta.encode("utf-8")
    parts = [
        HEADER.pack(MAGIC, FORMAT_VERSION, flags, N, n_phases, len(meta_b)),
        children.tobytes(),
        np.ascontiguousarray(w, dtype="<f8").tobytes(),
        normals.tobytes(),
        phase.tobytes(),
    ]
    if net.rotations is not None:
        parts.append(np.ascontiguousarray(net.rotations, dtype="<f8").tobytes())
    parts.append(meta_b)
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


def write(path: str | Path, net: Network, add_creation_info: bool = True) -> Path:
    """Write ``net`` to ``path`` atomically (temp file in the same folder + ``os.replace``).

    If ``add_creation_info`` and the metadata has no ``"created"`` entry, one is added (to the
    stored file and to ``net.metadata``) with package version, UTC date and git hash.
    """
    path = Path(path)
    if add_creation_info and "created" not in net.metadata:
        net.metadata["created"] = creation_info()
    data = encode(net)
    atomic_write_bytes(path, data)
    return path


def decode(data: bytes, name: str = "<bytes>") -> Network:
    """Parse and check model-file bytes; raise :class:`ModelFileError` on any problem."""

    def fail(msg: str):
        raise ModelFileError(f"model file {name}: {msg}")

    if len(data) < HEADER.size + DIGEST_SIZE:
        if len(data) >= 8 and data[:8] != MAGIC:
            fail("not a dmn model file (wrong magic bytes)")
        fail(f"truncated ({len(data)} bytes, a header alone is {HEADER.size + DIGEST_SIZE})")
    magic, version, flags, N, P, L = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        fail("not a dmn model file (wrong magic bytes)")
    if version != FORMAT_VERSION:
        fail(f"unsupported format version {version} (this reader knows version {FORMAT_VERSION})")
    if flags & ~FLAG_ROTATIONS:
        fail(f"unknown flags 0x{flags:x}")
    if not (1 <= N <= MAX_NODES) or L > MAX_METADATA or P < 1:
        fail(f"implausible header (nodes={N}, phases={P}, metadata bytes={L})")
    expected = _body_size(N, flags, L) + DIGEST_SIZE
    if len(data) < expected:
        fail(f"truncated ({len(data)} bytes, header announces {expected})")
    if len(data) > expected:
        fail(f"{len(data) - expected} unexpected trailing bytes (header announces {expected})")
    body = data[:-DIGEST_SIZE]
    if hashlib.sha256(body).digest() != data[-DIGEST_SIZE:]:
        fail("checksum mismatch (file corrupted)")
    off = HEADER.size

    def take(dtype: str, count: int, shape: tuple) -> np.ndarray:
        nonlocal off
        a = np.frombuffer(data, dtype=dtype, count=count, offset=off).reshape(shape)
        off += a.nbytes
        return a

    children = take("<i4", 2 * N, (N, 2)).astype(np.int64)
    weights = take("<f8", N, (N,)).astype(np.float64)
    normals = take("<f8", 3 * N, (N, 3)).astype(np.float64)
    phase = take("<i4", N, (N,)).astype(np.int64)
    rotations = take("<f8", 9 * N, (N, 3, 3)).astype(np.float64) if flags & FLAG_ROTATIONS else None
    try:
        metadata = json.loads(data[off : off + L].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"metadata block is not valid UTF-8 JSON ({exc})")
    if not isinstance(metadata, dict):
        fail("metadata block must be a JSON object")

    if not np.all(np.isfinite(weights)):
        fail("non-finite (NaN/inf) weight")
    if np.any(weights < 0):
        fail(f"negative weight at node {int(np.flatnonzero(weights < 0)[0])}")
    internal = children[:, 0] >= 0
    nn = np.linalg.norm(normals[internal], axis=1)
    if not np.all(np.isfinite(normals)) or np.any(np.abs(nn - 1.0) > 1e-10):
        fail("an internal node's normal is not a unit vector")
    leaves = ~internal
    if np.any(phase[leaves] >= P) or np.any(phase[leaves] < 0):
        fail(f"leaf phase index outside 0..{P - 1}")
    if np.any(phase[internal] != -1):
        fail("internal node with a phase index (must be -1)")
    net = Network(children, normals, weights, phase, rotations, metadata)
    try:
        net.validate()
    except ValueError as exc:
        fail(str(exc))
    sums = weights.copy()
    net.refresh_weights()
    scale = max(float(net.weights[0]), 1e-300)
    if np.any(np.abs(sums - net.weights) > 1e-12 * scale):
        fail("internal weights are not the sums of their children")
    net.weights = sums  # keep the stored values bit-exact
    if net.n_phases != P and metadata.get("n_phases") != P:
        fail(f"header declares {P} phases but leaves use {net.n_phases} and metadata has no n_phases")
    return net


def read(path: str | Path) -> Network:
    """Read and check a ``*.dmn`` file → :class:`Network` (metadata in ``net.metadata``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {str(path)!r} not found") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {str(path)!r}: {exc.strerror}") from None
    return decode(data, repr(str(path)))
