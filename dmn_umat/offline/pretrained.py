"""Pretrained models shipped in ``dmn_umat/models/`` (reference them by name).

Every ``*.dmn`` file in that folder is a model whose name is the file stem; the optional
``index.json`` adds a one-line description per name.  The listing itself is read from the
files' metadata, so a model is usable even if the index lacks it.
"""

from __future__ import annotations

import json
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def _descriptions() -> dict:
    try:
        obj = json.loads((MODELS_DIR / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {m["name"]: m for m in obj.get("models", []) if isinstance(m, dict) and "name" in m}


def names() -> list[str]:
    """Names of the shipped models (sorted)."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.dmn"))


def path(name: str) -> Path:
    """Path of the shipped model ``name`` (file stem, ``.dmn`` optional); ValueError if unknown."""
    stem = name[:-4] if name.endswith(".dmn") else name
    p = MODELS_DIR / f"{stem}.dmn"
    if not p.is_file():
        avail = ", ".join(names()) or "none"
        raise ValueError(f"no shipped model named {name!r} (available: {avail})")
    return p


def resolve(name_or_path: str | Path) -> Path:
    """An existing file path as given (``~`` expanded), else a shipped model name → its path.

    The one model-name resolution of the package: the command line (``dmn drive``, ``inspect``,
    ``abi deck``, ``fe2``), the C API's ``dmn_open`` and the UMAT's ``$DMN_UMAT_MODEL`` all use it.
    A name that is neither comes back as the path given (its reader reports "not found")."""
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return p
    try:
        return path(str(name_or_path))
    except ValueError:
        return p  # let the reader report "not found" for the path the user gave


def list_models() -> list[dict]:
    """One dict per shipped model: name, path, formulation, depth, active leaves, errors, file
    format version (2: orientation-aware, needs A₂ per point), description."""
    from .. import model_file

    desc = _descriptions()
    out = []
    for name in names():
        p = MODELS_DIR / f"{name}.dmn"
        entry: dict = {"name": name, "path": str(p)}
        try:
            model = model_file.read_any(p)  # version 2: an orientation-aware network
            meta = model.metadata
        except model_file.ModelFileError as exc:
            entry["error"] = str(exc)
            out.append(entry)
            continue
        tr = meta.get("training", {})
        entry.update(
            formulation=meta.get("formulation"),
            depth=meta.get("depth"),
            active_leaves=meta.get("active_leaves"),
            microstructure=meta.get("microstructure", {}),
            val_error=tr.get("val_error"),
            val_error_max=tr.get("val_error_max"),
            format_version=2 if isinstance(model, model_file.ParametricModel) else 1,
            description=desc.get(name, {}).get("description", ""),
        )
        out.append(entry)
    return out
