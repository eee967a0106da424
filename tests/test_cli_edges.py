"""CLI edges shared by the ``dmn`` subcommands (issue 10 item 5): exactly one ``--phase`` per
phase, one-line errors for unusable input files, and no output written over an input.

Every refusal must come before any work: exit code 2, one line on stderr, inputs untouched.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from dmn_umat import model_file
from dmn_umat.cli import main
from dmn_umat.network import complete_tree

J2 = "j2:E=70e3,nu=0.33,sy=100,H=500"
EL = "elastic:E=400e3,nu=0.2"
MODEL = "spheres16_imn_d6"  # shipped, two phases


def _refused(capsys, argv: list[str], *needles: str) -> str:
    """Run ``dmn argv``: exit code 2 and exactly one stderr line holding every needle."""
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


@pytest.fixture()
def files(tmp_path):
    """A strain path CSV, a two-phase 4³ microstructure, a small two-phase model, and three bad
    inputs: a non-UTF-8 file, a directory and a character device."""
    d = {}
    d["path"] = tmp_path / "p.csv"
    d["path"].write_text("e11,e22,e33,e23,e13,e12\n0.001,0,0,0,0,0\n")
    micro = np.zeros((4, 4, 4), dtype=np.int32)
    micro[:2] = 1
    d["micro"] = tmp_path / "m.npy"
    np.save(d["micro"], micro)
    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    d["model"] = tmp_path / "two.dmn"
    model_file.write(d["model"], net)
    d["latin1"] = tmp_path / "latin1.csv"
    d["latin1"].write_bytes(b"e11,e22,e33,e23,e13,e12 \xb5\n0.001,0,0,0,0,0\n")
    d["dir"] = tmp_path / "adir"
    d["dir"].mkdir()
    d["dev"] = "/dev/zero"  # reading it never ends: must be refused without reading
    return d


# ----------------------------------------------------------------- exactly one --phase per phase
def _phase_cases(f):
    three = ["--phase", J2, "--phase", EL, "--phase", EL]
    return {
        "drive": ["drive", MODEL, *three, "--path", str(f["path"])],
        "inspect": ["inspect", MODEL, "--abaqus", *three],
        "fe2": ["fe2", "cyclic", "--model", MODEL, *three, "--size", "tiny"],
        "homogenize": ["homogenize", str(f["micro"]), *three],
        "dns": ["dns", str(f["micro"]), *three, "--path", str(f["path"])],
    }


@pytest.mark.parametrize("cmd", ["drive", "inspect", "fe2", "homogenize", "dns"])
def test_extra_phase_refused(cmd, files, capsys, tmp_path, monkeypatch):
    """Three --phase for a two-phase model / microstructure: refused (used to be ignored)."""
    monkeypatch.chdir(tmp_path)  # fe2 would write fe2-cyclic/ here
    _refused(capsys, _phase_cases(files)[cmd], "has 2 phases", "but 3 --phase given")
    assert not (tmp_path / "fe2-cyclic").exists()


def test_too_few_phases_still_refused(files, capsys):
    _refused(capsys, ["drive", MODEL, "--phase", J2, "--path", str(files["path"])],
             "has 2 phases", "but 1 --phase given")
    _refused(capsys, ["homogenize", str(files["micro"]), "--phase", EL], "has 2 phases", "1 --phase given")


# ----------------------------------------------------------------- unusable input files
BAD = {"latin1": "is not UTF-8 text (byte 0xb5", "dir": "is a directory", "dev": "is not a regular file"}


@pytest.mark.parametrize("bad", sorted(BAD))
def test_bad_path_file_one_line(bad, files, capsys):
    """drive and dns --path: non-UTF-8 text, a directory and /dev/zero each get their own line
    (a traceback, and a misleading "not found", before)."""
    two = ["--phase", J2, "--phase", EL]
    p = str(files[bad])
    _refused(capsys, ["drive", MODEL, *two, "--path", p], f"path file {p!r} {BAD[bad]}")
    _refused(capsys, ["dns", str(files["micro"]), *two, "--path", p], f"path file {p!r} {BAD[bad]}")


@pytest.mark.parametrize("bad", ["dir", "dev"])
def test_bad_input_files_one_line(bad, files, capsys, tmp_path):
    """The same checks on every other input file: nothing is read from a device (it used to hang
    on /dev/zero as a --dns file), a directory is named as such."""
    p = str(files[bad])
    two = ["--phase", J2, "--phase", EL]
    cases = [
        (["drive", MODEL, *two, "--path", str(files["path"]), "--dns", p], "--dns file"),
        (["homogenize", p, *two], "microstructure file"),
        (["data", "show", p], "data set"),
        (["data", "generate", p, "--samples", "2", "--out", str(tmp_path / "d.h5")], "microstructure file"),
        (["train", p, "--formulation", "dmn", "--depth", "2", "--out", str(tmp_path / "x.dmn")], "data set"),
        (["prune", str(files["model"]), "--data", p, "--out", str(tmp_path / "y.dmn")], "data set"),
        (["assess", p], "config file"),
    ]
    for argv, what in cases:
        _refused(capsys, argv, f"{what} {p!r} {BAD[bad]}")


def test_non_utf8_text_inputs_one_line(files, capsys):
    p = str(files["latin1"])
    _refused(capsys, ["drive", MODEL, "--phase", J2, "--phase", EL, "--path", str(files["path"]), "--dns", p],
             f"--dns file {p!r} is not UTF-8 text")
    _refused(capsys, ["assess", p], f"config file {p!r} is not UTF-8 text")


# ----------------------------------------------------------------- --out never replaces an input
def test_out_equal_to_input_refused(files, capsys, tmp_path, monkeypatch):
    """``--out`` (or another output) naming an input file — by the same name, another spelling,
    or a symbolic link — is refused and the input is left byte-identical."""
    monkeypatch.chdir(tmp_path)
    two = ["--phase", J2, "--phase", EL]
    link = tmp_path / "link.csv"
    link.symlink_to(files["path"])
    data = tmp_path / "d.dmn"  # a data set file whose name passes train's --out suffix check
    data.write_bytes(b"not read")
    cfg = tmp_path / "study.toml"
    cfg.write_text('name = "x"\n')
    micro_copy = tmp_path / "m2.npy"
    micro_copy.write_bytes(files["micro"].read_bytes())
    cases = [
        (["drive", MODEL, *two, "--path", "p.csv", "--out", "p.csv"], "--out 'p.csv' is the input --path"),
        (["drive", MODEL, *two, "--path", "p.csv", "--out", "adir/../p.csv"], "is the input --path"),
        (["drive", MODEL, *two, "--path", "p.csv", "--out", str(link)], "is the input --path"),
        (["drive", str(files["model"]), *two, "--path", "p.csv", "--png", str(files["model"])],
         "--png", "is the input model"),
        (["dns", "m.npy", *two, "--path", "p.csv", "--out", "p.csv"], "is the input --path"),
        (["homogenize", "m.npy", *two, "--out", "m.npy"], "is the input microstructure"),
        (["prune", str(files["model"]), "--out", str(files["model"])], "is the input model"),
        (["train", str(data), "--formulation", "dmn", "--depth", "2", "--out", str(data)],
         "is the input data set"),
        (["data", "generate", "m2.npy", "--samples", "2", "--out", "m2.npy"], "is the input microstructure"),
        (["fe2", "cyclic", "--model", str(files["model"]), *two, "--out", str(files["model"])],
         "is the input --model"),
        (["assess", str(cfg), "--out", str(cfg)], "is the input config"),
        (["micro", "laminate", "--size", "4", "--vf", "0.5", "--out", "q.npy", "--png", "q.npy"],
         "--out and --png name the same file"),
    ]
    inputs = (files["path"], files["micro"], files["model"], data, cfg, micro_copy)
    before = {p: p.read_bytes() for p in inputs}
    for argv, *needles in cases:
        _refused(capsys, argv, *needles)
    for p, b in before.items():
        assert p.read_bytes() == b, p
    assert not (tmp_path / "q.npy").exists()


def test_distinct_out_still_written(files, capsys, tmp_path):
    """The check does not refuse a legitimate run: --out next to the input is written."""
    out = tmp_path / "res.csv"
    argv = ["drive", str(files["model"]), "--phase", J2, "--phase", EL, "--path", str(files["path"]),
            "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    assert out.read_text().startswith("step,e11")
    assert os.path.getsize(files["path"]) > 0
