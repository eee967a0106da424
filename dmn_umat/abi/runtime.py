"""Python side of ``libdmn_umat``: runs once per process inside the embedded interpreter.

The C library calls (through cffi's embedding API, with the GIL, never per integration point):

- :func:`py_init` — compile or load the cfuncs (numba cache) and return their addresses;
- :func:`py_open` — read a model file, pack it for the kernel, validate the phase
  parameters, keep the arrays alive and return their pointers and sizes;
- :func:`py_close` — drop a model.

Model selection for a UMAT material (documented in ``docs/abi.md``): :func:`resolve_model`.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from pathlib import Path

import numpy as np

_MODELS: dict[int, tuple] = {}
_NEXT_KEY = [1]


class ABIError(Exception):
    """A configuration problem reported to the host as one line."""


def material_key(cmname: str) -> str:
    """Model key of an Abaqus/CalculiX material name (see ``docs/abi.md``).

    The name is upper-cased (CalculiX does that to every name).  ``@ABAQUS_<LIB>@<KEY>`` and
    ``@ABAQUS_<LIB>_<FUNC>@<KEY>`` give ``<KEY>``; ``@ABAQUS_<LIB>`` without a second ``@``
    gives ``""``; any other name (Abaqus) is itself the key.  Characters other than A-Z, 0-9
    become ``_`` so the key can be part of an environment variable name.
    """
    name = cmname.replace("\0", " ").strip().upper()
    if name.startswith("@"):
        rest = name[1:]
        key = rest.split("@", 1)[1] if "@" in rest else ""
    else:
        key = name
    return re.sub(r"[^A-Z0-9]", "_", key)


def resolve_model(cmname: str, environ: dict | None = None) -> Path:
    """Model file of a material: ``$DMN_UMAT_MODEL_<KEY>`` if set, else ``$DMN_UMAT_MODEL``.

    The value is a file or the name of a shipped model (:func:`dmn_umat.offline.pretrained.resolve`,
    as everywhere).  Raises :class:`ABIError`.
    """
    from ..offline.pretrained import resolve

    env = os.environ if environ is None else environ
    key = material_key(cmname)
    names = ([f"DMN_UMAT_MODEL_{key}"] if key else []) + ["DMN_UMAT_MODEL"]
    for var in names:
        value = env.get(var)
        if value:
            p = resolve(value)
            if p.is_file():
                return p
            raise ABIError(f"material {cmname.strip()!r}: model file {value!r} (from ${var}) not found")
    raise ABIError(
        f"material {cmname.strip()!r}: no model file; set "
        + (f"DMN_UMAT_MODEL_{key} or " if key else "")
        + "DMN_UMAT_MODEL to a *.dmn file"
    )


def _write_err(ffi, err, errlen: int, msg: str) -> None:
    data = msg.encode("utf-8", "replace")[: max(int(errlen) - 1, 0)]
    if errlen > 0:
        ffi.memmove(err, data + b"\0", len(data) + 1)


def py_init(ffi, kernels, err, errlen) -> int:
    """Compile/load the cfuncs and store their addresses in ``kernels[0..2]`` (point, umat_point,
    umat_nl_point).  1 = ok."""
    try:
        from . import cfuncs, nlgeom

        a_point, a_umat = cfuncs.addresses()
        kernels[0] = ffi.cast("void *", a_point)
        kernels[1] = ffi.cast("void *", a_umat)
        kernels[2] = ffi.cast("void *", nlgeom.address())
        return 1
    except BaseException:  # noqa: BLE001 - reported to the host as a message
        _write_err(ffi, err, errlen, "initialization failed: " + traceback.format_exc(limit=4))
        return 0


def open_model(path: str | Path, props: np.ndarray, name: str = "") -> dict:
    """Read, pack and validate a model (a file or the name of a shipped model, as
    :func:`dmn_umat.offline.pretrained.resolve`) with a flat PROPS vector; returns the arrays
    and sizes.  Raises :class:`ABIError` with a user-facing message.
    """
    from .. import model_file
    from ..offline.pretrained import resolve

    path = resolve(path)
    try:
        net = model_file.read_any(path)
    except FileNotFoundError:
        raise ABIError(f"model file {str(path)!r} not found") from None
    except Exception as exc:  # noqa: BLE001 - corrupt model: one line for the host
        raise ABIError(f"cannot read model {str(path)!r}: {exc}") from None
    if isinstance(net, model_file.ParametricModel):
        return open_parametric(net, props, name or str(path), path)
    return open_model_from_network(net, props, name or str(path), path)


def open_parametric(model, props: np.ndarray, name: str = "", path: Path | None = None) -> dict:
    """Pack an orientation-aware (version-2) model for the ``*_a2`` kernels of
    :mod:`dmn_umat.abi.cfuncs`: state = [A₂ (6) | kernel state] per point (docs/abi.md)."""
    from ..online import parametric as pm
    from . import cfuncs
    from .deck import DeckError, parse_props

    net = model.reference_network()
    try:
        ptab = np.ascontiguousarray(parse_props(np.asarray(props, dtype=np.float64), net.n_phases))
    except DeckError as exc:
        raise ABIError(f"{name}: {exc}" if name else str(exc)) from None
    try:
        pb = pm.pack_parametric(model)
        nmi, nmf = (int(v) for v in pm.blob_sizes(pb))
        nsv = int(pm.parametric_state_size(pb, ptab))
        nwork = int(pm.parametric_work_size(pb))
    except Exception as exc:  # noqa: BLE001
        raise ABIError(f"cannot prepare model {name!r}: {exc}") from None
    if min(nmi, nsv, nwork) < 0:
        raise ABIError(f"model {name!r} and the phase laws do not fit the network kernel")
    nwork = max(nwork, 1)
    return {
        "net": net, "mi": np.array([nmi, nmf], dtype=np.int64), "mf": pb, "ptab": ptab,
        "nphase": net.n_phases, "nsv": cfuncs.A2_SLOTS + nsv, "nwork": cfuncs.a2_work_size(nwork, nmi, nmf),
        "nwork_umat": cfuncs.umat_a2_work_size(nwork, net.n_phases, nsv, nmi, nmf), "path": path,
        "finite": False, "kernels": cfuncs.addresses_a2(), "nleaf": int(pb[pm.H_L]),  # kept leaves (pruning)
    }


def open_model_from_network(net, props: np.ndarray, name: str = "", path: Path | None = None) -> dict:
    """Pack a :class:`~dmn_umat.network.Network` for the kernels (see :func:`open_model`)."""
    from . import cfuncs, nlgeom
    from .deck import DeckError, parse_props

    nphase = net.n_phases
    if nlgeom.is_finite_props(props):
        return _open_finite(net, props, name, path)
    try:
        ptab = parse_props(np.asarray(props, dtype=np.float64), nphase)
    except DeckError as exc:
        raise ABIError(f"{name}: {exc}" if name else str(exc)) from None
    try:
        mi, mf = cfuncs.pack_network(net)
        mi = np.ascontiguousarray(mi, dtype=np.int64)
        mf = np.ascontiguousarray(mf, dtype=np.float64)
        nsv = int(cfuncs.state_size(mi, ptab))
        nwork = int(cfuncs.work_size(mi))
    except Exception as exc:  # noqa: BLE001
        raise ABIError(f"cannot prepare model {name!r}: {exc}") from None
    if nsv < 0 or nwork < 0:
        raise ABIError(f"model {name!r} and the phase laws do not fit the network kernel")
    nwork = max(nwork, 1)
    return {
        "net": net,
        "mi": mi,
        "mf": mf,
        "ptab": np.ascontiguousarray(ptab),
        "nphase": nphase,
        "nsv": nsv,
        "nwork": nwork,
        "nwork_umat": cfuncs.umat_work_size(nwork, nphase, nsv),
        "path": path,
        "finite": False,
    }


def _open_finite(net, props: np.ndarray, name: str, path: Path | None) -> dict:
    """:func:`open_model_from_network` for finite-strain phase laws (ids 6-8): the UMAT serves
    them under NLGEOM only (:mod:`dmn_umat.abi.nlgeom`)."""
    from . import cfuncs, nlgeom

    try:
        table = nlgeom.fs_table_from_props(props, net.n_phases)
    except ValueError as exc:
        raise ABIError(f"{name}: {exc}" if name else str(exc)) from None
    mi, mf = cfuncs.pack_network(net)
    mi = np.ascontiguousarray(mi, dtype=np.int64)
    mf = np.ascontiguousarray(mf, dtype=np.float64)
    nsv, nwork = nlgeom.sizes(mi, table)
    if nsv < 0 or nwork < 0:
        raise ABIError(f"model {name!r} and the finite-strain phase laws do not fit the network kernel")
    return {
        "net": net, "mi": mi, "mf": mf, "ptab": np.ascontiguousarray(table), "nphase": net.n_phases,
        "nsv": nsv, "nwork": max(nwork, 1), "nwork_umat": nlgeom.umat_nl_work_size(nwork, net.n_phases, nsv),
        "path": path, "finite": True,
    }


def py_open(ffi, path, name, props, nprops, ints, ptrs, err, errlen) -> int:
    """Open a model for ``dmn_open`` (path given) or a UMAT material (name given).

    Fills ``ints`` = [nmi, nmf, nphase, nsv, nwork, nwork_umat, key, nleaf, finite] and
    ``ptrs`` = [mi, mf, ptab] (+ [point, umat] kernels of an orientation-aware model).  Returns 1
    on success, 0 with a message in ``err``.
    """
    try:
        cname = ffi.string(name).decode("utf-8", "replace") if name != ffi.NULL else ""
        if path != ffi.NULL:
            model_path = Path(ffi.string(path).decode("utf-8", "replace"))
        else:
            model_path = resolve_model(cname)
        pv = np.frombuffer(ffi.buffer(props, 8 * int(nprops)), dtype=np.float64).copy() if nprops > 0 else (
            np.zeros(0))
        m = open_model(model_path, pv, cname)
        if m["finite"] and not cname:
            raise ABIError(f"{model_path}: finite-strain phase laws (ids 6-8) are served by the UMAT under "
                           "NLGEOM only (docs/abi.md); dmn_eval_batch is small strain")
        key = _NEXT_KEY[0]
        _NEXT_KEY[0] += 1
        _MODELS[key] = (m["mi"], m["mf"], m["ptab"])
        vals = [m["mi"].size, m["mf"].size, m["nphase"], m["nsv"], m["nwork"], m["nwork_umat"], key,
                m.get("nleaf", len(m["net"].leaves)), int(m["finite"])]
        for i, v in enumerate(vals):
            ints[i] = int(v)
        ptrs[0] = ffi.cast("void *", m["mi"].ctypes.data)
        ptrs[1] = ffi.cast("void *", m["mf"].ctypes.data)
        ptrs[2] = ffi.cast("void *", m["ptab"].ctypes.data)
        if m.get("kernels"):  # an orientation-aware model: its own kernels
            ptrs[3] = ffi.cast("void *", m["kernels"][0])
            ptrs[4] = ffi.cast("void *", m["kernels"][1])
        if cname and not os.environ.get("DMN_UMAT_QUIET"):
            print(
                f"dmn_umat: material {cname.strip()} -> model {model_path} "
                f"({vals[7]} leaves, {m['nphase']} phases, NSTATV >= {m['nsv']}"
                + (", orientation-aware: A2 in STATEV(1..6))" if m.get("kernels") else ")"),
                file=sys.stderr,
                flush=True,
            )
        return 1
    except ABIError as exc:
        _write_err(ffi, err, errlen, str(exc))
        return 0
    except BaseException:  # noqa: BLE001
        _write_err(ffi, err, errlen, "unexpected error: " + traceback.format_exc(limit=4))
        return 0


def py_close(key: int) -> int:
    return 1 if _MODELS.pop(int(key), None) is not None else 0
