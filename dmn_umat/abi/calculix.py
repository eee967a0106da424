"""The CalculiX the install built (``scripts/build_calculix.sh``: ccx 2.20 with its run-time
UMAT loader), run with ``libdmn_umat`` on the library path (``dmn abi ccx``).

Debian's ``/usr/bin/ccx`` cannot load a UMAT from a shared library (a material named
``@ABAQUS...`` silently runs a built-in placeholder), so only the cached rebuild is used:
``$DMN_UMAT_CCX_CACHE/ccx``, else ``~/.cache/dmn_umat/ccx/ccx`` (``$XDG_CACHE_HOME`` honoured),
the same place the build script writes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .cachekey import user_cache


class CalculiXNotFound(RuntimeError):
    """No CalculiX with the UMAT loader (message is user-facing, one line)."""


def build_script() -> Path | None:
    """``scripts/build_calculix.sh`` of the source tree or ``share/dmn_umat/scripts`` of a wheel."""
    from .build import share_dir

    for p in (Path(__file__).resolve().parent.parent.parent / "scripts" / "build_calculix.sh",
              (share_dir() or Path("/nonexistent")) / "scripts" / "build_calculix.sh"):
        if p.is_file():
            return p
    return None


def ccx_path() -> Path:
    """Path of the UMAT-loading ccx; :class:`CalculiXNotFound` when it was not built."""
    cache = os.environ.get("DMN_UMAT_CCX_CACHE")
    exe = (Path(cache) if cache else user_cache("ccx")) / "ccx"
    if exe.is_file() and os.access(exe, os.X_OK):
        return exe
    script = build_script()
    how = f"bash {script}" if script else "scripts/build_calculix.sh of the dmn_umat sources"
    raise CalculiXNotFound(f"no CalculiX with the UMAT loader at {exe}: build it once with `{how}` "
                           "(apt build dependencies, ~70 s; .ci/install does this), or set "
                           "DMN_UMAT_CCX_CACHE to the folder of such a ccx")


def run(args: list[str], lib_dir: str | Path, cwd: str | Path | None = None,
        env: dict | None = None) -> int:
    """Run ``ccx ARGS`` with ``lib_dir`` (the folder of ``libDMN.so``) first on
    ``LD_LIBRARY_PATH``; the output goes to this process's stdout/stderr.  Returns ccx's exit
    code (ccx also returns 0 after some ``*ERROR`` messages: read its output)."""
    exe = ccx_path()
    env = dict(os.environ if env is None else env)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(Path(lib_dir).resolve()),
                                                           env.get("LD_LIBRARY_PATH")]))
    return subprocess.run([str(exe), *args], cwd=cwd, env=env).returncode
