"""Training cost of DMN vs IMN: epoch time at depths 4–8 and CPU time to a target error.

Usage::

    python benchmarks/bench_train.py [--data DATA.h5] [--depths 4 5 6 7 8] [--epochs 3]
        [--batch-size 32] [--n-train 512] [--target 0.02] [--target-depth 5] [--max-epochs 150]
        [--threads 1]

Without ``--data`` the samples are the exact C̄ of a random depth-3 laminate tree
(:func:`dmn_umat.offline.data.laminate_dataset`).  Part 1 times whole epochs (forward +
backward + Adam step over all mini-batches + validation; the minimum over ``--epochs``
epochs after a warm-up epoch, so that other load on shared CPUs inflates it least) for both
formulations on the same data and batches; part 2 trains each formulation at ``--target-depth`` until the mean
validation error reaches ``--target`` and reports the CPU time (the seed paper: IMN training
3.4–4.7× faster per run; Wan et al. 2024: ~5× per epoch).
"""

from __future__ import annotations

import argparse

import torch


def _epoch_times(data, formulation: str, depth: int, epochs: int, batch_size: int) -> tuple[float, int]:
    from dmn_umat.offline.train import TrainConfig, train

    cfg = TrainConfig(
        formulation=formulation,
        depth=depth,
        epochs=epochs + 1,
        batch_size=batch_size,
        schedule="none",
        seed=0,
    )
    r = train(data, cfg, show_progress=False)
    t = [0.0] + [h["cpu_time"] for h in r.history]
    # minimum over the epochs after the first (warm-up): robust against other load on shared CPUs
    per_epoch = min(b - a for a, b in zip(t[1:-1], t[2:]))
    n_par = sum(p.numel() for p in r.model.parameters())
    return per_epoch, n_par


def _time_to_target(
    data, formulation: str, depth: int, target: float, max_epochs: int, batch_size: int, lr: float
) -> tuple[float | None, int | None, float]:
    from dmn_umat.offline.train import TrainConfig, train

    cfg = TrainConfig(
        formulation=formulation,
        depth=depth,
        epochs=max_epochs,
        batch_size=batch_size,
        lr=lr,
        schedule="cosine",
        seed=0,
    )
    r = train(data, cfg, show_progress=False, target=target)
    for h in r.history:
        if h["val_error"] <= target:
            return h["cpu_time"], h["epoch"], r.best_val
    return None, None, r.best_val


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--depths", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--n-train", type=int, default=512)
    ap.add_argument("--target", type=float, default=0.02)
    ap.add_argument("--target-depth", type=int, default=5)
    ap.add_argument("--max-epochs", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from dmn_umat.offline import data as D

    if args.data:
        data = D.load(args.data).subset(args.n_train)
        src = args.data
    else:
        data = D.laminate_dataset(int(args.n_train / 0.8) + 1, depth=3, seed=0)
        src = "analytic laminate tree (depth 3)"
    print(
        f"data: {src}; {data.n_train} training / {data.n_val} validation samples; "
        f"batch {args.batch_size}; torch threads {args.threads}"
    )
    print()
    print("CPU seconds of this process (torch single-threaded), not wall time: other load on shared")
    print("cores inflates wall time but hardly CPU time.")
    print("depth | leaves | params DMN | params IMN | s/epoch DMN | s/epoch IMN | DMN/IMN")
    print("------|--------|------------|------------|-------------|-------------|--------")
    for K in args.depths:
        td, pd = _epoch_times(data, "dmn", K, args.epochs, args.batch_size)
        ti, pi = _epoch_times(data, "imn", K, args.epochs, args.batch_size)
        print(
            f"{K:5d} | {2**K:6d} | {pd:10d} | {pi:10d} | {td:11.3f} | {ti:11.3f} | {td / ti:6.2f}x",
            flush=True,
        )
    print()
    print(
        f"time to mean validation error <= {args.target:g} at depth {args.target_depth} "
        f"(cosine schedule, lr {args.lr}, at most {args.max_epochs} epochs):"
    )
    print("formulation | epochs |  CPU s | best val error")
    print("------------|--------|--------|---------------")
    res = {}
    for f in ("dmn", "imn"):
        t, ep, best = _time_to_target(
            data, f, args.target_depth, args.target, args.max_epochs, args.batch_size, args.lr
        )
        res[f] = t
        ts = "   n/a" if t is None else f"{t:6.1f}"
        es = "   n/a" if ep is None else f"{ep:6d}"
        print(f"{f:>11} | {es} | {ts} | {best:.4f}", flush=True)
    if res["dmn"] and res["imn"]:
        print(f"DMN/IMN CPU-time ratio to target: {res['dmn'] / res['imn']:.2f}x")
    else:
        print("(a formulation did not reach the target; raise --max-epochs or the target)")


if __name__ == "__main__":
    main()
