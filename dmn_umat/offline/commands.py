"""``dmn train``, ``dmn inspect``, ``dmn models``, ``dmn prune`` (torch imported in handlers only)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..cliutil import CLIError, check_outputs, emit_json, input_file, load_model
from .api import TrainJob, summary_of
from .config import TrainConfig

_CFG = TrainConfig()  # the defaults of dmn train's options (one place: the dataclasses)
_JOB = TrainJob(data="", out="")


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a DMN or IMN on (C1, C2) -> Cbar data and write a .dmn model",
        description="Train a material network (torch, float64) and write the rotation-free .dmn model "
        "(best validation state, zero-weight leaves pruned). Also writes OUT.log.json and OUT.png.",
    )
    p.add_argument("data", help="dataset (dmn data generate output, or .npz with C1, C2, Cbar [, val])")
    p.add_argument("--formulation", choices=("dmn", "imn"), required=True)
    p.add_argument("--depth", type=int, required=True, help="tree depth K (2^K leaves)")
    p.add_argument("--out", required=True, help="output model file (.dmn)")
    p.add_argument("--epochs", type=int, default=_CFG.epochs)
    p.add_argument("--batch-size", type=int, default=_CFG.batch_size)
    p.add_argument("--n-train", type=int, default=_CFG.n_train, help="use only the first N training samples")
    p.add_argument(
        "--val-fraction", type=float, default=_JOB.val_fraction,
        help=f"if the dataset has no split (default {_JOB.val_fraction:g})",
    )
    p.add_argument("--lr", type=float, default=_CFG.lr, help=f"Adam learning rate (default {_CFG.lr:g})")
    p.add_argument("--optimizer", choices=("adam", "amsgrad"), default=_CFG.optimizer)
    p.add_argument("--schedule", choices=("cosine", "decay-on-increase", "none"), default=_CFG.schedule)
    p.add_argument(
        "--loss", choices=("rel", "rel2", "energy"), default=_CFG.loss,
        help="mean rel. Frobenius error (or squared), or rel. error in the energy norm of C-bar (energy)",
    )
    p.add_argument("--lam", type=float, default=_CFG.lam,
                   help=f"weight of the activation regularizer (default {_CFG.lam:g})")
    p.add_argument(
        "--reg", choices=("sum", "l1"), default=_CFG.reg,
        help="regularizer: sum = (sum w / W0 - 1)^2 (fixes the total weight, default); "
        "l1 = normalized L1/L2 norm of the leaf weights (sparsity: prunes leaves as lam grows)",
    )
    p.add_argument(
        "--activation",
        choices=("relu", "softplus"),
        default=_CFG.activation,
        help="leaf weight activation (default softplus; relu: dead leaves are pruned at export)",
    )
    p.add_argument("--init", choices=("uniform", "normal"), default=_CFG.init)
    p.add_argument("--angles", choices=("random", "structured"), default=_CFG.angles)
    p.add_argument("--seed", type=int, default=_CFG.seed)
    p.add_argument(
        "--no-recover",
        action="store_true",
        help="disable the dead-phase guard (default: when every leaf of a phase dies, roll back the "
        "epoch and halve the lr; logged as events)",
    )
    p.add_argument(
        "--prune-tol",
        type=float,
        default=_JOB.prune_tol,
        help=f"prune leaves with weight <= tol * total (default {_JOB.prune_tol:g}: exact zeros only)",
    )
    p.add_argument("--checkpoint", metavar="DIR", default=None, help="write DIR/checkpoint.pt every epoch")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt if present")
    p.add_argument("--no-plot", action="store_true", help="skip the training-curve PNG")
    p.add_argument("--json", action="store_true", help="print only a JSON summary on stdout")
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "inspect", help="show a .dmn model: depth, leaves, volume fractions, errors, provenance"
    )
    p.add_argument("model", help="model file or shipped model name (see dmn models)")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--abaqus", action="store_true", help="print the *USER MATERIAL / *DEPVAR block (needs --phase)"
    )
    p.add_argument(
        "--phase", action="append", default=None, help="phase spec (with --abaqus), once per phase"
    )
    p.add_argument(
        "--flavor", choices=("calculix", "abaqus"), default="calculix",
        help="deck flavor for --abaqus: calculix (default; adds the temperature field CalculiX reads) "
        "or abaqus (exactly CONSTANTS values)",
    )
    p.add_argument("--material-name", default=None, help="material name for --abaqus (default: the ABI's)")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("models", help="list the pretrained models shipped with the package")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_models)

    p = sub.add_parser(
        "prune", help="remove vanishing leaves of a .dmn model and collapse single-child nodes"
    )
    p.add_argument("model")
    p.add_argument("--tol", type=float, default=0.0, help="relative weight threshold (default 0)")
    p.add_argument("--data", default=None, help="dataset: report the validation error before and after")
    p.add_argument("--out", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_prune)

    p = sub.add_parser(
        "export-orientation",
        help="write a parametric (orientation-aware) IMN from its JSON document as a version-2 .dmn file",
    )
    p.add_argument("model", help="JSON document of offline.orientation.save_json")
    p.add_argument("--out", required=True, help="the .dmn file to write (format version 2)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_export_orientation)


def _say(args, text: str) -> None:
    print(text, file=sys.stderr if args.json else sys.stdout)


def _train(args) -> int:
    """``dmn train``: a thin layer over :func:`dmn_umat.offline.api.train_model`."""
    from .api import train_model
    from .data import DataError

    out = Path(args.out)
    check_outputs({"data set": input_file(args.data, "data set")}, {"--out": out})
    cfg = TrainConfig(
        formulation=args.formulation, depth=args.depth, epochs=args.epochs, batch_size=args.batch_size,
        n_train=args.n_train, lr=args.lr, optimizer=args.optimizer, schedule=args.schedule,
        loss=args.loss, lam=args.lam, reg=args.reg, activation=args.activation, init=args.init,
        angles=args.angles, seed=args.seed, recover=not args.no_recover,
    )
    job = TrainJob(data=args.data, out=out, config=cfg, val_fraction=args.val_fraction,
                   prune_tol=args.prune_tol, checkpoint=args.checkpoint, resume=args.resume,
                   plot=not args.no_plot)
    try:
        s = train_model(job, log=lambda line: print(line, file=sys.stderr))
    except (DataError, ValueError) as exc:  # TrainError is a ValueError
        raise CLIError(str(exc)) from None
    if args.json:
        emit_json(s.to_dict())
    else:
        print(f"wrote {out}: {s.formulation.upper()} depth {s.depth}, {s.active_leaves} active leaves")
        print(
            f"  error  train {s.train_error:.3e}  validation mean {s.val_error:.3e}  "
            f"max {s.val_error_max:.3e}  (best epoch {s.best_epoch}/{s.epochs}, {s.wall_time_s:.1f} s)"
        )
        print(f"  log {s.log}" + ("" if s.plot is None else f", curve {s.plot}"))
    return 0


def _abaqus(args, path: Path, net) -> int:
    """``--abaqus``: the *MATERIAL/*USER MATERIAL/*DEPVAR block from :mod:`dmn_umat.abi.deck`; for
    an orientation-aware (version-2) model also the A₂ recipe (:func:`dmn_umat.abi.deck.a2_recipe`)."""
    from ..abi import deck
    from ..cliutil import load_phases
    from ..network import Network

    phases = load_phases(args.phase, deck.n_phases(net), f"model {args.model!r}")
    kw = {"flavor": args.flavor}
    if args.material_name:
        kw["name"] = args.material_name
    try:
        block = deck.material_block(net, phases, **kw)
        recipe = "" if isinstance(net, Network) else deck.a2_recipe(deck.nstatv(net, phases), args.flavor)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        extra = {"a2_slots": deck.A2_SLOTS, "recipe": recipe} if recipe else {}
        emit_json({"model": str(path), "flavor": args.flavor, "block": block, **extra})
    else:
        sys.stdout.write(f"** dmn_umat model: {path}\n" + block + recipe)
    return 0


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3e}"


def parametric_summary(path, pm) -> dict:
    """The ``dmn inspect --json`` summary of an orientation-aware (version-2) model: the file's
    parametric block, and the volume fractions at the corners of the orientation triangle."""
    meta = pm.metadata
    t = meta.get("training", {})
    corners = {"isotropic": (1 / 3, 1 / 3), "planar": (0.5, 0.5), "unidirectional": (1.0, 0.0)}
    return {
        "path": str(path),
        "format_version": 2,
        "formulation": meta.get("formulation", "imn"),
        "depth": pm.depth,
        "leaves": pm.n_leaves,
        "active_leaves": int(pm.kept_leaves().sum()),
        "pruned": meta.get("pruned"),
        "degree": pm.degree,
        "activation": pm.activation,
        "features": int(pm.coef.shape[1]),
        "parameters": int(pm.p0.size),
        "coefficients": int(pm.coef.size),
        "volume_fractions": {
            k: [float(v) for v in pm.network_at(s).volume_fractions()] for k, s in corners.items()
        },
        "val_error": t.get("val_error"),
        "heldout_error": t.get("heldout_error"),
        "heldout_error_max": t.get("heldout_error_max"),
        "training": t,
        "microstructure": meta.get("microstructure", {}),
        "created": meta.get("created", {}),
    }


def _inspect_parametric(args, path, pm) -> int:
    if args.abaqus:
        return _abaqus(args, path, pm)
    s = parametric_summary(path, pm)
    if args.json:
        emit_json(s)
        return 0
    print(f"model        {s['path']}")
    print(
        f"format       version 2: orientation-aware {s['formulation'].upper()}, needs A2 per point "
        "(dmn_umat.online.parametric)"
    )
    print(
        f"network      depth {s['depth']}   leaves {s['active_leaves']}/{s['leaves']}   activation "
        f"{s['activation']}   parameters {s['parameters']}"
    )
    if s["pruned"]:
        print(f"pruned       {s['pruned']}")
    print(
        f"parametric   p(l) = p0 + A phi(l1 - 1/3, l2 - 1/3), degree {s['degree']}, {s['features']} "
        f"monomials, {s['coefficients']} coefficients"
    )
    for k, v in s["volume_fractions"].items():
        print(f"vol. fr.     {k:<15}" + "  ".join(f"phase {i}: {x:.4f}" for i, x in enumerate(v)))
    print(
        f"error        validation {_fmt(s['val_error'])}   held-out states {_fmt(s['heldout_error'])} "
        f"(max {_fmt(s['heldout_error_max'])})"
    )
    if s["microstructure"]:
        print(f"micro        {s['microstructure']}")
    c = s["created"]
    print(f"created      {c.get('date')}  dmn_umat {c.get('version')}  git {c.get('git')}")
    return 0


def _inspect(args) -> int:
    from ..model_file import ParametricModel

    path, net = load_model(args.model, parametric=True)
    if isinstance(net, ParametricModel):
        return _inspect_parametric(args, path, net)
    if args.abaqus:
        return _abaqus(args, path, net)
    s = summary_of(path, net)
    if args.json:
        emit_json(s)
        return 0
    t = s["training"]
    print(f"model        {s['path']}")
    print(
        f"formulation  {s['formulation']}   depth {s['depth']}   nodes {s['nodes']}   "
        f"active leaves {s['active_leaves']}/{s['leaves']}   rotations {'yes' if s['rotations'] else 'no'}"
    )
    print("volume fr.   " + "  ".join(f"phase {i}: {v:.4f}" for i, v in enumerate(s["volume_fractions"])))
    print(
        f"error        train {_fmt(s['train_error'])}   validation {_fmt(s['val_error'])} "
        f"(max {_fmt(s['val_error_max'])})"
    )
    if t:
        print(
            f"training     {t.get('dataset')}  n_train {t.get('n_train')}  n_val {t.get('n_val')}  "
            f"epochs {t.get('epochs_run')}  loss {t.get('loss')}  lam {t.get('lam')}  seed {t.get('seed')}"
        )
    if s["microstructure"]:
        print(f"micro        {s['microstructure']}")
    if s["pruned"]:
        print(f"pruned       {s['pruned']}")
    c = s["created"]
    print(f"created      {c.get('date')}  dmn_umat {c.get('version')}  git {c.get('git')}")
    return 0


def _export_orientation(args) -> int:
    """``dmn export-orientation``: JSON document → version-2 model file."""
    from .orientation import OrientationNetworkError, load_json, to_model_file

    src = input_file(args.model, "parametric network")
    check_outputs({"model": src}, {"--out": args.out})
    try:
        out = to_model_file(load_json(src), args.out, {"source": str(src)})
    except OrientationNetworkError as exc:
        raise CLIError(str(exc)) from None
    _, pm = load_model(out, parametric=True)
    res = {"model": str(out), "depth": pm.depth, "degree": pm.degree, "parameters": int(pm.p0.size)}
    if args.json:
        emit_json(res)
    else:
        print(f"wrote {out}: orientation-aware IMN depth {pm.depth}, degree {pm.degree} (format version 2)")
    return 0


def _models(args) -> int:
    from .pretrained import MODELS_DIR, list_models

    models = list_models()
    if args.json:
        emit_json({"models_dir": str(MODELS_DIR), "models": models})
        return 0
    if not models:
        print(f"no models shipped in {MODELS_DIR}")
        return 0
    for m in models:
        if "error" in m:
            print(f"{m['name']:<24} UNREADABLE: {m['error']}")
            continue
        v2 = " orientation-aware (needs A2)" if m.get("format_version") == 2 else ""
        print(
            f"{m['name']:<24} {m['formulation']}{v2} K={m['depth']} leaves={m['active_leaves']} "
            f"val={_fmt(m['val_error'])}  {m['description']}"
        )
        print(f"{'':<24} {m['path']}")
    return 0


def network_errors(net, C1, C2, Cbar):
    """(n,) relative Frobenius errors of ``Network.homogenize`` against reference C̄."""
    import numpy as np

    from ..tensors import relative_error

    return relative_error(np.array([net.homogenize([a, b]) for a, b in zip(C1, C2)]), Cbar)


def _prune_parametric(args, path, pm) -> int:
    """``dmn prune`` of an orientation-aware (version-2) model: drop the leaves whose weight
    fraction stays ≤ tol over the orientation triangle (``model_file.prune_parametric``)."""
    from .. import model_file

    if args.data:
        raise CLIError("--data: the validation report needs a fixed (version-1) network's data set; "
                       f"{path} is orientation-aware (format version 2)")
    check_outputs({"model": path}, {"--out": args.out})
    try:
        pruned = model_file.prune_parametric(pm, args.tol)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    out = model_file.write_parametric(args.out, pruned)
    info = pruned.metadata.get("pruned", {}) if pruned is not pm else {}
    res = {
        "model": str(out),
        "format_version": 2,
        "leaves_before": int(pm.kept_leaves().sum()),
        "leaves_after": int(pruned.kept_leaves().sum()),
        "depth": pm.depth,
        "grid": model_file.PRUNE_GRID,
        "removed_fraction_max": info.get("removed_fraction_max", 0.0),
    }
    if args.json:
        emit_json(res)
    else:
        print(f"wrote {out}: {res['leaves_after']} of {res['leaves_before']} leaves kept (orientation-aware; "
              f"every removed leaf's weight fraction <= {args.tol:g} over the orientation triangle, "
              f"at most {res['removed_fraction_max']:.3g} of the weight removed at a grid state)")
    return 0


def _prune(args) -> int:
    from .. import model_file
    from .export import prune

    path, net = load_model(args.model, parametric=True)
    if args.tol < 0:
        raise CLIError("--tol must be >= 0")
    if isinstance(net, model_file.ParametricModel):
        return _prune_parametric(args, path, net)
    inputs = {"model": path, "--data": None if args.data is None else input_file(args.data, "data set")}
    check_outputs(inputs, {"--out": args.out})
    n_before = len(net.leaves)
    try:
        pruned = prune(net, args.tol)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    out = Path(args.out)
    res = {
        "model": str(out),
        "leaves_before": n_before,
        "leaves_after": int(len(pruned.leaves)),
        "depth": pruned.depth(),
    }
    if args.data:
        from .data import DataError, load

        try:
            d = load(args.data)
        except DataError as exc:
            raise CLIError(str(exc)) from None
        for key, nw in (("before", net), ("after", pruned)):
            e = network_errors(nw, d.C1_val, d.C2_val, d.Cbar_val)
            res[f"val_error_{key}"], res[f"val_error_max_{key}"] = float(e.mean()), float(e.max())
        pruned.metadata["pruned"]["val_error_after"] = res["val_error_after"]
    model_file.write(out, pruned)
    if args.json:
        emit_json(res)
    else:
        print(f"wrote {out}: {res['leaves_after']} of {n_before} leaves kept, depth {res['depth']}")
        if args.data:
            print(
                f"  validation error before {res['val_error_before']:.3e} "
                f"(max {res['val_error_max_before']:.3e}), "
                f"after {res['val_error_after']:.3e} (max {res['val_error_max_after']:.3e})"
            )
    return 0
