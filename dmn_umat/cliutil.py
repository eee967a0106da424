"""Helpers shared by the ``dmn`` subcommands: user-facing errors, phase/microstructure
loading, JSON output and progress bars.  Kept free of heavy imports (no torch here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .fileio import json_default


class CLIError(Exception):
    """An error whose message is shown to the user as one line (exit code 2)."""


def load_phases(specs: list[str] | None):
    """Parse ``--phase`` strings into :class:`dmn_umat.phases.Phase` objects."""
    from .phases import parse_phase

    if not specs:
        raise CLIError("at least one --phase is required")
    return [parse_phase(s) for s in specs]


def load_micro(path: str | Path, n_phases: int | None = None) -> np.ndarray:
    """Load a voxel microstructure ``.npy`` (nx, ny, nz) of integer phase ids.

    Checks: file exists, integer dtype (or float holding integers exactly is refused),
    3-D, ids ≥ 0 and, if ``n_phases`` is given, every id has a matching ``--phase``.
    """
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"microstructure file {str(path)!r} not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise CLIError(f"cannot read microstructure {str(path)!r}: {exc}") from None
    if not np.issubdtype(arr.dtype, np.integer):
        raise CLIError(f"microstructure {str(path)!r} must hold integers, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise CLIError(f"microstructure {str(path)!r} must be 3-D (nx, ny, nz), got shape {arr.shape}")
    if arr.size == 0 or arr.min() < 0:
        raise CLIError(f"microstructure {str(path)!r} has negative phase ids or is empty")
    if n_phases is not None and arr.max() >= n_phases:
        raise CLIError(
            f"microstructure {str(path)!r} uses phase id {int(arr.max())} "
            f"but only {n_phases} --phase given (ids are 0-based)"
        )
    return arr.astype(np.int32)


def emit_json(obj) -> None:
    """Write ``obj`` as JSON to stdout (numpy arrays become nested lists)."""
    json.dump(obj, sys.stdout, default=json_default)
    sys.stdout.write("\n")


def progress(iterable=None, total=None, desc: str = "", disable: bool | None = None):
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal unless forced)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, disable=disable, dynamic_ncols=True)
