"""One model-name resolution everywhere (issue 15 item 2): a shipped model's name
(``dmn models``) works wherever a model file does — the command line (``dmn drive``,
``inspect``, ``abi deck``), the C API's ``dmn_open`` and the UMAT's ``$DMN_UMAT_MODEL`` — all
through :func:`dmn_umat.offline.pretrained.resolve`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dmn_umat import model_file
from dmn_umat.abi import deck, runtime
from dmn_umat.cliutil import load_phases
from dmn_umat.offline import pretrained

ROOT = Path(__file__).resolve().parent.parent
NAME = "spheres16_imn_d6"
PHASES = ["j2:E=70e3,nu=0.33,sy=100,H=500", "elastic:E=400e3,nu=0.2"]


def test_resolver_names_files_and_missing(tmp_path):
    f = tmp_path / f"{NAME}.dmn"  # a local file wins over the shipped model of the same name
    f.write_bytes(b"x")
    assert pretrained.resolve(f) == f
    shipped = pretrained.MODELS_DIR / f"{NAME}.dmn"
    assert pretrained.resolve(NAME) == pretrained.resolve(f"{NAME}.dmn") == shipped
    assert pretrained.resolve(tmp_path / "missing.dmn") == tmp_path / "missing.dmn"


def test_cli_abi_deck_and_inspect_take_a_shipped_name(capsys):
    from dmn_umat.cli import main

    args = sum((["--phase", p] for p in PHASES), [])
    assert main(["abi", "deck", NAME, *args]) == 0
    net = model_file.read(pretrained.path(NAME))
    assert capsys.readouterr().out == deck.material_block(net, load_phases(PHASES))
    assert main(["inspect", NAME, "--abaqus", *args]) == 0
    assert deck.material_block(net, load_phases(PHASES)) in capsys.readouterr().out
    assert main(["abi", "deck", "no_such_model_or_file", *args]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and err.count("\n") == 1


def test_umat_environment_takes_a_shipped_name():
    assert runtime.resolve_model("@ABAQUS_DMN", {"DMN_UMAT_MODEL": NAME}) == pretrained.path(NAME)
    env = {"DMN_UMAT_MODEL_FIBRE": f"{NAME}.dmn", "DMN_UMAT_MODEL": "elsewhere.dmn"}
    assert runtime.resolve_model("@ABAQUS_DMN@fibre", env) == pretrained.path(NAME)
    with pytest.raises(runtime.ABIError, match="not found"):
        runtime.resolve_model("@ABAQUS_DMN", {"DMN_UMAT_MODEL": "no_such_model"})


def test_open_model_takes_a_shipped_name():
    props = deck.props_vector(load_phases(PHASES))
    m = runtime.open_model(NAME, props)
    assert m["path"] == pretrained.path(NAME) and m["nphase"] == 2 and m["nsv"] > 0


HARNESS = textwrap.dedent(r"""
    import ctypes, sys
    import numpy as np
    lib = ctypes.CDLL(sys.argv[1])
    lib.dmn_last_error.restype = ctypes.c_char_p
    P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    props = np.array([float(x) for x in sys.argv[3].split(",")])
    h = lib.dmn_open(sys.argv[2].encode(), P(props), props.size)
    if h < 1:
        print("ERR", lib.dmn_last_error().decode()); sys.exit(1)
    nsv = lib.dmn_nstate(h)
    eps = np.array([2e-3, 0, 0, 0, 0, 0]); s_old, s_new = np.zeros(nsv), np.zeros(nsv)
    sig, C, info = np.zeros(6), np.zeros(36), np.zeros(4)
    r = lib.dmn_eval_batch(h, 1, P(eps), P(s_old), P(sig), P(C), P(s_new), P(info))
    print("OK", r, *sig)
""")


def test_dmn_open_in_the_library_takes_a_shipped_name(tmp_path):
    """dmn_open("spheres16_imn_d6") through the built library gives the same stress as the
    model's file path (it failed with "model file ... not found")."""
    from dmn_umat.abi.build import ensure_library

    lib = ensure_library()
    (tmp_path / "h.py").write_text(HARNESS)
    props = ",".join(map(repr, deck.props_vector(load_phases(PHASES)).tolist()))
    out = {}
    for model in (NAME, str(pretrained.path(NAME))):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DMN_UMAT_MODEL")}
        r = subprocess.run([sys.executable, str(tmp_path / "h.py"), str(lib), model, props], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0 and r.stdout.startswith("OK 0"), r.stdout + r.stderr[-2000:]
        out[model] = np.array(r.stdout.split()[2:], dtype=float)
    a, b = out.values()
    assert np.abs(a).max() > 0 and np.array_equal(a, b)
