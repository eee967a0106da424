"""The one reader/writer of ``*.dmn`` model files (spec: ``docs/model_format.md``).

Layout (little-endian, no padding)::

    offset  size        content
    0       8           magic  b"\\x89DMN\\r\\n\\x1a\\n"
    8       4  uint32   format version (= FORMAT_VERSION)
    12      4  uint32   flags (bit 0: per-node rotations; bit 1: parametric block, bit 2: leaf
                        mask, version 2 only)
    16      4  uint32   N  number of nodes
    20      4  uint32   P  number of phases
    24      8  uint64   L  length of the JSON metadata block in bytes
    32      8N int32    children (N,2), -1 for leaves, pre-order tree
    ..      8N float64  weights (N,) (internal = sum of children)
    ..     24N float64  normals (N,3) unit for internal nodes, 0 for leaves
    ..      4N int32    phase (N,) 0..P-1 for leaves, -1 for internal nodes
    ..     72N float64  rotations (N,3,3) (only if flags bit 0)
    ..                  parametric block (version 2, flags bit 1): uint32 x6 (D, d, F, kind,
                        activation, 0) | float64 (D,) centre | int32 (F,D) exponents |
                        float64 (P,) p0 | float64 (P,F) A       (P = leaves + 2 internal nodes)
                        | uint8 (leaves,) leaf mask (flags bit 2: 1 kept, 0 pruned)
    ..      L           metadata: UTF-8 JSON object
    end-32  32          SHA-256 of every byte before it

:func:`write` is atomic (temporary file + ``os.replace``) and deterministic, so
write → read → write reproduces identical bytes.  :func:`read` refuses anything it cannot
trust with a :class:`ModelFileError` (a ``ValueError``) whose message names the problem.

Version 1 holds one fixed :class:`~dmn_umat.network.Network` (:func:`write`, :func:`read`).
Version 2 holds an orientation-aware IMN (:class:`ParametricModel`: the tree at the reference
state plus the parametric block; :func:`write_parametric`, :func:`read_parametric`);
:func:`read_any` returns whichever the file holds, and :func:`read` refuses a version-2 file
(a plain-network consumer would silently ignore the orientation).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .fileio import atomic_write_bytes, open_regular
from .network import Network, complete_tree

MAGIC = b"\x89DMN\r\n\x1a\n"
FORMAT_VERSION = 1  # a fixed network
PARAMETRIC_VERSION = 2  # an orientation-aware (parametric) network
VERSIONS = (FORMAT_VERSION, PARAMETRIC_VERSION)
FLAG_ROTATIONS = 1
FLAG_PARAMETRIC = 2
FLAG_LEAF_MASK = 4  # version 2: a pruned parametric network (uint8 leaf mask after A)
HEADER = struct.Struct("<8sIIIIQ")  # magic, version, flags, N, P, L  (32 bytes)
PBLOCK = struct.Struct("<6I")  # D, degree, F, kind, activation, reserved  (24 bytes)
DIGEST_SIZE = 32
#: Parametric networks: descriptors x = (λ1 − ⅓, λ2 − ⅓) of A₂'s sorted eigenvalues.
CENTER = (1.0 / 3.0, 1.0 / 3.0)
MAX_DEGREE = 6
ACTIVATIONS = ("softplus", "relu")  # file codes 0, 1
KIND_IMN_ANGLES = 0
#: Hard limits that keep a corrupted header from asking for absurd allocations.
MAX_NODES = 1 << 24
MAX_METADATA = 1 << 26


class ModelFileError(ValueError):
    """A ``*.dmn`` file is missing, corrupted, of an unknown version or semantically invalid."""


def _tree_size(n: int, flags: int) -> int:
    """Bytes of the header and the tree arrays (the parametric block starts here)."""
    return HEADER.size + n * (8 + 8 + 24 + 4) + (72 * n if flags & FLAG_ROTATIONS else 0)


def _param_size(n: int, n_features: int, flags: int = FLAG_PARAMETRIC) -> int:
    """Bytes of the parametric block of an N-node tree with F features (P = (3N − 1)/2), with the
    leaf mask ((N + 1)/2 bytes) if ``flags`` has bit 2."""
    P = (3 * n - 1) // 2
    mask = (n + 1) // 2 if flags & FLAG_LEAF_MASK else 0
    return PBLOCK.size + 16 + 8 * n_features + 8 * P + 8 * P * n_features + mask


def _body_size(n: int, flags: int, meta_len: int, n_features: int = 0) -> int:
    size = _tree_size(n, flags) + meta_len
    if flags & FLAG_PARAMETRIC:
        size += _param_size(n, n_features, flags)
    return size


# --------------------------------------------------------------------------- parametric networks
def monomial_exponents(degree: int) -> list[tuple[int, int]]:
    """Exponents (a, b) of the monomials x1^a x2^b with 1 ≤ a + b ≤ degree, graded order."""
    return [(d - b, b) for d in range(1, degree + 1) for b in range(d + 1)]


def n_features(degree: int) -> int:
    """F = degree(degree + 3)/2 monomials."""
    return degree * (degree + 3) // 2


def activation_np(z: np.ndarray, activation: str) -> np.ndarray:
    """Leaf weights w = act(z) (torch's softplus: z above 20 passes through; relu)."""
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return np.maximum(z, 0.0)
    return np.where(z > 20.0, z, np.log1p(np.exp(np.minimum(z, 20.0))))


def bfs_of_preorder(depth: int) -> np.ndarray:
    """(2^(K+1) − 1,) breadth-first index (root 0, children 2b+1, 2b+2) of each pre-order node
    of the complete tree of depth K (the order of :func:`~dmn_umat.network.complete_tree`)."""
    out, stack = [], [0]
    while stack:
        b = stack.pop()
        out.append(b)
        if b < 2**depth - 1:
            stack += [2 * b + 2, 2 * b + 1]
    return np.array(out, dtype=np.int64)


@dataclass
class ParametricModel:
    """An orientation-aware IMN (file version 2): at the orientation state λ (sorted eigenvalues of
    A₂) the parameters are ``p(λ) = p0 + coef @ φ(λ)``, φ = the monomials x1^a x2^b
    (:func:`monomial_exponents`) of x = (λ1 − ⅓, λ2 − ⅓), and the network is the complete IMN
    of ``depth`` with leaf weights act(z) and normals n(θ, φ) in A₂'s principal frame.

    ``p0`` (P,) and ``coef`` (P, F) in file order: z of the 2^K leaves (left to right = pre-order),
    θ of the 2^K − 1 internal nodes (pre-order), φ of the internal nodes (pre-order); P = 3·2^K − 2.
    ``leaf_mask`` (2^K,) bool or None: a pruned network (:func:`prune_parametric`) keeps the leaves
    where it is True; the others have weight 0 at every state (None: all leaves kept).
    """

    depth: int
    degree: int
    activation: str
    p0: np.ndarray
    coef: np.ndarray
    metadata: dict = field(default_factory=dict)
    leaf_mask: np.ndarray | None = None

    @property
    def n_leaves(self) -> int:
        return 2**self.depth

    def features(self, state) -> np.ndarray:
        """(…, 2|3) states (λ1, λ2[, λ3]) → (…, F) monomials of x = (λ1 − ⅓, λ2 − ⅓)."""
        x = np.asarray(state, dtype=np.float64)[..., :2] - np.asarray(CENTER)
        cols = [x[..., 0] ** a * x[..., 1] ** b for a, b in monomial_exponents(self.degree)]
        return np.stack(cols, axis=-1)

    def parameters_at(self, state) -> np.ndarray:
        """(P,) p(λ) in file order."""
        return self.p0 + self.coef @ self.features(state)

    def network_from_parameters(self, p: np.ndarray, metadata: dict | None = None) -> Network:
        """The principal-frame :class:`Network` (pre-order) of the parameter vector p (P,)."""
        L = self.n_leaves
        M = L - 1
        theta, phi = p[L : L + M], p[L + M : L + 2 * M]
        st = np.sin(theta)
        n_pre = np.column_stack([st * np.cos(phi), st * np.sin(phi), np.cos(theta)])
        order = bfs_of_preorder(self.depth)
        normals = np.empty((M, 3))
        normals[order[order < M]] = n_pre
        w = activation_np(p[:L], self.activation)
        if self.leaf_mask is not None:
            w = np.where(self.leaf_mask, w, 0.0)
        net = complete_tree(self.depth, w, normals)
        net.metadata = dict(self.metadata if metadata is None else metadata)
        return net

    def network_at(self, state, metadata: dict | None = None) -> Network:
        """The principal-frame network at the state (λ1, λ2[, λ3]) (the complete tree; pruned
        leaves have weight 0: ``offline.export.prune(net)`` removes them as the online build does)."""
        return self.network_from_parameters(self.parameters_at(state), metadata)

    def reference_network(self) -> Network:
        """The network at the isotropic reference state (p = p0): the tree stored in the file."""
        return self.network_from_parameters(self.p0)

    def check(self) -> str | None:
        """First violation of the version-2 rules on the parameters (one line), or None."""
        if not (1 <= self.depth <= 12):
            return f"parametric depth {self.depth} outside 1..12"
        if not (1 <= self.degree <= MAX_DEGREE):
            return f"parametric degree {self.degree} outside 1..{MAX_DEGREE}"
        if self.activation not in ACTIVATIONS:
            return f"unknown activation {self.activation!r} (known: {', '.join(ACTIVATIONS)})"
        P, F = 3 * self.n_leaves - 2, n_features(self.degree)
        if np.shape(self.p0) != (P,) or np.shape(self.coef) != (P, F):
            return (f"parametric arrays must be p0 ({P},) and A ({P}, {F}) for depth {self.depth} "
                    f"degree {self.degree}, got {np.shape(self.p0)} and {np.shape(self.coef)}")
        for name, a in (("p0", self.p0), ("A", self.coef)):
            bad = ~np.isfinite(np.asarray(a, dtype=np.float64))
            if bad.any():
                return f"non-finite (NaN/inf) parametric {name} at entry {int(np.argmax(bad.ravel()))}"
        if self.leaf_mask is not None:
            m = np.asarray(self.leaf_mask)
            if m.shape != (self.n_leaves,) or m.dtype != np.bool_:
                return f"leaf mask must be ({self.n_leaves},) booleans, got {m.shape} {m.dtype}"
            if not m.any():
                return "leaf mask prunes every leaf"
            if m.all():
                return "leaf mask prunes no leaf (leave it out: flag 0x4 clear)"
        return None

    def kept_leaves(self) -> np.ndarray:
        """(2^K,) bool: the leaves the network keeps (all without a leaf mask)."""
        return np.ones(self.n_leaves, dtype=bool) if self.leaf_mask is None else np.asarray(self.leaf_mask)


#: Barycentric grid of the pruning check: steps 1/PRUNE_GRID along each edge of the triangle.
PRUNE_GRID = 200


def triangle_grid_states(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The (n+1)(n+2)/2 points (i·iso + j·planar + k·UD)/n, i + j + k = n, of the orientation
    triangle (vertices iso (⅓, ⅓), planar isotropic (½, ½), UD (1, 0) in (λ1, λ2)) → ``states``
    (G, 2) (λ1, λ2) and ``index`` (n+1, n+1) int: the row of point (i, j) in ``states``, −1 where
    i + j > n."""
    if n < 1:
        raise ValueError("triangle grid: n must be >= 1")
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    ok = i + j <= n
    index = -np.ones((n + 1, n + 1), dtype=np.int64)
    index[ok] = np.arange(int(ok.sum()))
    bi, bj = i[ok] / n, j[ok] / n
    corners = np.array([[1 / 3, 1 / 3], [0.5, 0.5], [1.0, 0.0]])
    states = bi[:, None] * corners[0] + bj[:, None] * corners[1] + (1.0 - bi - bj)[:, None] * corners[2]
    return states, index


def _grid_leaf_weights(model: ParametricModel, states: np.ndarray) -> np.ndarray:
    """(2^K, G) leaf weights of ``model`` at the states (G, 2) (pruned leaves 0)."""
    L = model.n_leaves
    w = activation_np(model.p0[:L][:, None] + model.coef[:L] @ model.features(states).T, model.activation)
    return np.where(model.kept_leaves()[:, None], w, 0.0)


def leaf_fraction_bound(model: ParametricModel, n: int = PRUNE_GRID) -> np.ndarray:
    """(2^K,) for each leaf, an upper estimate of its weight fraction w_j(λ) / Σ w(λ) over the
    whole orientation triangle: the largest value at the points of :func:`triangle_grid_states`
    (n) plus the largest change between two neighbouring grid points (every point of the triangle
    lies in a grid cell with such sides).  Pruned leaves: 0."""
    states, index = triangle_grid_states(n)
    return _fraction_bound(_grid_leaf_weights(model, states), index, n)


def _fraction_bound(w: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    """:func:`leaf_fraction_bound` from the grid's leaf weights ``w`` (2^K, G) and ``index``."""
    frac = w / w.sum(axis=0)
    step = np.zeros(w.shape[0])
    I, J = np.nonzero(index >= 0)
    for di, dj in ((1, 0), (0, 1), (1, -1)):  # the three edge directions of the grid cells
        I2, J2 = I + di, J + dj
        ok = (J2 >= 0) & (I2 + J2 <= n)
        a, b = index[I[ok], J[ok]], index[I2[ok], J2[ok]]
        step = np.maximum(step, np.abs(frac[:, a] - frac[:, b]).max(axis=1))
    return frac.max(axis=1) + step


def prune_parametric(model: ParametricModel, tol: float, n: int = PRUNE_GRID) -> ParametricModel:
    """The network without the leaves whose weight fraction stays ≤ ``tol`` over the whole
    orientation triangle (:func:`leaf_fraction_bound`, grid n); metadata copied plus ``pruned``
    (tol, grid, removed_leaves, removed_fraction_max: the largest weight fraction removed at a
    grid point).  Nothing to remove: the model itself.  ValueError for tol < 0 or when every
    leaf would go."""
    if not tol >= 0:
        raise ValueError("prune: tol must be >= 0")
    kept = model.kept_leaves()
    states, index = triangle_grid_states(n)
    w = _grid_leaf_weights(model, states)
    keep = kept & (_fraction_bound(w, index, n) > tol)
    if not keep.any():
        raise ValueError(f"prune: tolerance {tol} removes every leaf")
    if keep.sum() == kept.sum():
        return model
    out = ParametricModel(model.depth, model.degree, model.activation, model.p0.copy(), model.coef.copy(),
                          json.loads(json.dumps(model.metadata)), None if keep.all() else keep)
    removed = float((w[kept & ~keep].sum(axis=0) / w.sum(axis=0)).max())
    prev = model.metadata.get("pruned", {})
    out.metadata["pruned"] = {
        "tol": float(tol),
        "grid": int(n),
        "removed_leaves": int(model.n_leaves - keep.sum()),
        "removed_fraction_max": removed + float(prev.get("removed_fraction_max", 0.0)),
    }
    out.metadata["active_leaves"] = int(keep.sum())
    out.metadata["volume_fractions"] = [float(v) for v in out.reference_network().volume_fractions()]
    return out


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
    """The exact bytes :func:`write` stores for ``net`` (metadata used as given; version 1)."""
    return _encode(net, FORMAT_VERSION, 0, b"")


def encode_parametric(model: ParametricModel) -> bytes:
    """The exact bytes :func:`write_parametric` stores for ``model`` (version 2)."""
    msg = model.check()
    if msg:
        raise ModelFileError(f"cannot write an invalid parametric network: {msg}")
    F = n_features(model.degree)
    block = b"".join([
        PBLOCK.pack(2, model.degree, F, KIND_IMN_ANGLES, ACTIVATIONS.index(model.activation), 0),
        np.asarray(CENTER, dtype="<f8").tobytes(),
        np.asarray(monomial_exponents(model.degree), dtype="<i4").tobytes(),
        np.ascontiguousarray(model.p0, dtype="<f8").tobytes(),
        np.ascontiguousarray(model.coef, dtype="<f8").tobytes(),
        b"" if model.leaf_mask is None else np.asarray(model.leaf_mask, dtype=np.uint8).tobytes(),
    ])
    flags = FLAG_PARAMETRIC | (0 if model.leaf_mask is None else FLAG_LEAF_MASK)
    return _encode(model.reference_network(), PARAMETRIC_VERSION, flags, block)


def _encode(net: Network, version: int, extra_flags: int, block: bytes) -> bytes:
    """Header, tree arrays, ``block`` (the version-2 parametric block or nothing), metadata, digest."""
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
    flags = (0 if net.rotations is None else FLAG_ROTATIONS) | extra_flags
    try:
        meta = json.dumps(
            net.metadata, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"metadata is not JSON-serializable: {exc}") from None
    meta_b = meta.encode("utf-8")
    parts = [
        HEADER.pack(MAGIC, version, flags, N, n_phases, len(meta_b)),
        children.tobytes(),
        np.ascontiguousarray(w, dtype="<f8").tobytes(),
        normals.tobytes(),
        phase.tobytes(),
    ]
    if net.rotations is not None:
        parts.append(np.ascontiguousarray(net.rotations, dtype="<f8").tobytes())
    parts.append(block)
    parts.append(meta_b)
    body = b"".join(parts)
    return body + hashlib.sha256(body).digest()


def _add_creation_info(metadata: dict, add: bool) -> None:
    if add and "created" not in metadata:
        metadata["created"] = creation_info()


def write(path: str | Path, net: Network, add_creation_info: bool = True) -> Path:
    """Write ``net`` to ``path`` atomically (temp file in the same folder + ``os.replace``).

    If ``add_creation_info`` and the metadata has no ``"created"`` entry, one is added (to the
    stored file and to ``net.metadata``) with package version, UTC date and git hash.
    """
    path = Path(path)
    _add_creation_info(net.metadata, add_creation_info)
    atomic_write_bytes(path, encode(net))
    return path


def write_parametric(path: str | Path, model: ParametricModel, add_creation_info: bool = True) -> Path:
    """Write an orientation-aware network as a version-2 file (atomic; ``created`` as in :func:`write`)."""
    path = Path(path)
    _add_creation_info(model.metadata, add_creation_info)
    atomic_write_bytes(path, encode_parametric(model))
    return path


def _fail(name: str, msg: str):
    raise ModelFileError(f"model file {name}: {msg}")


def _check_header(head: bytes, size: int, name: str) -> tuple[int, int, int, int, int]:
    """Check the header bytes ``head`` (the file's first bytes) against the file ``size`` in
    bytes; return (version, flags, N, P, L).  The exact size of a version-2 file depends on its
    parametric block header (:func:`_check_pblock`, :func:`_check_size`); here only its minimum.
    Raises :class:`ModelFileError`."""
    if size < HEADER.size + DIGEST_SIZE:
        if len(head) >= 8 and head[:8] != MAGIC:
            _fail(name, "not a dmn model file (wrong magic bytes)")
        _fail(name, f"truncated ({size} bytes, a header alone is {HEADER.size + DIGEST_SIZE})")
    magic, version, flags, N, P, L = HEADER.unpack_from(head, 0)
    if magic != MAGIC:
        _fail(name, "not a dmn model file (wrong magic bytes)")
    if version not in VERSIONS:
        _fail(name, f"unsupported format version {version} (this reader knows versions 1 and 2)")
    allowed = FLAG_ROTATIONS if version == FORMAT_VERSION else FLAG_PARAMETRIC | FLAG_LEAF_MASK
    if flags & ~allowed:
        _fail(name, f"unknown flags 0x{flags:x} for format version {version}")
    if version == PARAMETRIC_VERSION and not flags & FLAG_PARAMETRIC:
        _fail(name, "a version-2 file must set flag 0x2 (parametric block)")
    if not (1 <= N <= MAX_NODES) or L > MAX_METADATA or P < 1:
        _fail(name, f"implausible header (nodes={N}, phases={P}, metadata bytes={L})")
    if version == PARAMETRIC_VERSION:
        if (N + 1) & N or N < 3 or N > 2**13 - 1 or P != 2:
            _fail(name, f"a parametric network is a complete two-phase tree of depth 1..12 "
                        f"(nodes={N}, phases={P})")
        low = _body_size(N, flags, L, 0) + DIGEST_SIZE
        if size < low:
            _fail(name, f"truncated ({size} bytes, header announces at least {low})")
    else:
        _check_size(version, flags, N, L, 0, size, name)
    return version, flags, N, P, L


def _check_size(version: int, flags: int, N: int, L: int, F: int, size: int, name: str) -> None:
    expected = _body_size(N, flags, L, F) + DIGEST_SIZE
    if size < expected:
        _fail(name, f"truncated ({size} bytes, header announces {expected})")
    if size > expected:
        _fail(name, f"{size - expected} unexpected trailing bytes (header announces {expected})")


def _check_pblock(raw: bytes, name: str) -> tuple[int, int, int]:
    """The 24-byte parametric block header → (degree, F, activation code)."""
    D, degree, F, kind, act, reserved = PBLOCK.unpack_from(raw, 0)
    if D != 2:
        _fail(name, f"parametric block: {D} descriptors (version 2 knows 2: lambda1, lambda2)")
    if not 1 <= degree <= MAX_DEGREE:
        _fail(name, f"parametric block: degree {degree} outside 1..{MAX_DEGREE}")
    if F != n_features(degree):
        _fail(name, f"parametric block: {F} features, degree {degree} has {n_features(degree)}")
    if kind != KIND_IMN_ANGLES:
        _fail(name, f"parametric block: unknown parameter kind {kind} (0 = IMN angles)")
    if act >= len(ACTIVATIONS):
        _fail(name, f"parametric block: unknown activation code {act} (0 softplus, 1 relu)")
    if reserved != 0:
        _fail(name, f"parametric block: reserved field is {reserved}, must be 0")
    return degree, F, act


def decode_any(data: bytes, name: str = "<bytes>") -> Network | ParametricModel:
    """Parse and check model-file bytes of either version; raise :class:`ModelFileError`."""
    version, flags, N, P, L = _check_header(data[: HEADER.size], len(data), name)
    degree = F = act = 0
    tree_end = _tree_size(N, flags)
    if flags & FLAG_PARAMETRIC:
        degree, F, act = _check_pblock(data[tree_end : tree_end + PBLOCK.size], name)
        _check_size(version, flags, N, L, F, len(data), name)
    body = data[:-DIGEST_SIZE]
    if hashlib.sha256(body).digest() != data[-DIGEST_SIZE:]:
        _fail(name, "checksum mismatch (file corrupted)")
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
    if flags & FLAG_PARAMETRIC:
        off += PBLOCK.size
        Pn = (3 * N - 1) // 2
        center = take("<f8", 2, (2,))
        exps = take("<i4", 2 * F, (F, 2))
        p0 = take("<f8", Pn, (Pn,)).astype(np.float64)
        coef = take("<f8", Pn * F, (Pn, F)).astype(np.float64)
        mask = take("u1", (N + 1) // 2, ((N + 1) // 2,)) if flags & FLAG_LEAF_MASK else None
    try:
        metadata = json.loads(data[off : off + L].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        _fail(name, f"metadata block is not valid UTF-8 JSON ({exc})")
    if not isinstance(metadata, dict):
        _fail(name, "metadata block must be a JSON object")

    msg = _check_arrays(children, weights, normals, phase, rotations, P)
    if msg:
        _fail(name, msg)
    net = Network(children, normals, weights, phase, rotations, metadata)
    try:
        net.validate()
    except ValueError as exc:
        _fail(name, str(exc))
    sums = weights.copy()
    net.refresh_weights()
    scale = max(float(net.weights[0]), 1e-300)
    if np.any(np.abs(sums - net.weights) > 1e-12 * scale):
        _fail(name, "internal weights are not the sums of their children")
    net.weights = sums  # keep the stored values bit-exact
    if net.n_phases != P and metadata.get("n_phases") != P:
        _fail(name, f"header declares {P} phases but leaves use {net.n_phases} and metadata has no n_phases")
    if not flags & FLAG_PARAMETRIC:
        return net
    if tuple(center.tolist()) != CENTER:
        _fail(name, f"parametric block: centre {center.tolist()} must be (1/3, 1/3)")
    if exps.tolist() != [list(e) for e in monomial_exponents(degree)]:
        _fail(name, "parametric block: exponents are not the graded monomials of the degree")
    leaf_mask = None
    if mask is not None:
        bad = mask > 1
        if bad.any():
            _fail(name, f"parametric block: leaf mask entry {int(np.flatnonzero(bad)[0])} is "
                        f"{int(mask[bad][0])} (1 kept, 0 pruned)")
        leaf_mask = mask == 1
    model = ParametricModel(N.bit_length() - 1, degree, ACTIVATIONS[act], p0, coef, metadata, leaf_mask)
    msg = model.check()
    if msg:
        _fail(name, msg)
    ref = model.reference_network()
    if not (np.array_equal(ref.children, children) and np.array_equal(ref.phase, phase)):
        _fail(name, "parametric block: the tree is not the complete two-phase tree of its depth")
    with np.errstate(invalid="ignore", over="ignore"):
        dw = np.abs(ref.weights - sums) / max(float(ref.weights[0]), 1e-300)
        dn = np.abs(ref.normals - normals).max(axis=1)
    bad = ~(np.maximum(dw, dn) <= 1e-12)
    if bad.any():
        _fail(name, f"parametric block: the stored tree differs from the network of p0 at node "
                    f"{int(np.flatnonzero(bad)[0])}")
    return model


def decode(data: bytes, name: str = "<bytes>") -> Network:
    """Parse and check version-1 model-file bytes; raise :class:`ModelFileError` on any problem."""
    return _only_fixed(decode_any(data, name), name)


def decode_parametric(data: bytes, name: str = "<bytes>") -> ParametricModel:
    """Parse and check version-2 model-file bytes; raise :class:`ModelFileError` on any problem."""
    out = decode_any(data, name)
    if not isinstance(out, ParametricModel):
        _fail(name, "holds a fixed network (format version 1), not an orientation-aware one")
    return out


def _only_fixed(out: Network | ParametricModel, name: str) -> Network:
    if isinstance(out, ParametricModel):
        _fail(name, "holds an orientation-aware network (format version 2): it needs the fibre "
                    "orientation A2 per point (dmn_umat.online.parametric; dmn inspect describes it)")
    return out


def _read_bytes(path: str | Path) -> tuple[bytes, str]:
    """All bytes of a model file, its size checked against its header first."""
    path = Path(path)
    name = repr(str(path))
    fd = open_regular(path, "model file", ModelFileError)
    try:
        st = os.fstat(fd)
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(HEADER.size)
            version, flags, N, P, L = _check_header(head, st.st_size, name)
            F = 0
            if flags & FLAG_PARAMETRIC:
                fh.seek(_tree_size(N, flags))
                _, F, _ = _check_pblock(fh.read(PBLOCK.size), name)
                _check_size(version, flags, N, L, F, st.st_size, name)
                fh.seek(HEADER.size)
            rest = fh.read(_body_size(N, flags, L, F) + DIGEST_SIZE - len(head) + 1)  # +1: a file that grew
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {name}: {exc.strerror or exc}") from None
    return head + rest, name


def read_any(path: str | Path) -> Network | ParametricModel:
    """Read and check a ``*.dmn`` file of either version → :class:`Network` (version 1) or
    :class:`ParametricModel` (version 2).

    Only a regular file is read (a device, FIFO, socket or directory is refused without
    reading or blocking), and only as many bytes as its header announces once that size
    has been checked against the file's size.
    """
    return decode_any(*_read_bytes(path))


def read(path: str | Path) -> Network:
    """Read and check a version-1 ``*.dmn`` file → :class:`Network` (metadata in ``net.metadata``);
    a version-2 (orientation-aware) file is refused with a one-line :class:`ModelFileError`."""
    data, name = _read_bytes(path)
    return _only_fixed(decode_any(data, name), name)


def read_parametric(path: str | Path) -> ParametricModel:
    """Read and check a version-2 ``*.dmn`` file → :class:`ParametricModel`."""
    return decode_parametric(*_read_bytes(path))
