"""Build ``libdmn_umat.so`` with cffi's embedding API.

    python -m dmn_umat.abi.build --out DIR        (also: ``dmn abi build --out DIR``)

writes ``DIR/libdmn_umat.so`` (exports ``umat_`` and the C API of
``fortran_bridge/include/dmn_umat.h``, nothing else), the symlink ``DIR/libDMN.so`` that a
CalculiX material ``@ABAQUS_DMN...`` loads, and a copy of the header ``DIR/dmn_umat.h``.
The library embeds the interpreter that built it (its executable is recorded, so a venv is
found through ``pyvenv.cfg``; override with ``$DMN_UMAT_PYTHON``).  Writes are atomic.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
C_SOURCE = HERE / "libdmn.c"
MODULE = "_dmn_umat_cffi"
LIBNAME = "libdmn_umat.so"
CCX_ALIAS = "libDMN.so"

EMBEDDING_API = """
int _dmn_py_init(void **kernels, char *err, int errlen);
int _dmn_py_open(const char *path, const char *name, const double *props, int nprops,
                 int64_t *ints, void **ptrs, char *err, int errlen);
int _dmn_py_close(int64_t key);
"""

EXPORTS = (
    "umat_", "dmn_umat", "dmn_init", "dmn_open", "dmn_close", "dmn_eval_batch", "dmn_nstate", "dmn_nphase",
    "dmn_last_error", "dmn_call_count",
)


def header_path() -> Path | None:
    """``fortran_bridge/include/dmn_umat.h`` of the source tree, if present."""
    p = HERE.parent.parent / "fortran_bridge" / "include" / "dmn_umat.h"
    return p if p.is_file() else None


def _c_string(s: str) -> str:
    return json.dumps(s)  # a valid C string literal for ordinary paths


def _init_code(pkg_parent: str) -> str:
    # runs once, inside the embedded interpreter, with the GIL
    return f"""
import os, sys, traceback
_DMN_ERR = None
try:
    import importlib.util as _ilu
    _extra = os.environ.get("DMN_UMAT_PYTHONPATH")
    if _extra:
        sys.path[:0] = [p for p in _extra.split(os.pathsep) if p]
    if _ilu.find_spec("dmn_umat") is None:
        sys.path.append({pkg_parent!r})
    from dmn_umat.abi import cachekey as _ck
    _ck.activate()
    from dmn_umat.abi import runtime as _rt
except BaseException:
    _rt = None
    _DMN_ERR = "cannot import dmn_umat in the embedded Python (" + sys.executable + "): " + \\
        traceback.format_exc(limit=3)

from {MODULE} import ffi

def _fail(err, errlen):
    data = (_DMN_ERR or "unknown error").encode()[: max(errlen - 1, 0)]
    ffi.memmove(err, data + b"\\0", len(data) + 1)
    return 0

@ffi.def_extern()
def _dmn_py_init(kernels, err, errlen):
    if _rt is None:
        return _fail(err, errlen)
    return _rt.py_init(ffi, kernels, err, errlen)

@ffi.def_extern()
def _dmn_py_open(path, name, props, nprops, ints, ptrs, err, errlen):
    if _rt is None:
        return _fail(err, errlen)
    return _rt.py_open(ffi, path, name, props, nprops, ints, ptrs, err, errlen)

@ffi.def_extern()
def _dmn_py_close(key):
    return 0 if _rt is None else _rt.py_close(key)
"""


def build_key() -> str:
    """Hash of everything baked into the library (sources, interpreter, cffi version)."""
    import cffi

    h = hashlib.sha256()
    for p in (C_SOURCE, Path(__file__)):
        h.update(p.read_bytes())
    hp = header_path()
    if hp:
        h.update(hp.read_bytes())
    h.update(sys.executable.encode() + sys.version.encode() + cffi.__version__.encode())
    return h.hexdigest()[:16]


def build(out: str | Path, verbose: bool = False) -> Path:
    """Compile the library into ``out`` (created); returns the path of ``libdmn_umat.so``."""
    import cffi

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    soname = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise RuntimeError("this Python has no shared libpython: the embedding library cannot be built")
    libpython = str(Path(libdir) / soname) if libdir and soname else ""
    pkg_parent = str(HERE.parent.parent)

    ffi = cffi.FFI()
    ffi.embedding_api(EMBEDDING_API)
    prelude = (
        f"static const char DMN_BUILD_PYTHON[] = {_c_string(sys.executable)};\n"
        f"static const char DMN_BUILD_LIBPYTHON[] = {_c_string(libpython)};\n"
    )
    hp = header_path()
    include_dirs = []
    macros = []
    if hp:
        include_dirs.append(str(hp.parent))
        macros.append(("DMN_HAVE_HEADER", "1"))
    with tempfile.TemporaryDirectory(prefix="dmn_abi_build_") as tmp:
        vs = Path(tmp) / "exports.map"
        vs.write_text("{\n  global:\n" + "".join(f"    {s};\n" for s in EXPORTS) + "  local:\n    *;\n};\n")
        ffi.set_source(
            MODULE,
            prelude + C_SOURCE.read_text(),
            include_dirs=include_dirs,
            define_macros=macros,
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wno-unused-function"],
            extra_link_args=[
                f"-Wl,--version-script={vs}",
                f"-Wl,-soname,{LIBNAME}",
                f"-Wl,-rpath,{libdir}",
                "-ldl",
                "-lpthread",
            ],
            library_dirs=[libdir] if libdir else [],
        )
        ffi.embedding_init_code(_init_code(pkg_parent))
        cwd = os.getcwd()
        try:
            built = Path(ffi.compile(tmpdir=tmp, target=LIBNAME, verbose=verbose))
        finally:
            os.chdir(cwd)
        tmp_lib = out / f".{LIBNAME}.{os.getpid()}.tmp"
        shutil.copyfile(built, tmp_lib)
        os.chmod(tmp_lib, 0o755)
        os.replace(tmp_lib, out / LIBNAME)
    alias = out / CCX_ALIAS
    tmp_alias = out / f".{CCX_ALIAS}.{os.getpid()}.tmp"
    if tmp_alias.is_symlink() or tmp_alias.exists():
        tmp_alias.unlink()
    tmp_alias.symlink_to(LIBNAME)
    os.replace(tmp_alias, alias)
    if hp:
        tmp_h = out / f".dmn_umat.h.{os.getpid()}.tmp"
        shutil.copyfile(hp, tmp_h)
        os.replace(tmp_h, out / "dmn_umat.h")
    return out / LIBNAME


def default_dir() -> Path:
    """``$DMN_UMAT_LIB_CACHE`` or ``~/.cache/dmn_umat/lib``, then the build key."""
    base = os.environ.get("DMN_UMAT_LIB_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "dmn_umat", "lib")
    return Path(base) / build_key()


def ensure_library(out: str | Path | None = None) -> Path:
    """Path of an up-to-date library, building it (once per build key) when missing."""
    d = default_dir() if out is None else Path(out)
    lib = d / LIBNAME
    if not (lib.is_file() and (d / CCX_ALIAS).exists()):
        build(d)
    return lib


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dmn_umat.abi.build", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="output directory (default: the per-build cache directory)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    lib = build(args.out or default_dir(), verbose=args.verbose)
    print(lib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
