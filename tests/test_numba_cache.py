"""numba's on-disk cache never serves code compiled from an outdated dependency (docs/online.md).

numba keys a cached function on its own file; ``sources.guard_numba_cache`` adds the module's
in-package imports, transitively.  Checked on a throw-away package: a cached function returning
a constant of another module must see that constant's edit in a new process.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "dmn_umat"


def _caches(tree: ast.AST) -> bool:
    """True if a decorator ``@njit(..., cache=True)`` (or ``jit``/``cfunc``/...) is in ``tree``."""
    for node in ast.walk(tree):
        for dec in getattr(node, "decorator_list", ()):
            if isinstance(dec, ast.Call) and any(
                k.arg == "cache" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in dec.keywords
            ):
                return True
    return False


def _cached_modules() -> list[Path]:
    files = (p for p in PKG.rglob("*.py") if p.name != "sources.py")
    return sorted(p for p in files if _caches(ast.parse(p.read_text())))


@pytest.mark.parametrize("path", _cached_modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_every_cached_module_guards_its_cache(path):
    calls = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "guard_numba_cache"]
    assert calls, f"{path.name} has cached numba functions but never calls guard_numba_cache"


def _write_pkg(root: Path, value: int, guard: bool) -> None:
    pkg = root / "toy"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "consts.py").write_text(f"VALUE = {value}\n")
    guard_line = f"guard_numba_cache(f, __file__, root={str(pkg)!r})\n" if guard else ""
    (pkg / "user.py").write_text(textwrap.dedent("""\
        from numba import njit

        from dmn_umat.sources import guard_numba_cache
        from .consts import VALUE


        @njit(cache=True)
        def f():
            return VALUE


        """) + guard_line)


def _run(root: Path) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(PKG.parent)]))
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", "from toy.user import f; print(f())"], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize("guard", [True, False])
def test_edited_dependency_is_recompiled(tmp_path, guard):
    _write_pkg(tmp_path, 1, guard)
    assert _run(tmp_path) == 1
    assert _run(tmp_path) == 1  # from the cache
    (tmp_path / "toy" / "consts.py").write_text("VALUE = 2\n")  # user.py itself untouched
    if guard:
        assert _run(tmp_path) == 2
    else:  # what the guard is for: numba alone serves the stale constant
        assert _run(tmp_path) == 1
