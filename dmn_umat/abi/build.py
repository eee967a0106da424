"""Build ``libdmn_umat.so`` with cffi's embedding API.

    python -m dmn_umat.abi.build --out DIR        (also: ``dmn abi build --out DIR``)

writes ``DIR/libdmn_umat.so`` (exports ``umat_`` and the C API of
``fortran_bridge/include/dmn_umat.h``, nothing else), the symlink ``DIR/libDMN.so`` that a
CalculiX material ``@ABAQUS_DMN...`` loads, and what a C/Fortran user compiles against it
(:data:`SHARE_FILES`: the header ``DIR/dmn_umat.h``, the Fortran UMAT shim, the C/Fortran
drivers, ``DIR/CMakeLists.txt`` and the CMake package file ``DIR/dmn_umatConfig.cmake``) and
the example CalculiX deck ``DIR/dmn_example.inp``.  These come from ``fortran_bridge/`` in a
source tree and from ``share/dmn_umat/`` (same layout) in an installed wheel.
The library embeds the interpreter that built it (its executable is recorded, so a venv is
found through ``pyvenv.cfg``; override with ``$DMN_UMAT_PYTHON``).  Writes are atomic.

The library runs the ``dmn_umat`` it was built from: its start-up puts that source tree first
on ``sys.path`` and refuses (one-line message) another copy or sources edited since the build
(:func:`dmn_umat.abi.cachekey.check_source`).  The build then loads the library once in a
fresh process and runs a short self-test through its C entry points (:func:`warm`), which
compiles every kernel into the numba cache ``DIR/numba/<key>``: the first call of an analysis
loads machine code instead of compiling (``--no-warm`` skips this).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

from . import cachekey

HERE = Path(__file__).resolve().parent
C_SOURCE = HERE / "libdmn.c"
MODULE = "_dmn_umat_cffi"
LIBNAME = "libdmn_umat.so"
CCX_ALIAS = "libDMN.so"
#: files of the C/Fortran side: path in fortran_bridge/ (= share/dmn_umat/ of a wheel) → path
#: in the build folder
SHARE_FILES = {
    "include/dmn_umat.h": "dmn_umat.h",
    "src/umat_shim.f90": "src/umat_shim.f90",
    "drivers/dmn_driver_c.c": "drivers/dmn_driver_c.c",
    "drivers/dmn_driver_f.f90": "drivers/dmn_driver_f.f90",
    "CMakeLists.txt": "CMakeLists.txt",
    "dmn_umatConfig.cmake": "dmn_umatConfig.cmake",
}
#: the example deck (package data): a CalculiX job through the UMAT with a shipped model
EXAMPLE_DECK = HERE / "dmn_example.inp"

EMBEDDING_API = """
int _dmn_py_init(void **kernels, char *err, int errlen);
int _dmn_py_open(const char *path, const char *name, const double *props, int nprops,
                 int64_t *ints, void **ptrs, char *err, int errlen);
int _dmn_py_close(int64_t key);
"""

EXPORTS = (
    "umat_", "dmn_umat", "dmn_umat_t", "dmn_umat_nl", "dmn_init", "dmn_open", "dmn_close", "dmn_eval_batch",
    "dmn_eval_batch_t", "dmn_nstate", "dmn_nphase", "dmn_last_error", "dmn_call_count",
)


def share_dir() -> Path | None:
    """Folder of the C/Fortran files (:data:`SHARE_FILES`): ``fortran_bridge/`` of the source
    tree this package lives in, else ``share/dmn_umat`` of the installed distribution of this
    very package (a wheel's data files); None if neither is there."""
    src = HERE.parent.parent / "fortran_bridge"
    if (src / "include" / "dmn_umat.h").is_file():
        return src
    try:
        dist = importlib.metadata.distribution("dmn_umat")
        if Path(dist.locate_file("dmn_umat/__init__.py")).resolve() != HERE.parent / "__init__.py":
            return None  # metadata of another copy
        for f in dist.files or ():
            if f.as_posix().endswith("share/dmn_umat/include/dmn_umat.h"):
                return Path(dist.locate_file(f)).resolve().parent.parent
    except importlib.metadata.PackageNotFoundError:
        pass
    return None


def header_path() -> Path | None:
    """``include/dmn_umat.h`` of :func:`share_dir`, if present."""
    d = share_dir()
    p = d / "include" / "dmn_umat.h" if d else None
    return p if p is not None and p.is_file() else None


def _install_file(src: Path, dst: Path) -> None:
    """Atomic copy ``src`` → ``dst`` (parent folders created)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def install_user_files(out: str | Path) -> list[Path]:
    """Write :data:`SHARE_FILES` and the example deck into ``out``; returns the paths written.
    A missing file (an install without ``share/dmn_umat``) is named in a warning."""
    out = Path(out)
    share = share_dir()
    written, missing = [], []
    for rel, dst in SHARE_FILES.items():
        src = share / rel if share else None
        if src is None or not src.is_file():
            missing.append(rel)
            continue
        _install_file(src, out / dst)
        written.append(out / dst)
    if EXAMPLE_DECK.is_file():
        _install_file(EXAMPLE_DECK, out / EXAMPLE_DECK.name)
        written.append(out / EXAMPLE_DECK.name)
    else:
        missing.append(EXAMPLE_DECK.name)
    if missing:
        where = share or "fortran_bridge/ and share/dmn_umat"
        warnings.warn(f"dmn_umat is installed without {', '.join(missing)} (looked in {where}): {out} has "
                      "the library but not these files", stacklevel=2)
    return written


def _c_string(s: str) -> str:
    return json.dumps(s)  # a valid C string literal for ordinary paths


def _init_code(pkg_dir: str, src_hash: str, version: str, libdir: str) -> str:
    # runs once, inside the embedded interpreter, with the GIL.  The build's source tree goes
    # first on sys.path; the build tree's own cachekey.py (loaded by path, stdlib only) checks
    # that the imported dmn_umat is that tree, unchanged, before anything else of it runs.
    pkg_parent = os.path.dirname(pkg_dir)
    checker = os.path.join(pkg_dir, "abi", "cachekey.py")
    numba_base = os.path.join(libdir, "numba")
    return f"""
import os, sys, traceback
_DMN_ERR = None
_rt = None
try:
    import importlib.util as _ilu
    _extra = os.environ.get("DMN_UMAT_PYTHONPATH")
    sys.path[:0] = [{pkg_parent!r}] + [p for p in (_extra or "").split(os.pathsep) if p]
    import dmn_umat
    _spec = _ilu.spec_from_file_location("_dmn_umat_build_check", {checker!r})
    _bc = _ilu.module_from_spec(_spec)
    _spec.loader.exec_module(_bc)
    _DMN_ERR = _bc.check_source({src_hash!r}, {version!r})
    if _DMN_ERR is None:
        from dmn_umat.abi import cachekey as _ck
        _ck.activate(base={numba_base!r})
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
    """Hash of everything baked into the library: C source, build script, header, interpreter,
    cffi version, the package directory and the source hash it is pinned to."""
    import cffi

    h = hashlib.sha256()
    for p in (C_SOURCE, Path(__file__)):
        h.update(p.read_bytes())
    hp = header_path()
    if hp:
        h.update(hp.read_bytes())
    h.update(sys.executable.encode() + sys.version.encode() + cffi.__version__.encode())
    h.update(str(HERE.parent).encode() + cachekey.source_hash().encode())
    return h.hexdigest()[:16]


def build(out: str | Path, verbose: bool = False, warm_cache: bool = True) -> Path:
    """Compile the library into ``out`` (created); returns the path of ``libdmn_umat.so``.

    ``warm_cache``: run :func:`warm` on the new library (compiles the kernels into
    ``out/numba``; raises RuntimeError if the self-test fails).
    """
    import cffi

    from .. import __version__

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    soname = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY") or ""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise RuntimeError("this Python has no shared libpython: the embedding library cannot be built")
    libpython = str(Path(libdir) / soname) if libdir and soname else ""
    src_hash = cachekey.source_hash()

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
    else:  # installed without the source tree: the header's status/info names as macros
        from ..status import c_constants

        macros += [(name, str(value)) for name, value in c_constants().items()]
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
        ffi.embedding_init_code(_init_code(str(HERE.parent), src_hash, __version__, str(out)))
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
    install_user_files(out)
    if warm_cache:
        warm(out / LIBNAME)
    return out / LIBNAME


def warm(lib: str | Path, timeout: float = 1800.0) -> None:
    """Load ``lib`` in a fresh process and run :func:`_selftest_calls` through its C entry
    points: every kernel the library runs gets compiled into its numba cache, and a library
    that cannot start or computes nonsense is reported here (RuntimeError), not in an analysis."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent.parent),
                                                                     os.environ.get("PYTHONPATH")])))
    r = subprocess.run([sys.executable, "-m", "dmn_umat.abi.build", "--selftest", str(lib)], env=env,
                       cwd=HERE.parent.parent, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        err = r.stderr.strip()
        i = err.rfind("RuntimeError: ")
        err = " ".join((err[i + len("RuntimeError: "):] if i >= 0 else err[-1500:]).split())  # one line
        raise RuntimeError(f"the new library {lib} fails its self-test: {err}")


def _selftest_calls(lib_path: str) -> None:
    """In this (fresh) process: dmn_init, dmn_open with each law type, a load/unload path through
    dmn_eval_batch, umat_ with NTENS 6 and 4.  Raises RuntimeError on any failure.  Nothing that
    uses numba is imported before dmn_init, so every kernel lands in the library's cache."""
    import ctypes

    lib = ctypes.CDLL(lib_path)
    lib.dmn_last_error.restype = ctypes.c_char_p

    def check(ok: bool, what: str) -> None:
        if not ok:
            raise RuntimeError(f"{what}: {lib.dmn_last_error().decode(errors='replace')}")

    check(lib.dmn_init() == 0, "dmn_init")
    import numpy as np

    from ..laws import parse_phase
    from . import selftest
    from .deck import props_vector

    P = ctypes.c_void_p
    ptr = lambda a: a.ctypes.data_as(P)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="dmn_abi_selftest_") as tmp:
        d = Path(tmp)
        selftest.setup(d)
        model = str(d / "model.dmn").encode()
        aniso = props_vector([parse_phase(selftest.PHASES[0]), parse_phase(
            "aniso:C=" + ";".join(["3e5", "1e5", "1e5", "0", "0", "0", "3e5", "1e5", "0", "0", "0", "3e5"]
                                  + ["0", "0", "0", "2e5", "0", "0", "2e5", "0", "2e5"]))])
        for props in (np.loadtxt(d / "props.txt"), aniso):
            h = lib.dmn_open(model, ptr(props), props.size)
            check(h >= 1, "dmn_open")
            nsv = lib.dmn_nstate(h)
            s_old, s_new = np.zeros(nsv), np.zeros(nsv)
            sig, C, info = np.zeros(6), np.zeros(36), np.zeros(4)
            for e in selftest.example_path():
                e = np.ascontiguousarray(e)
                r = lib.dmn_eval_batch(h, 1, ptr(e), ptr(s_old), ptr(sig), ptr(C), ptr(s_new), ptr(info))
                check(r == 0, "dmn_eval_batch")
                s_old[:] = s_new
            check(np.all(np.isfinite(sig)) and np.abs(sig).max() > 0, "dmn_eval_batch gave no stress")
            check(lib.dmn_close(h) == 0, "dmn_close")
        os.environ["DMN_UMAT_MODEL"] = str(d / "model.dmn")
        os.environ["DMN_UMAT_QUIET"] = "1"
        props = np.loadtxt(d / "props.txt")
        nsv = int((d / "nstatv.txt").read_text())
        name = b"@ABAQUS_DMN"
        for ntens, nshr in ((6, 3), (4, 1)):
            stress, sv, dd = np.zeros(ntens), np.zeros(nsv), np.zeros(ntens * ntens)
            stran, dstran, pn = np.zeros(ntens), np.full(ntens, 1e-3), np.array([1.0])
            I32 = ctypes.c_int
            r = lib.dmn_umat(ptr(stress), ptr(sv), ptr(dd), ptr(stran), ptr(dstran), name,
                             ctypes.c_int64(len(name)), I32(3), I32(nshr), I32(ntens), I32(nsv), ptr(props),
                             I32(props.size), ptr(pn), I32(1), I32(1))
            check(r == 0 and np.all(np.isfinite(dd)) and np.abs(stress).max() > 0, f"umat_ NTENS={ntens}")


def default_dir() -> Path:
    """``$DMN_UMAT_LIB_CACHE`` or ``~/.cache/dmn_umat/lib``, then the build key."""
    base = os.environ.get("DMN_UMAT_LIB_CACHE")
    return (Path(base) if base else cachekey.user_cache("lib")) / build_key()


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
    ap.add_argument("--no-warm", action="store_true", help="do not precompile the kernels (self-test)")
    ap.add_argument("--selftest", metavar="LIB", help=argparse.SUPPRESS)  # internal: see warm()
    args = ap.parse_args(argv)
    if args.selftest:
        _selftest_calls(args.selftest)
        return 0
    lib = build(args.out or default_dir(), verbose=args.verbose, warm_cache=not args.no_warm)
    print(lib)
    return 0


if __name__ == "__main__":
    sys.exit(main())
