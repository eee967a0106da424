"""Run a list of independent jobs on Dask with atomic per-run results and resume.

Each finished run is written by the client, atomically (temp + ``os.replace``), to
``DIR/runs/<run-id>.json``; a run whose result file exists (and parses, with the same
``run_id``) is never submitted again.  A failed run leaves ``DIR/runs/<run-id>.error.txt``
(overwritten on retry, removed on success) and no result, so a later ``--resume`` retries
it.  A killed sweep therefore loses at most the runs that were in flight.

The execution function is any picklable ``execute(spec: dict, context: dict) -> dict``; the
assessment uses :func:`dmn_umat.assess.pipeline.execute_run`.
"""

from __future__ import annotations

import functools
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import fileio

#: Run results are written with sorted keys (stable diffs between sweeps).
atomic_write_json = functools.partial(fileio.atomic_write_json, sort_keys=True)
atomic_write_text = fileio.atomic_write_text


def result_path(out: str | Path, run_id: str) -> Path:
    return Path(out) / "runs" / f"{run_id}.json"


def load_result(out: str | Path, run_id: str) -> dict | None:
    """The stored result of ``run_id`` or None if absent/unreadable/mismatched."""
    p = result_path(out, run_id)
    try:
        res = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return res if isinstance(res, dict) and res.get("run_id") == run_id else None


@dataclass
class SweepOutcome:
    done: list[str] = field(default_factory=list)  #: run ids finished in this call
    skipped: list[str] = field(default_factory=list)  #: already finished before (resume)
    failed: dict[str, str] = field(default_factory=dict)  #: run id -> one-line error
    seconds: float = 0.0


def _guarded(execute: Callable, spec: dict, context: dict) -> dict:
    """Run one job; never raises (errors come back as a dict so the sweep goes on)."""
    t0 = time.perf_counter()
    try:
        res = execute(spec, context)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded per run
        return {
            "__error__": f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
            "traceback": traceback.format_exc(),
        }
    res = dict(res)
    res.setdefault("run_id", spec["run_id"])
    res.setdefault("spec", spec)
    res.setdefault("wall_seconds", time.perf_counter() - t0)
    return res


def make_client(scheduler: str | None = None, workers: int = 2, processes: bool = True, threads: int = 1):
    """A Dask ``Client``: to ``scheduler`` if given, else a new ``LocalCluster``."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="30s")
    one = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    kw = {"env": one} if processes else {}
    cluster = LocalCluster(
        n_workers=max(1, int(workers)),
        threads_per_worker=max(1, int(threads)),
        processes=processes,
        dashboard_address=":0",
        silence_logs=40,
        **kw,
    )
    return Client(cluster)


def run_sweep(
    runs: list[dict],
    out: str | Path,
    execute: Callable[[dict, dict], dict],
    context: dict,
    client=None,
    progress: Callable | None = None,
) -> SweepOutcome:
    """Execute every run of ``runs`` (dicts with ``run_id``) not yet finished in ``out``.

    ``client``: a ``distributed.Client`` (None → run serially in this process, used for
    debugging).  ``progress(total)`` → a tqdm-like object with ``update()``.
    """
    t0 = time.perf_counter()
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    outcome = SweepOutcome()
    pending = []
    for spec in runs:
        if load_result(out, spec["run_id"]) is not None:
            outcome.skipped.append(spec["run_id"])
        else:
            pending.append(spec)
    bar = progress(len(pending)) if progress else None

    def store(spec: dict, res: dict) -> None:
        rid = spec["run_id"]
        err_file = out / "runs" / f"{rid}.error.txt"
        if "__error__" in res:
            outcome.failed[rid] = res["__error__"]
            atomic_write_text(err_file, res.get("traceback") or res["__error__"])
        else:
            atomic_write_json(result_path(out, rid), res)
            outcome.done.append(rid)
            if err_file.exists():
                err_file.unlink()
        if bar is not None:
            bar.update(1)
            if outcome.failed:
                bar.set_postfix(failed=len(outcome.failed))

    try:
        if client is None:
            for spec in pending:
                store(spec, _guarded(execute, spec, context))
        else:
            from distributed import as_completed

            futs = {}
            for spec in pending:
                key = f"assess-{spec['run_id']}"
                f = client.submit(_guarded, execute, spec, context, key=key, pure=False)
                futs[f] = spec
            for fut in as_completed(list(futs)):
                spec = futs[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - worker lost, cancelled, ...
                    res = {"__error__": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
                store(spec, res)
                fut.release()
    finally:
        if bar is not None:
            bar.close()
    outcome.seconds = time.perf_counter() - t0
    return outcome
