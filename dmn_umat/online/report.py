"""Files of a point-driver run (``dmn drive``): the CSV table, the stress-strain plot and the
reader of a ``dmn dns --json`` reference to compare with (docs/design.md §8).

Arrays are Mandel (n, 6), order 11, 22, 33, 23, 13, 12; the CSV and the plot axes show tensor
components.  Errors are :class:`dmn_umat.online.driver.DriveError` (one line).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import tensors
from ..fileio import atomic_save, atomic_write_text, read_text_file


def load_dns(path: str | Path, error: type[Exception] = ValueError) -> tuple[np.ndarray, np.ndarray]:
    """(strain, stress), both (n, 6) Mandel, of a ``dmn dns --json`` result file; an unreadable
    or foreign file raises ``error`` (one line)."""
    text = read_text_file(path, "--dns file", error)
    try:
        d = json.loads(text)
        e = np.asarray(d["strain"], dtype=np.float64)
        s = np.asarray(d["stress"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise error(
            f"--dns: {str(path)!r} is not a 'dmn dns --json' result (keys strain, stress): {exc}"
        ) from None
    if e.ndim != 2 or e.shape[1] != 6 or s.shape != e.shape:
        raise error(f"--dns: {str(path)!r}: strain and stress must both be (n, 6)")
    return e, s


def csv_text(strain: np.ndarray, stress: np.ndarray, iterations: np.ndarray) -> str:
    """CSV table: ``step, e11..e12, s11..s12, iterations`` (tensor components), one row a step."""
    e = tensors.mandel_to_tensor_components(strain)
    s = tensors.mandel_to_tensor_components(stress)
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
            str(int(iterations[k])),
        ]
        lines.append(",".join(vals))
    return "\n".join(lines) + "\n"


def write_csv(path: str | Path, strain: np.ndarray, stress: np.ndarray, iterations: np.ndarray) -> Path:
    """Write :func:`csv_text` atomically."""
    return atomic_write_text(path, csv_text(strain, stress, iterations))


def plot(
    strain: np.ndarray,
    stress: np.ndarray,
    png: str | Path,
    dns: tuple[np.ndarray, np.ndarray] | None = None,
    title: str = "",
) -> None:
    """Stress-strain plot (PNG, atomic) of the strain component with the largest range (tensor
    components), optionally overlaid with a DNS curve ``(strain, stress)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    e = tensors.mandel_to_tensor_components(strain)
    s = tensors.mandel_to_tensor_components(stress)
    c = int(np.argmax(np.ptp(np.vstack([np.zeros((1, 6)), e]), axis=0)))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(np.r_[0, e[:, c]], np.r_[0, s[:, c]], "-o", ms=2.5, label="network (dmn drive)")
    if dns is not None:
        de = tensors.mandel_to_tensor_components(dns[0])
        ds = tensors.mandel_to_tensor_components(dns[1])
        ax.plot(np.r_[0, de[:, c]], np.r_[0, ds[:, c]], "--", color="k", label="DNS")
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
