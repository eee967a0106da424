"""Shared pieces of the nonlinear network-vs-DNS study scripts (rate_composite_study.py,
fibre_nonlinear_study.py): the error measure, the DNS curve cache, the markdown tables and the
curve plot (coarse DNS solid, fine DNS dotted, network markers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np


def errors(a: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(mean, max) over the steps of |a − ref| / max |ref|; ``a``, ``ref`` (n,)."""
    d = np.abs(a - ref) / np.abs(ref).max()
    return float(d.mean()), float(d.max())


def fine_errors(dns: np.ndarray, net: np.ndarray, fine: np.ndarray) -> dict:
    """{dns_vs_fine, net_vs_fine: {mean, max}}: coarse DNS and network curves (n,) vs the 2×
    resolution DNS curve (n,)."""
    (dm, dx), (nm, nx) = errors(dns, fine), errors(net, fine)
    return {"dns_vs_fine": {"mean": dm, "max": dx}, "net_vs_fine": {"mean": nm, "max": nx}}


def cached_dns(f: Path | None, label: str, run: Callable[[Callable[[int, int], None]], object]) -> dict:
    """DNS curves {strain (n,6), stress (n,6), seconds}: read from the .npz ``f`` when it exists,
    else ``run(progress)`` (a DNS result with ``strain``, ``stress``; ``progress(i, n)`` prints
    the step) and written to ``f`` (atomically) when given.  ``label`` prefixes the messages."""
    if f is not None and f.is_file():
        z = np.load(f)
        print(f"{label}: cached {f}", flush=True)
        return {"strain": z["strain"], "stress": z["stress"], "seconds": float(z["seconds"])}
    t0 = time.perf_counter()

    def progress(i: int, n: int) -> None:
        print(f"  {label}: step {i}/{n} {time.perf_counter() - t0:.0f} s", flush=True)

    d = run(progress)
    out = {"strain": d.strain, "stress": d.stress, "seconds": time.perf_counter() - t0}
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(f)
    return out


def pct(x: float) -> str:
    """``x`` (fraction) as "12.34 %"."""
    return f"{100 * x:.2f} %"


def pct_pair(e: dict) -> str:
    """{mean, max} (fractions) as "mean % / max %"."""
    return f"{pct(e['mean'])} / {pct(e['max'])}"


def fine_columns(n: int, n2: int) -> list[str]:
    """Headers of the DNS n³ vs n2³ and network vs DNS n2³ columns."""
    return [f"DNS {n}³ vs {n2}³ mean / max", f"network vs DNS {n2}³ mean / max"]


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Print a markdown table: ``header`` (k,) cells, then each row's k cells."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(ax, x: np.ndarray, dns: np.ndarray, net: np.ndarray, fine: np.ndarray | None,
                color: str, labels: tuple[str, str, str]) -> None:
    """On ``ax``: coarse DNS (solid), fine DNS (dotted, when given) and network (markers) curves
    (n,) over ``x`` (n,), all in ``color``; ``labels``: (coarse DNS, fine DNS, network)."""
    ax.plot(x, dns, "-", color=color, label=labels[0])
    if fine is not None:
        ax.plot(x, fine, ":", color=color, label=labels[1])
    ax.plot(x, net, "o", color=color, ms=4, label=labels[2])
