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
import os
import struct
import subprocess
from pathlib import Path

import numpy as np

from .fileio import atomic_write_bytes, open_regular
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


def _check_arrays(children, weights, normals, phase, rotations, n_phases: int) -> str | None:
    """First violation of the spec's per-array rules (one line naming the node), or None.

    children (N,2) int, weights (N,), normals (N,3), phase (N,), rotations (N,3,3) or None.
    """

    def first(mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask)[0])

    internal = children[:, 0] >= 0
    leaves = ~internal
    bad = ~np.isfinite(weights)
    if bad.any():
        return f"non-finite (NaN/inf) weight at node {first(bad)}"
    if np.any(weights < 0):
        return f"negative weight at node {first(weights < 0)}"
    with np.errstate(invalid="ignore", over="ignore"):
        norm = np.linalg.norm(normals, axis=1)
    bad = internal & ~(np.abs(norm - 1.0) <= 1e-10)  # also catches NaN/inf
    if bad.any():
        k = first(bad)
        return f"normal of internal node {k} is not a unit vector ({normals[k].tolist()})"
    bad = leaves & np.any(normals != 0.0, axis=1)  # NaN != 0 too
    if bad.any():
        k = first(bad)
        return f"normal of leaf {k} must be zero, got {normals[k].tolist()}"
    bad = leaves & ((phase < 0) | (phase >= n_phases))
    if bad.any():
        k = first(bad)
        return f"leaf {k} has phase {int(phase[k])} outside 0..{n_phases - 1}"
    bad = internal & (phase != -1)
    if bad.any():
        k = first(bad)
        return f"internal node {k} has phase {int(phase[k])} (must be -1)"
    if rotations is not None:
        bad = ~np.all(np.isfinite(rotations), axis=(1, 2))
        if bad.any():
            return f"non-finite (NaN/inf) rotation at node {first(bad)}"
        bad = internal & np.any(np.abs(rotations - np.eye(3)) > 1e-12, axis=(1, 2))
        if bad.any():
            return f"rotation of internal node {first(bad)} is not the identity"
        err = np.abs(rotations @ rotations.transpose(0, 2, 1) - np.eye(3)).max(axis=(1, 2))
        bad = leaves & ~(err <= 1e-10)
        if bad.any():
            return f"rotation of leaf {first(bad)} is not orthogonal"
    return None


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
    n_phases = max(net.n_phases, int(net.metadata.get("n_phases", 0) or 0))
    rot = None if net.rotations is None else np.asarray(net.rotations, dtype=np.float64)
    msg = _check_arrays(np.asarray(net.children), np.asarray(net.weights, dtype=np.float64),
                        np.asarray(net.normals, dtype=np.float64), np.asarray(net.phase), rot, n_phases)
    if msg:
        raise ModelFileError(f"cannot write an invalid network: {msg}")
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


def _check_header(head: bytes, size: int, name: str) -> tuple[int, int, int, int]:
    """Check the header bytes ``head`` (the file's first bytes) against the file ``size`` in
    bytes; return (flags, N, P, L).  Raises :class:`ModelFileError`."""

    def fail(msg: str):
        raise ModelFileError(f"model file {name}: {msg}")

    if size < HEADER.size + DIGEST_SIZE:
        if len(head) >= 8 and head[:8] != MAGIC:
            fail("not a dmn model file (wrong magic bytes)")
        fail(f"truncated ({size} bytes, a header alone is {HEADER.size + DIGEST_SIZE})")
    magic, version, flags, N, P, L = HEADER.unpack_from(head, 0)
    if magic != MAGIC:
        fail("not a dmn model file (wrong magic bytes)")
    if version != FORMAT_VERSION:
        fail(f"unsupported format version {version} (this reader knows version {FORMAT_VERSION})")
    if flags & ~FLAG_ROTATIONS:
        fail(f"unknown flags 0x{flags:x}")
    if not (1 <= N <= MAX_NODES) or L > MAX_METADATA or P < 1:
        fail(f"implausible header (nodes={N}, phases={P}, metadata bytes={L})")
    expected = _body_size(N, flags, L) + DIGEST_SIZE
    if size < expected:
        fail(f"truncated ({size} bytes, header announces {expected})")
    if size > expected:
        fail(f"{size - expected} unexpected trailing bytes (header announces {expected})")
    return flags, N, P, L


def decode(data: bytes, name: str = "<bytes>") -> Network:
    """Parse and check model-file bytes; raise :class:`ModelFileError` on any problem."""

    def fail(msg: str):
        raise ModelFileError(f"model file {name}: {msg}")

    flags, N, P, L = _check_header(data[: HEADER.size], len(data), name)
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

    msg = _check_arrays(children, weights, normals, phase, rotations, P)
    if msg:
        fail(msg)
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
    """Read and check a ``*.dmn`` file → :class:`Network` (metadata in ``net.metadata``).

    Only a regular file is read (a device, FIFO, socket or directory is refused without
    reading or blocking), and only as many bytes as its header announces once that size
    has been checked against the file's size.
    """
    path = Path(path)
    name = repr(str(path))
    fd = open_regular(path, "model file", ModelFileError)
    try:
        st = os.fstat(fd)
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(HEADER.size)
            flags, N, P, L = _check_header(head, st.st_size, name)
            rest = fh.read(_body_size(N, flags, L) + DIGEST_SIZE - len(head) + 1)  # +1: a file that grew
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {name}: {exc.strerror or exc}") from None
    return decode(head + rest, name)
