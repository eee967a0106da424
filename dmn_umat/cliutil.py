"""Helpers shared by the ``dmn`` subcommands: user-facing errors, phase / model /
microstructure loading (exactly one ``--phase`` per phase), input-file checks (regular,
UTF-8 text), refusal of an output that is an input, JSON output and progress bars.
Kept free of heavy imports (no torch here)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

from .fileio import json_default, open_regular
from .progress import progress  # noqa: F401 - re-exported for the command modules


class CLIError(Exception):
    """An error whose message is shown to the user as one line (exit code 2)."""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _check_phase_count(given: int, needed: int, owner: str, detail: str = "") -> None:
    if given != needed:
        raise CLIError(f"{owner} has {_count(needed, 'phase')}{detail} but {given} --phase given "
                       f"(give exactly one per phase, in phase order)")


def load_phases(specs: list[str] | None, n_phases: int | None = None, owner: str = "the model"):
    """Parse ``--phase`` strings into :class:`dmn_umat.laws.Phase` objects.

    ``n_phases``: the number the model / microstructure ``owner`` needs; any other count of
    ``--phase`` (too few or too many) is refused.
    """
    from .laws import parse_phase

    if n_phases is not None:
        _check_phase_count(len(specs or []), n_phases, owner)
    if not specs:
        raise CLIError("at least one --phase is required")
    return [parse_phase(s) for s in specs]


def load_model(name: str | Path, parametric: bool = False):
    """A model file, or the name of a shipped model (``dmn models``) → ``(path, Network)``;
    with ``parametric`` a version-2 file gives ``(path, ParametricModel)`` instead of the
    one-line refusal.  An unreadable model raises :class:`CLIError` (one line)."""
    from . import model_file
    from .offline.pretrained import resolve

    path = resolve(name)
    try:
        return path, (model_file.read_any if parametric else model_file.read)(path)
    except (ValueError, OSError) as exc:  # ModelFileError is a ValueError
        raise CLIError(str(exc)) from None


def input_file(path: str | Path, what: str, error: type[Exception] = CLIError) -> Path:
    """Check that ``path`` is an existing, readable regular file → ``Path``.

    For inputs that another reader opens (numpy, h5py, torch): missing files, directories,
    devices (``/dev/zero``), FIFOs and unreadable files raise ``error`` with one line
    naming ``what`` ("path file", "data set", ...).
    """
    os.close(open_regular(path, what, error))
    return Path(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # links and different spellings of one file
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)  # at least one does not exist yet


def check_outputs(inputs: dict[str, str | Path | None], outputs: dict[str, str | Path | None]) -> None:
    """Refuse an output that is one of the inputs or another output (same file or folder).

    ``inputs`` / ``outputs``: option name → path (``None`` = not given), e.g.
    ``check_outputs({"--path": args.path}, {"--out": args.out})``.
    """
    ins = [(k, Path(v)) for k, v in inputs.items() if v is not None]
    outs = [(k, Path(v)) for k, v in outputs.items() if v is not None]
    for i, (ko, po) in enumerate(outs):
        for ki, pi in ins:
            if _same_file(po, pi):
                raise CLIError(f"{ko} {str(po)!r} is the input {ki} file: refusing to overwrite it")
        for ko2, po2 in outs[:i]:
            if _same_file(po, po2):
                raise CLIError(f"{ko2} and {ko} name the same file {str(po)!r}")


def load_micro(path: str | Path, n_phases: int | None = None) -> np.ndarray:
    """Load a voxel microstructure ``.npy`` (nx, ny, nz) of integer phase ids.

    Checks: a regular file, integer dtype (or float holding integers exactly is refused),
    3-D, ids ≥ 0 and, if ``n_phases`` is given, ids 0..n_phases-1 (one ``--phase`` per id,
    none extra).
    """
    from .rve.micro import MicroError, load_voxels

    try:
        arr = load_voxels(path)
    except MicroError as exc:
        raise CLIError(str(exc)) from None
    if n_phases is not None:
        top = int(arr.max())
        _check_phase_count(n_phases, top + 1, f"microstructure {str(path)!r}", f" (highest phase id {top})")
    return arr


def emit_json(obj) -> None:
    """Write ``obj`` as JSON to stdout (numpy arrays become nested lists)."""
    json.dump(obj, sys.stdout, default=json_default)
    sys.stdout.write("\n")
