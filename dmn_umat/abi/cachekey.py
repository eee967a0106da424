"""Key of the numba on-disk cache used by the C ABI (stdlib only: imported before numba).

numba keys a cached function on its *own* source file only, so a cached cfunc keeps the old
behaviour after a change in a helper module (ABI.md pitfall 6).  The library therefore points
``NUMBA_CACHE_DIR`` at ``<base>/<key>`` where the key hashes the sources of every module the
kernels are compiled from, plus the Python and numba versions.  Any edit of those files gives
a fresh directory (a cold compile), never a stale kernel.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

#: package-relative module files the key starts from; their in-package imports are followed
ROOTS = ("abi/cfuncs.py", "abi/cachekey.py")


def package_root() -> Path:
    """Directory of the ``dmn_umat`` package."""
    return Path(__file__).resolve().parent.parent


def _imports(path: Path, root: Path) -> set[Path]:
    """Files of the in-package modules ``path`` imports (relative or ``dmn_umat.`` imports)."""
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError):
        return set()
    pkg = path.parent
    out: set[Path] = set()

    def add(base: Path, parts: list[str]) -> None:
        target = base.joinpath(*parts)
        for cand in (target.with_suffix(".py"), target / "__init__.py"):
            if cand.is_file():
                out.add(cand.resolve())

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg
                for _ in range(node.level - 1):
                    base = base.parent
                mod = node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == root.name:
                base, mod = root, node.module.split(".")[1:]
            else:
                continue
            add(base, mod)
            for alias in node.names:
                add(base, mod + [alias.name])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == root.name:
                    add(root, parts[1:])
    return {p for p in out if root.resolve() in p.parents}


def source_files(root: Path | None = None) -> list[Path]:
    """The ABI kernels' source files: :data:`ROOTS` and, transitively, what they import."""
    root = (package_root() if root is None else Path(root)).resolve()
    todo = [(root / r).resolve() for r in ROOTS if (root / r).is_file()]
    seen: set[Path] = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(_imports(p, root) - seen)
    return sorted(seen)


def cache_key(root: Path | None = None) -> str:
    """16 hex digits over the kernel sources (path + content), Python and numba versions."""
    root = (package_root() if root is None else Path(root)).resolve()
    h = hashlib.sha256()
    h.update(sys.version.encode())
    try:
        from importlib.metadata import version

        h.update(version("numba").encode())
    except Exception:  # noqa: BLE001 - metadata missing: the sources still key the cache
        pass
    for p in source_files(root):
        h.update(str(p.relative_to(root)).encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def cache_base() -> Path:
    """``$DMN_UMAT_NUMBA_CACHE`` or ``~/.cache/dmn_umat/numba``."""
    env = os.environ.get("DMN_UMAT_NUMBA_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "dmn_umat" / "numba"


def cache_dir(root: Path | None = None) -> Path:
    """The keyed numba cache directory of the C ABI kernels."""
    return cache_base() / cache_key(root)


def activate(root: Path | None = None) -> Path:
    """Point numba's cache at :func:`cache_dir` (call before the kernels are compiled)."""
    d = cache_dir(root)
    d.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(d)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:
        numba_config.CACHE_DIR = str(d)
    return d
