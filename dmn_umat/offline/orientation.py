"""Orientation-aware material networks (issue 13 item 3, offline): one *parametric* network whose
parameters are smooth functions of the orientation state, and the triangle-interpolation baseline.

States are points of the orientation triangle, given by the eigenvalues (λ1, λ2) of A₂
(λ3 = 1 − λ1 − λ2, λ1 ≥ λ2 ≥ λ3 ≥ 0); the networks live in A₂'s principal frame (λ1 along x,
docs/data.md §4).

- :class:`ParametricNetwork`: the tree of an ordinary :class:`~.models.IMN` or :class:`~.models.DMN`
  (``base``), whose flat parameter vector p (IMN: leaf activations z (2^K), angles θ, φ
  (2^K − 1 each); DMN: z, z-y-z Euler angles (2^(K+1) − 1, 3)) is a polynomial in the state:
  ``p(λ) = p0 + A φ(λ)``, φ = all monomials of (λ1 − ⅓, λ2 − ⅓) of degree 1..``degree``
  (:func:`features`).  A = 0 at initialisation, so the network starts as ``base`` (typically a
  fixed network trained on all states).  The phase laws stay the leaves' laws: for one state the
  network *is* an ordinary network (:meth:`ParametricNetwork.fixed_at`, :meth:`network_at`), so an
  online kernel evaluates it as a fixed network plus ``len(p)·len(φ)`` multiply-adds.
- :class:`OrthotropicIMN` / ``symmetry="orthotropic"``: an IMN tied to be orthotropic in the
  principal frame for every parameter value (root normal e2 over T and M2 T, T = normal e1 over
  S and M1 S; Mk the reflection x_k → −x_k); only the subtree S (depth K − 2) is free, so
  A₂, which fixes its axes only up to sign, fixes the response (docs/fibres.md §3).
- :func:`train_parametric`: Adam on the mean relative Frobenius error of C̄ (the loss of
  :mod:`.train`), float64, batches grouped by state.
- :class:`TriangleInterpolator`: Köbler et al. (2018) — one network per grid state, C̄ at a state
  = barycentric blend of the three networks of the enclosing (Delaunay) triangle;
  :func:`train_per_state` trains them with :func:`.train.train`.
- :func:`to_parametric_model` / :func:`to_model_file`: export an IMN parametric network to the
  version-2 model file (docs/model_format.md; :class:`dmn_umat.model_file.ParametricModel`);
  :func:`from_parametric_model` is the inverse.
- :func:`save_json` / :func:`load_json`: the JSON document of the study scripts (training state).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import model_file
from ..fileio import atomic_write_json
from ..model_file import CENTER, ParametricModel, bfs_of_preorder, monomial_exponents
from ..network import Network
from .config import TrainConfig
from .data import split
from .export import to_network
from .models import DTYPE, IMN, MaterialNetwork, build
from .train import evaluate, relative_errors, train

FORMAT = "dmn_umat.parametric_network"
FORMAT_VERSION = 1
# CENTER (feature origin: the isotropic state) and monomial_exponents live in model_file
STATE_TOL = 1e-6  # tolerance of the triangle checks


class OrientationNetworkError(ValueError):
    """Bad orientation state, configuration or parametric model file (one-line message)."""


def check_states(states) -> np.ndarray:
    """(N, 2) or (N, 3) eigenvalues → (N, 2) float64 (λ1, λ2); raises on points off the triangle."""
    s = np.asarray(states, dtype=np.float64)
    if s.ndim == 1:
        s = s[None]
    if s.ndim != 2 or s.shape[1] not in (2, 3) or s.shape[0] == 0:
        raise OrientationNetworkError(f"states must be (N, 2) or (N, 3) eigenvalues, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise OrientationNetworkError("states must be finite")
    l1, l2 = s[:, 0], s[:, 1]
    l3 = 1.0 - l1 - l2
    if s.shape[1] == 3 and np.any(np.abs(s[:, 2] - l3) > STATE_TOL):
        raise OrientationNetworkError("state eigenvalues must sum to 1")
    bad = (l1 < l2 - STATE_TOL) | (l2 < l3 - STATE_TOL) | (l3 < -STATE_TOL)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise OrientationNetworkError(
            f"state ({l1[i]:g}, {l2[i]:g}, {l3[i]:g}) is off the orientation triangle (need λ1 ≥ λ2 ≥ λ3 ≥ 0)"
        )
    return np.ascontiguousarray(s[:, :2])


def features(states: torch.Tensor, degree: int) -> torch.Tensor:
    """(N, 2) states (λ1, λ2) → (N, F) monomials of (λ1 − ⅓, λ2 − ⅓), F = degree(degree + 3)/2."""
    x = states - torch.tensor(CENTER, dtype=states.dtype)
    cols = [x[:, 0] ** a * x[:, 1] ** b for a, b in monomial_exponents(degree)]
    return torch.stack(cols, dim=-1)


SYMMETRIES = (None, "orthotropic")
# φ of the IMN normal n = (sinθ cosφ, sinθ sinφ, cosθ) in the four mirrored copies S, M1 S, M2 S,
# M2 M1 S: φ → sign·φ + offset (M1: π − φ, M2: −φ, M2 M1: φ − π); θ is unchanged
_MIRROR_PHI = ((1.0, 0.0), (-1.0, math.pi), (-1.0, 0.0), (1.0, -math.pi))


def _check_symmetry(symmetry) -> None:
    if symmetry not in SYMMETRIES:
        raise OrientationNetworkError(f"symmetry must be None or 'orthotropic', got {symmetry!r}")


def orthotropic_tie(depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The affine tie of :class:`OrthotropicIMN`: full = offset + sign · q[src].

    q: the free parameters (z, θ, φ of the subtree S of depth K − 2, BFS order, 3·2^(K−2) − 2);
    full: those of the complete IMN of depth K (z of the 2^K leaves, θ and φ of the 2^K − 1
    internal nodes, BFS order — :class:`~.models.IMN`'s flat layout).  Returns src (int, P),
    sign (P,) (0 for the fixed top two levels) and offset (P,).
    """
    if depth < 3:
        raise OrientationNetworkError(f"an orthotropic network needs depth ≥ 3, got {depth}")
    ls = 2 ** (depth - 2)  # leaves of S; q = [z (ls), θ (ls − 1), φ (ls − 1)] of S
    n_int = 2**depth - 1
    th_src, ph_src = np.zeros(n_int, np.int64), np.zeros(n_int, np.int64)
    th_sign, ph_sign = np.zeros(n_int), np.zeros(n_int)
    th_off, ph_off = np.zeros(n_int), np.zeros(n_int)
    th_off[:3] = math.pi / 2  # root: normal e2 (θ = φ = π/2); level 1: normal e1 (θ = π/2, φ = 0)
    ph_off[0] = math.pi / 2
    for b in range(3, n_int):
        lev = int(math.log2(b + 1))
        per = 2 ** (lev - 2)  # nodes of one copy on this level
        g, i = divmod(b - (2**lev - 1), per)  # copy g of S, position i
        local = per - 1 + i  # BFS index inside S
        th_src[b], th_sign[b] = ls + local, 1.0
        ph_src[b] = ls + (ls - 1) + local
        ph_sign[b], ph_off[b] = _MIRROR_PHI[g]
    src = np.concatenate([np.tile(np.arange(ls), 4), th_src, ph_src])  # leaves: copy g = block g
    sign = np.concatenate([np.ones(4 * ls), th_sign, ph_sign])
    offset = np.concatenate([np.zeros(4 * ls), th_off, ph_off])
    return src, sign, offset


class OrthotropicIMN(IMN):
    """IMN of depth K ≥ 3 that is orthotropic in its own frame by construction.

    root = laminate (normal e2) of T and M2 T; T = laminate (normal e1) of S and M1 S, so the four
    grandchildren are S, M1 S, M2 S, M2 M1 S (Mk: reflection x_k → −x_k) with equal leaf
    activations, i.e. volume fractions ½ at the top two levels.  The network is invariant under
    M1 and M2 (and M3 = −M1 M2) for every value of the free parameters, also for nonlinear
    isotropic phase laws.  Free parameters: the subtree ``sub`` (an :class:`~.models.IMN` of depth
    K − 2; ``sub.z``, ``sub.theta``, ``sub.phi``); ``z``, ``theta``, ``phi`` are the full IMN's
    (BFS order, :func:`orthotropic_tie`), so everything built on an IMN (forward, weights,
    normals, export) sees the complete tree.
    """

    def __init__(
        self,
        depth: int,
        activation: str = "softplus",
        init: str = "uniform",
        angles: str = "random",
        seed: int = 0,
        sub: IMN | None = None,
    ):
        torch.nn.Module.__init__(self)  # the parameters are the subtree's, not IMN's own
        if depth < 3 or depth > 12:
            raise OrientationNetworkError(f"an orthotropic network needs depth in 3..12, got {depth}")
        self.depth = int(depth)
        self.n_leaves = 2**depth
        if sub is None:
            sub = IMN(depth - 2, activation, init, angles, seed)
        elif type(sub) is not IMN or sub.depth != depth - 2:
            raise OrientationNetworkError(f"the free subtree must be an IMN of depth {depth - 2}")
        self.activation = sub.activation
        self.sub = copy.deepcopy(sub)
        src, sign, offset = orthotropic_tie(self.depth)
        self._tie = (torch.as_tensor(src), torch.as_tensor(sign, dtype=DTYPE),
                     torch.as_tensor(offset, dtype=DTYPE))
        self.register_buffer("w0", self.weights().detach().sum())

    @classmethod
    def from_imn(cls, net: IMN) -> OrthotropicIMN:
        """The orthotropic network whose S is ``net``'s first grandchild subtree (depth ≥ 3)."""
        if type(net) is not IMN or net.depth < 3:
            raise OrientationNetworkError("an orthotropic network is built from an IMN of depth ≥ 3")
        K, ls = net.depth, 2 ** (net.depth - 2)
        sub = IMN(K - 2, net.activation)
        bfs = [2 ** (lev + 2) - 1 + i for lev in range(K - 2) for i in range(2**lev)]  # node 3's subtree
        with torch.no_grad():
            sub.z.copy_(net.z[:ls])
            sub.theta.copy_(net.theta[bfs])
            sub.phi.copy_(net.phi[bfs])
        return cls(K, sub=sub)

    def free(self) -> torch.Tensor:
        """(3·2^(K−2) − 2,) the free parameters (``sub``'s z, θ, φ)."""
        return torch.cat([self.sub.z, self.sub.theta, self.sub.phi])

    def expand(self, q: torch.Tensor) -> torch.Tensor:
        """(…, Q) free parameters → (…, P) the complete IMN's flat parameters (z, θ, φ)."""
        src, sign, offset = self._tie
        return offset + sign * q[..., src]

    def _full(self, part: int) -> torch.Tensor:
        L = self.n_leaves
        f = self.expand(self.free())
        return (f[:L], f[L : 2 * L - 1], f[2 * L - 1 :])[part]

    @property
    def z(self) -> torch.Tensor:  # type: ignore[override]
        return self._full(0)

    @property
    def theta(self) -> torch.Tensor:  # type: ignore[override]
        return self._full(1)

    @property
    def phi(self) -> torch.Tensor:  # type: ignore[override]
        return self._full(2)


def build_base(
    formulation: str = "imn",
    depth: int = 6,
    activation: str | None = None,
    init: str = "uniform",
    angles: str = "random",
    seed: int = 0,
    symmetry: str | None = None,
) -> MaterialNetwork:
    """:func:`.models.build`, or with ``symmetry="orthotropic"`` an :class:`OrthotropicIMN`."""
    _check_symmetry(symmetry)
    if symmetry is None:
        return build(formulation, depth, activation, init, angles, seed)
    if formulation != "imn":
        raise OrientationNetworkError(f"symmetry 'orthotropic' needs an IMN, got {formulation}")
    return OrthotropicIMN(depth, activation or "softplus", init, angles, seed)


class ParametricNetwork(torch.nn.Module):
    """A material network whose parameters are a polynomial in (λ1, λ2) (module docstring).

    ``base``: an :class:`~.models.IMN` or :class:`~.models.DMN` giving the tree, its activation and
    the state-independent part p0 (copied).  ``degree`` ≥ 1.  ``symmetry="orthotropic"``: the
    network is an :class:`OrthotropicIMN` (an IMN ``base`` of depth ≥ 3 is converted with
    :meth:`OrthotropicIMN.from_imn`); p and A then hold only its free parameters, and
    :meth:`full_parameters` gives the complete IMN's (what the model file stores).  An
    :class:`OrthotropicIMN` base is orthotropic without the option.
    """

    def __init__(self, base: MaterialNetwork, degree: int = 2, symmetry: str | None = None):
        super().__init__()
        if degree < 1 or degree > 6:
            raise OrientationNetworkError(f"degree must be in 1..6, got {degree}")
        _check_symmetry(symmetry)
        if symmetry == "orthotropic" and not isinstance(base, OrthotropicIMN):
            base = OrthotropicIMN.from_imn(base)
        self.base = copy.deepcopy(base)
        self.degree = int(degree)
        self.names = [n for n, _ in self.base.named_parameters()]
        self.shapes = [tuple(p.shape) for _, p in self.base.named_parameters()]
        self.sizes = [int(p.numel()) for _, p in self.base.named_parameters()]
        n_p = sum(self.sizes)
        self.n_features = len(monomial_exponents(self.degree))
        self.coef = torch.nn.Parameter(torch.zeros(n_p, self.n_features, dtype=DTYPE))

    @property
    def formulation(self) -> str:
        return self.base.formulation

    @property
    def depth(self) -> int:
        return self.base.depth

    @property
    def symmetry(self) -> str | None:
        return "orthotropic" if isinstance(self.base, OrthotropicIMN) else None

    def p0(self) -> torch.Tensor:
        """(P,) state-independent parameter vector (the base network's, flattened)."""
        return torch.cat([p.reshape(-1) for p in self.base.parameters()])

    def full_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(p0 (P,), A (P, F)) of the complete tree in the base's flat layout (for an IMN: z, θ, φ in
        BFS order): ``p0()`` and ``coef`` themselves, or for an orthotropic network their expansion
        by the affine tie (p0 = offset + sign·q0[src], A = sign·B[src])."""
        if self.symmetry is None:
            return self.p0(), self.coef
        src, sign, _ = self.base._tie
        return self.base.expand(self.p0()), sign[:, None] * self.coef[src]

    def parameters_at(self, states) -> torch.Tensor:
        """(N, 2|3) states → (N, P) flat network parameters p(λ) = p0 + A φ(λ)."""
        s = states if isinstance(states, torch.Tensor) else torch.as_tensor(check_states(states), dtype=DTYPE)
        return self.p0() + features(s[:, :2], self.degree) @ self.coef.T

    def _unflatten(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = p[i : i + size].reshape(shape)
            i += size
        return out

    def fixed_at(self, state) -> MaterialNetwork:
        """An ordinary (detached) network with the parameters of one state."""
        p = self.parameters_at(check_states(state)).detach()[0]
        net = copy.deepcopy(self.base)
        with torch.no_grad():
            for name, val in self._unflatten(p).items():
                net.get_parameter(name).copy_(val)
        return net

    def network_at(self, state, metadata: dict | None = None) -> Network:
        """The rotation-free :class:`~dmn_umat.network.Network` of one state (what a kernel runs)."""
        s = check_states(state)[0]
        meta = {"orientation_state": [float(s[0]), float(s[1]), float(1.0 - s[0] - s[1])], **(metadata or {})}
        return to_network(self.fixed_at(s), meta)

    def forward(self, C1: torch.Tensor, C2: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """C1, C2 (B, 6, 6), states (B, 2) → C̄ (B, 6, 6); one parameter evaluation per distinct state."""
        uniq, inv = torch.unique(states[:, :2], dim=0, return_inverse=True)
        P = self.parameters_at(uniq)
        out = torch.empty_like(C1)
        for u in range(uniq.shape[0]):
            idx = torch.nonzero(inv == u).squeeze(-1)
            out[idx] = torch.func.functional_call(self.base, self._unflatten(P[u]), (C1[idx], C2[idx]))
        return out


@dataclass
class OrientationData:
    """Samples with their states: C1, C2, Cbar (N, 6, 6) Mandel, states (N, 2) (λ1, λ2)."""

    C1: np.ndarray
    C2: np.ndarray
    Cbar: np.ndarray
    states: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.states = check_states(self.states)
        n = self.states.shape[0]
        for name in ("C1", "C2", "Cbar"):
            a = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if a.shape != (n, 6, 6) or not np.all(np.isfinite(a)):
                raise OrientationNetworkError(f"{name} must be finite ({n}, 6, 6), got {a.shape}")
            setattr(self, name, a)

    def take(self, idx) -> OrientationData:
        idx = np.asarray(idx, dtype=np.int64)
        return OrientationData(self.C1[idx], self.C2[idx], self.Cbar[idx], self.states[idx], dict(self.meta))

    def unique_states(self) -> np.ndarray:
        """(S, 2) the distinct states, sorted."""
        return np.unique(self.states, axis=0)

    def of_state(self, state) -> np.ndarray:
        """Indices of the samples at ``state`` (exact match)."""
        s = check_states(state)[0]
        return np.nonzero(np.all(np.abs(self.states - s) <= 1e-12, axis=1))[0]


def from_orientation_dataset(path: str | Path) -> tuple[OrientationData, OrientationData]:
    """``dmn data orientations`` file → (train, validation) by its stored split."""
    from ..rve.orientation_data import load_orientation_dataset

    d = load_orientation_dataset(path)
    all_ = OrientationData(d.C1, d.C2, d.Cbar, d.eig[:, :2], {"dataset": str(path)})
    return all_.take(d.train_idx), all_.take(d.val_idx)


def _tensors(d: OrientationData) -> tuple[torch.Tensor, ...]:
    return tuple(torch.as_tensor(a, dtype=DTYPE) for a in (d.C1, d.C2, d.Cbar, d.states))


def errors(model: ParametricNetwork, d: OrientationData) -> np.ndarray:
    """(N,) relative Frobenius errors of C̄ of ``model`` on ``d``."""
    C1, C2, Cb, S = _tensors(d)
    with torch.no_grad():
        return relative_errors(model(C1, C2, S), Cb).numpy()


@dataclass
class ParametricResult:
    model: ParametricNetwork  # best validation state
    history: list = field(default_factory=list)  # per epoch: train_loss, val_error
    best_val: float = math.inf
    best_epoch: int = -1


def train_parametric(
    model: ParametricNetwork,
    train_data: OrientationData,
    val_data: OrientationData,
    epochs: int = 200,
    batch_size: int = 32,
    lr: float = 0.02,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> ParametricResult:
    """Adam + cosine schedule on the mean relative Frobenius error of C̄ (p0 and A trained together);
    keeps the state of lowest mean validation error.  Mini-batches mix states (seeded shuffle)."""
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise OrientationNetworkError("epochs and batch size must be ≥ 1 and lr > 0")
    model = copy.deepcopy(model)
    C1, C2, Cb, S = _tensors(train_data)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = C1.shape[0]
    best, best_state, best_epoch, history = math.inf, copy.deepcopy(model.state_dict()), -1, []
    for epoch in range(epochs):
        for g in opt.param_groups:
            g["lr"] = 0.5 * lr * (1.0 + math.cos(math.pi * epoch / epochs))
        perm = torch.randperm(n, generator=gen)
        tot = 0.0
        for s in range(0, n, batch_size):
            idx = perm[s : s + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = relative_errors(model(C1[idx], C2[idx], S[idx]), Cb[idx]).mean()
            if not torch.isfinite(loss):
                raise OrientationNetworkError(
                    f"loss became non-finite at epoch {epoch}; lower the learning rate"
                )
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * idx.numel()
        val = float(errors(model, val_data).mean())
        history.append({"epoch": epoch + 1, "train_loss": tot / n, "val_error": val})
        if val < best:
            best, best_epoch, best_state = val, epoch + 1, copy.deepcopy(model.state_dict())
        if log and (epoch + 1) % max(1, epochs // 10) == 0:
            log(f"parametric epoch {epoch + 1}: train {tot / n:.4f} val {val:.4f}")
    model.load_state_dict(best_state)
    return ParametricResult(model, history, best, best_epoch)


class TriangleInterpolator:
    """Barycentric blend over a Delaunay triangulation of grid states (Köbler et al. 2018).

    ``grid``: (S, 2|3) grid states; ``predictors``: one callable per grid state,
    ``(C1, C2) (B, 6, 6) → C̄ (B, 6, 6)`` numpy.
    """

    def __init__(self, grid, predictors: Sequence[Callable[[np.ndarray, np.ndarray], np.ndarray]]):
        from scipy.spatial import Delaunay

        self.grid = check_states(grid)
        if len(predictors) != self.grid.shape[0] or self.grid.shape[0] < 3:
            raise OrientationNetworkError("need ≥ 3 grid states and one predictor per grid state")
        self.predictors = list(predictors)
        self.tri = Delaunay(self.grid)

    def weights(self, states) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2|3) states → (N, 3) grid indices of the enclosing triangle and (N, 3) barycentric weights."""
        s = check_states(states)
        simp = self.tri.find_simplex(s, tol=1e-9)
        if np.any(simp < 0):
            i = int(np.argmax(simp < 0))
            raise OrientationNetworkError(
                f"state ({s[i, 0]:g}, {s[i, 1]:g}) lies outside the grid's triangles"
            )
        T = self.tri.transform[simp]  # (N, 3, 2): inverse affine map and origin
        b = np.einsum("nij,nj->ni", T[:, :2], s - T[:, 2])
        w = np.column_stack([b, 1.0 - b.sum(axis=1)])
        return self.tri.simplices[simp], w

    def predict(self, C1: np.ndarray, C2: np.ndarray, states) -> np.ndarray:
        """(B, 6, 6), (B, 6, 6), (B, 2|3) → blended C̄ (B, 6, 6) = Σ_i w_i C̄_i(C1, C2)."""
        idx, w = self.weights(states)
        out = np.zeros_like(np.asarray(C1, dtype=np.float64))
        for g in np.unique(idx):
            rows, cols = np.nonzero(idx == g)
            out[rows] += w[rows, cols][:, None, None] * self.predictors[g](C1[rows], C2[rows])
        return out


def torch_predictor(model: MaterialNetwork) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Numpy C̄ predictor of a fixed torch network."""

    def f(C1: np.ndarray, C2: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(C1, dtype=DTYPE), torch.as_tensor(C2, dtype=DTYPE)).numpy()

    return f


def train_per_state(
    train_data: OrientationData,
    val_data: OrientationData,
    cfg: TrainConfig,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, list[MaterialNetwork], list[float]]:
    """One fixed network per state of ``train_data`` (:func:`.train.train` on that state's samples,
    validated on its ``val_data`` samples) → (grid (S, 2), models, validation errors)."""
    grid = train_data.unique_states()
    models, vals = [], []
    for s in grid:
        tr, va = train_data.take(train_data.of_state(s)), val_data.take(val_data.of_state(s))
        if tr.C1.shape[0] == 0 or va.C1.shape[0] == 0:
            raise OrientationNetworkError(f"state ({s[0]:g}, {s[1]:g}) lacks training or validation samples")
        data = split(
            np.concatenate([tr.C1, va.C1]),
            np.concatenate([tr.C2, va.C2]),
            np.concatenate([tr.Cbar, va.Cbar]),
            val_mask=np.r_[np.zeros(len(tr.C1), bool), np.ones(len(va.C1), bool)],
            meta={"orientation_state": s.tolist()},
        )
        res = train(data, cfg, show_progress=False)
        models.append(res.model)
        vals.append(float(evaluate(res.model, data.C1_val, data.C2_val, data.Cbar_val).mean()))
        if log:
            log(f"state ({s[0]:.4f}, {s[1]:.4f}): val {vals[-1]:.4f}")
    return grid, models, vals


def fixed_all_states(
    train_data: OrientationData, val_data: OrientationData, cfg: TrainConfig, symmetry: str | None = None
) -> MaterialNetwork:
    """One fixed network trained on every state's samples (the start p0 of a parametric network);
    ``symmetry="orthotropic"``: an :class:`OrthotropicIMN` (only its subtree is trained)."""
    data = split(
        np.concatenate([train_data.C1, val_data.C1]),
        np.concatenate([train_data.C2, val_data.C2]),
        np.concatenate([train_data.Cbar, val_data.Cbar]),
        val_mask=np.r_[np.zeros(len(train_data.C1), bool), np.ones(len(val_data.C1), bool)],
    )
    net = build_base(cfg.formulation, cfg.depth, cfg.activation, cfg.init, cfg.angles, cfg.seed, symmetry)
    return train(data, cfg, show_progress=False, model=net).model


def isotropy_distance(C: np.ndarray) -> np.ndarray:
    """(…, 6, 6) Mandel stiffness → ‖C − P_iso C‖_F / ‖C‖_F (0 for an isotropic C).

    P_iso C = (J::C) J + (K::C) K / 5 with the Mandel projectors J = ⅓ 1⊗1, K = I − J.
    """
    C = np.asarray(C, dtype=np.float64)
    one = np.r_[np.ones(3), np.zeros(3)]
    J = np.outer(one, one) / 3.0
    K = np.eye(6) - J
    a = np.einsum("ij,...ij->...", J, C)
    b = np.einsum("ij,...ij->...", K, C) / 5.0
    Ciso = a[..., None, None] * J + b[..., None, None] * K
    return np.linalg.norm(C - Ciso, axis=(-2, -1)) / np.linalg.norm(C, axis=(-2, -1))


# ---------------------------------------------------------------------------------------------
# Draft file format (docs/model_format.md, "DRAFT: parametric networks"): one JSON document.


def to_dict(model: ParametricNetwork, metadata: dict | None = None) -> dict:
    """The JSON-serialisable description of a parametric network (draft format version 1)."""
    with torch.no_grad():
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "formulation": model.formulation,
            "depth": model.depth,
            "activation": model.base.activation,
            "symmetry": model.symmetry,
            "features": {
                "variables": ["lambda1 - 1/3", "lambda2 - 1/3"],
                "center": list(CENTER),
                "degree": model.degree,
                "exponents": [list(e) for e in monomial_exponents(model.degree)],
            },
            "layout": [{"name": n, "shape": list(s)} for n, s in zip(model.names, model.shapes)],
            "p0": model.p0().tolist(),
            "coef": model.coef.tolist(),
            "metadata": dict(metadata or {}),
        }


def from_dict(obj: dict) -> ParametricNetwork:
    """Inverse of :func:`to_dict` (refuses other formats/versions and inconsistent shapes)."""
    if obj.get("format") != FORMAT or obj.get("format_version") != FORMAT_VERSION:
        raise OrientationNetworkError(
            f"not a {FORMAT} version {FORMAT_VERSION} document "
            f"(got {obj.get('format')!r} {obj.get('format_version')!r})"
        )
    try:
        base = build_base(obj["formulation"], int(obj["depth"]), obj["activation"],
                          symmetry=obj.get("symmetry"))
        model = ParametricNetwork(base, int(obj["features"]["degree"]))
        p0 = torch.tensor(obj["p0"], dtype=DTYPE)
        coef = torch.tensor(obj["coef"], dtype=DTYPE)
    except (KeyError, TypeError, ValueError) as exc:
        raise OrientationNetworkError(f"malformed parametric network: {exc}") from None
    if p0.shape != (model.coef.shape[0],) or coef.shape != model.coef.shape:
        raise OrientationNetworkError(
            f"parametric network sizes do not match depth {model.depth}: "
            f"p0 {tuple(p0.shape)}, coef {tuple(coef.shape)}"
        )
    if not (torch.isfinite(p0).all() and torch.isfinite(coef).all()):
        raise OrientationNetworkError("parametric network has non-finite parameters")
    with torch.no_grad():
        for name, val in model._unflatten(p0).items():
            model.base.get_parameter(name).copy_(val)
        model.coef.copy_(coef)
    return model


IMN_LAYOUT = ["z", "theta", "phi"]


def _file_order(model: ParametricNetwork) -> np.ndarray:
    """(P,) index into the torch parameter vector of each file-order entry (z left to right, θ and
    φ of the internal nodes in pre-order instead of breadth-first)."""
    if model.formulation != "imn" or (model.names != IMN_LAYOUT and model.symmetry is None):
        raise OrientationNetworkError(
            f"only IMN parametric networks go to a model file (got {model.formulation}); "
            "export a DMN state with network_at(state)"
        )
    L = 2**model.depth
    order = bfs_of_preorder(model.depth)
    internal = order[order < L - 1]
    return np.concatenate([np.arange(L), L + internal, 2 * L - 1 + internal])


def to_parametric_model(model: ParametricNetwork, metadata: dict | None = None) -> ParametricModel:
    """The file form (:class:`~dmn_umat.model_file.ParametricModel`) of an IMN parametric network."""
    idx = _file_order(model)
    meta = {"formulation": "imn", "depth": model.depth, "n_phases": 2, **(metadata or {})}
    ref = model.network_at(CENTER)
    meta.setdefault("active_leaves", int((ref.weights[ref.leaves] > 0).sum()))
    meta.setdefault("volume_fractions", [float(v) for v in ref.volume_fractions()])
    meta["parametric"] = {"degree": model.degree, "activation": model.base.activation,
                          "descriptors": ["lambda1 - 1/3", "lambda2 - 1/3"]}
    if model.symmetry is not None:
        meta["parametric"]["symmetry"] = model.symmetry
    with torch.no_grad():
        p0_full, coef_full = model.full_parameters()
        p0 = p0_full.numpy()[idx].copy()
        coef = coef_full.numpy()[idx].copy()
    return ParametricModel(model.depth, model.degree, model.base.activation, p0, coef, meta)


def from_parametric_model(pm: ParametricModel) -> ParametricNetwork:
    """Inverse of :func:`to_parametric_model` (a torch model, e.g. to continue training)."""
    model = ParametricNetwork(build("imn", pm.depth, pm.activation), pm.degree)
    idx = _file_order(model)
    p0, coef = np.empty_like(pm.p0), np.empty_like(pm.coef)
    p0[idx], coef[idx] = pm.p0, pm.coef
    with torch.no_grad():
        for name, val in model._unflatten(torch.as_tensor(p0, dtype=DTYPE)).items():
            model.base.get_parameter(name).copy_(val)
        model.coef.copy_(torch.as_tensor(coef, dtype=DTYPE))
    return model


def to_model_file(model: ParametricNetwork, path: str | Path, metadata: dict | None = None) -> Path:
    """Write an IMN parametric network as a version-2 ``*.dmn`` file (docs/model_format.md)."""
    try:
        return model_file.write_parametric(path, to_parametric_model(model, metadata))
    except model_file.ModelFileError as exc:
        raise OrientationNetworkError(str(exc)) from None


def save_json(path: str | Path, model: ParametricNetwork, metadata: dict | None = None) -> Path:
    """Write the draft-format JSON document atomically."""
    path = Path(path)
    atomic_write_json(path, to_dict(model, metadata))
    return path


def load_json(path: str | Path) -> ParametricNetwork:
    """Read a draft-format JSON document."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise OrientationNetworkError(f"cannot read parametric network {str(path)!r}: {exc}") from None
    return from_dict(obj)
