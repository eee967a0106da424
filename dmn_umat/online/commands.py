"""``dmn drive MODEL.dmn --phase S --phase S --path P.csv [--stress-free L] [--json]
[--out FILE.json|.csv] [--png FILE.png] [--dns DNS.json] [--threads N]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..cliutil import CLIError, check_outputs, emit_json, load_model, load_phases, progress
from ..fileio import atomic_save, atomic_write_json, atomic_write_text, read_text_file


def register(sub) -> None:
    p = sub.add_parser(
        "drive",
        help="run a trained network with phase laws along a strain / mixed-control path",
        description="Point driver: macroscopic response of a material network model (*.dmn) with "
        "nonlinear phase laws along a loading path. Output in Mandel notation "
        "(order 11,22,33,23,13,12; shear x sqrt2).",
    )
    p.add_argument("model", help="network model file (*.dmn) or the name of a shipped model (dmn models)")
    p.add_argument(
        "--phase", action="append", metavar="SPEC", help="phase law, once per phase (0-based order)"
    )
    p.add_argument(
        "--path", required=True, help="CSV of total strain targets e11,e22,e33,e23,e13,e12 per step"
    )
    p.add_argument(
        "--stress-free",
        default=None,
        metavar="LIST",
        help="components held at zero stress, e.g. 22,33,23,13,12",
    )
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON (keys strain, stress, iterations)"
    )
    p.add_argument("--out", default=None, metavar="FILE", help="write the result to FILE.json or FILE.csv")
    p.add_argument("--png", default=None, metavar="FILE", help="stress-strain plot")
    p.add_argument(
        "--dns", default=None, metavar="JSON", help="overlay a 'dmn dns --json' result on the plot"
    )
    p.add_argument("--threads", type=int, default=1, help="numba threads (default 1)")
    p.set_defaults(func=run)


def _load_dns(path: str) -> tuple[np.ndarray, np.ndarray]:
    text = read_text_file(path, "--dns file", CLIError)
    try:
        d = json.loads(text)
        e = np.asarray(d["strain"], dtype=np.float64)
        s = np.asarray(d["stress"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise CLIError(
            f"--dns: {path!r} is not a 'dmn dns --json' result (keys strain, stress): {exc}"
        ) from None
    if e.ndim != 2 or e.shape[1] != 6 or s.shape != e.shape:
        raise CLIError(f"--dns: {path!r}: strain and stress must both be (n, 6)")
    return e, s


def _csv_text(res: dict) -> str:
    from .. import tensors

    e = tensors.mandel_to_tensor_components(res["strain"])
    s = tensors.mandel_to_tensor_components(res["stress"])
    head = [
        "step",
        *("e" + c for c in tensors.COMPONENTS),
        *("s" + c for c in tensors.COMPONENTS),
        "iterations",
    ]
    lines = [",".join(head)]
    for k in range(e.shape[0]):
        vals = [
            str(k + 1),
            *(repr(float(x)) for x in e[k]),
            *(repr(float(x)) for x in s[k]),
            str(int(res["iterations"][k])),
        ]
        lines.append(",".join(vals))
    return "\n".join(lines) + "\n"


def plot(res: dict, png: str, dns: tuple[np.ndarray, np.ndarray] | None = None, title: str = "") -> None:
    """Stress-strain plot of the strain-controlled component with the largest range (tensor
    components), optionally overlaid with a DNS curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import tensors

    e = tensors.mandel_to_tensor_components(res["strain"])
    s = tensors.mandel_to_tensor_components(res["stress"])
    c = int(np.argmax(np.ptp(np.vstack([np.zeros((1, 6)), e]), axis=0)))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(np.r_[0, e[:, c]], np.r_[0, s[:, c]], "-o", ms=2.5, label="network (dmn drive)")
    if dns is not None:
        de = tensors.mandel_to_tensor_components(dns[0])
        ds = tensors.mandel_to_tensor_components(dns[1])
        ax.plot(np.r_[0, de[:, c]], np.r_[0, ds[:, c]], "--", color="k", label="DNS")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(6))
    comp = tensors.COMPONENTS[c]
    ax.set_xlabel(f"strain e{comp}")
    ax.set_ylabel(f"stress s{comp}")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    try:
        atomic_save(png, lambda tmp: fig.savefig(tmp, dpi=120), suffix=".png")
    finally:
        plt.close(fig)


def run(args) -> int:
    from .. import loadpath
    from .driver import DriveError, drive
    from .solver import NetworkMaterial

    if args.out and Path(args.out).suffix.lower() not in (".json", ".csv"):
        raise CLIError("--out must end in .json or .csv")
    if args.threads < 1:
        raise CLIError("--threads must be >= 1")
    model_path, net = load_model(args.model)
    check_outputs({"model": model_path, "--path": args.path, "--dns": args.dns},
                  {"--out": args.out, "--png": args.png})
    phases = load_phases(args.phase, net.n_phases, f"model {args.model!r}")
    try:
        path = loadpath.read_path(args.path)
        free = loadpath.parse_stress_free(args.stress_free)
    except loadpath.PathError as exc:
        raise CLIError(str(exc)) from None
    dns = _load_dns(args.dns) if args.dns else None
    mat = NetworkMaterial(net, phases, threads=args.threads)
    try:
        res = drive(mat, path, free, progress=lambda it: progress(it, total=len(path), desc="dmn drive"))
    except DriveError as exc:
        raise CLIError(str(exc)) from None
    out = {
        "strain": res["strain"],
        "stress": res["stress"],
        "iterations": res["iterations"],
        "fields": res["fields"],
        "stress_free": [int(i) for i in free],
        "phases": [p.spec for p in phases],
        "model": str(args.model),
    }
    if dns is not None and dns[1].shape == res["stress"].shape:
        ref = np.linalg.norm(dns[1], axis=1)
        out["dns_mean_rel_error"] = float(np.mean(np.linalg.norm(res["stress"] - dns[1], axis=1)) / ref.max())
    if args.out:
        outp = Path(args.out)
        if outp.suffix.lower() == ".csv":
            atomic_write_text(outp, _csv_text(res))
        else:
            atomic_write_json(outp, out, indent=None)
    if args.png:
        plot(res, args.png, dns, title=Path(args.model).name)
    if args.json:
        emit_json(out)
    else:
        from .. import tensors

        last = res["stress"][-1] / tensors.mandel_scale()
        print(
            f"dmn drive: {len(path)} steps, {int(res['iterations'].sum())} Newton iterations, "
            f"final stress (s11..s12) = " + ", ".join(f"{x:.6g}" for x in last),
            file=sys.stdout,
        )
    return 0
