"""One library entry point per stage (docs/design.md §1): each job → result call gives what its
``dmn`` subcommand prints with ``--json`` (the command line is a thin layer over it), and bad
input raises the stage's library error type — never the command line's ``CLIError`` or
``SystemExit``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmn_umat import loadpath, model_file
from dmn_umat.cli import build_parser, main
from dmn_umat.cliutil import CLIError
from dmn_umat.network import complete_tree

J2 = "j2:E=70e3,nu=0.33,sy=100,H=500"
EL = "elastic:E=400e3,nu=0.2"
FREE = "22,33,23,13,12"


@pytest.fixture()
def case(tmp_path):
    """A two-phase 4³ microstructure (a laminate), a two-phase depth-2 model and a uniaxial
    load/unload path (4 steps) that yields the J2 matrix."""
    micro = np.zeros((4, 4, 4), dtype=np.int32)
    micro[:2] = 1
    np.save(tmp_path / "m.npy", micro)
    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    model_file.write(tmp_path / "two.dmn", net)
    loadpath.write_path(tmp_path / "p.csv", loadpath.cyclic([0.004, 0.0], 2))
    return tmp_path


def _cli_json(capsys, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _same(lib: dict, cli: dict, skip: tuple[str, ...] = ()) -> None:
    """Equal key sets and values (numbers through JSON, which round-trips floats exactly)."""
    lib = json.loads(json.dumps(lib, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    assert lib.keys() == cli.keys()
    for k in lib:
        if k not in skip:
            assert lib[k] == cli[k], k


def _not_cli(excinfo) -> None:
    assert not isinstance(excinfo.value, (CLIError, SystemExit))


# ----------------------------------------------------------------------------- drive
def test_drive_model_equals_dmn_drive(case, capsys):
    from dmn_umat.online.driver import DriveJob, drive_model

    argv = ["drive", str(case / "two.dmn"), "--phase", J2, "--phase", EL, "--path", str(case / "p.csv"),
            "--stress-free", FREE]
    cli = _cli_json(capsys, argv)
    res = drive_model(DriveJob(model=case / "two.dmn", phases=[J2, EL], path=case / "p.csv", stress_free=FREE,
                               out=case / "r.csv", png=case / "r.png", label=str(case / "two.dmn")))
    _same(res.to_dict(), cli)
    # mixed control honoured, the matrix yields (the last-but-one step is past sy), files written
    assert np.abs(res.stress[:, 1:]).max() < 1e-6 * np.abs(res.stress[:, 0]).max()
    assert res.substeps.min() >= 1 and res.states.shape[0] == 4 and res.fields["peeq"][1] > 0
    assert (case / "r.csv").read_text().startswith("step,e11") and (case / "r.png").stat().st_size > 1000
    assert res.files == [str(case / "r.csv"), str(case / "r.png")]


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"model": "no_such_model.dmn"}, "DriveError", "not found"),
        ({"phases": [J2, EL, EL]}, "DriveError", "has 2 phases but 3 phase laws"),
        ({"phases": [J2, "elastc:E=1,nu=0.3"]}, "PhaseSpecError", "unknown law"),
        ({"out": "r.txt"}, "DriveError", ".json or .csv"),
        ({"threads": 0}, "DriveError", ">= 1"),
        ({"stress_free": "22,44"}, "PathError", "unknown component"),
        ({"path": "missing.csv"}, "PathError", "not found"),
        ({"dns": "missing.json"}, "DriveError", "--dns file"),
    ],
)
def test_drive_model_bad_input_raises_library_errors(case, monkeypatch, change, error, message):
    from dmn_umat.online.driver import DriveJob, drive_model

    monkeypatch.chdir(case)
    job = {"model": "two.dmn", "phases": [J2, EL], "path": "p.csv", "stress_free": FREE, **change}
    with pytest.raises(Exception, match=message) as exc:
        drive_model(DriveJob(**job))
    assert type(exc.value).__name__ == error
    _not_cli(exc)
    assert not (case / "r.txt").exists()


# ----------------------------------------------------------------------------- homogenize, DNS
def test_homogenize_rve_equals_dmn_homogenize(case, capsys):
    from dmn_umat.rve.api import HomogenizeJob, homogenize_rve

    cli = _cli_json(capsys, ["homogenize", str(case / "m.npy"), "--phase", J2, "--phase", EL])
    res = homogenize_rve(HomogenizeJob(micro=case / "m.npy", phases=[J2, EL], out=case / "C.json"))
    _same(res.to_dict(), cli, skip=("seconds",))
    assert json.loads((case / "C.json").read_text())["C"] == cli["C"]
    # a laminate of normal x (exact on the staggered grid): in-plane shear 23 is the Voigt mean of
    # the phases, the shear 12 across the layers the Reuss mean
    C1, C2 = (homogenize_rve(HomogenizeJob(micro=np.zeros((2, 2, 2), int), phases=[s])).C for s in (J2, EL))
    assert np.isclose(res.C[3, 3], 0.5 * (C1[3, 3] + C2[3, 3]), rtol=1e-6)
    assert np.isclose(res.C[5, 5], 2.0 / (1.0 / C1[5, 5] + 1.0 / C2[5, 5]), rtol=1e-6)


def test_run_dns_equals_dmn_dns(case, capsys):
    from dmn_umat.rve.api import DNSJob, run_dns

    argv = ["dns", str(case / "m.npy"), "--phase", J2, "--phase", EL, "--path", str(case / "p.csv"),
            "--stress-free", FREE]
    cli = _cli_json(capsys, argv)
    steps = []
    res = run_dns(DNSJob(micro=case / "m.npy", phases=[J2, EL], path=case / "p.csv", stress_free=FREE),
                  progress=lambda i, n: steps.append((i, n)))
    _same(res.to_dict(), cli, skip=("seconds",))
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert np.abs(res.stress[:, 1:]).max() < 1e-6 * np.abs(res.stress[:, 0]).max()
    assert res.peeq[1, 0] > 0 and res.peeq[:, 1].max() == 0  # the matrix yields, the inclusion never


@pytest.mark.parametrize(
    "job, error, message",
    [
        ({"tol": 2.0}, "RVEJobError", "--tol must lie in (0, 1)"),
        ({"max_iter": 0}, "RVEJobError", "--max-iter must be >= 1"),
        ({"threads": 0}, "RVEJobError", "--threads must be >= 1"),
        ({"phases": [J2]}, "RVEJobError", "has 2 phases"),
        ({"phases": [J2, EL, EL]}, "RVEJobError", "3 phase laws are given"),
        ({"phases": []}, "RVEJobError", "at least one phase"),
        ({"micro": "missing.npy"}, "MicroError", "not found"),
        ({"micro": np.zeros((4, 4, 4))}, "RVEJobError", "phase ids"),
        ({"micro": np.pad([[[1]]], ((0, 3), (0, 3), (0, 3))), "max_iter": 1}, "FFTConvergenceError",
         "not converged"),
    ],
)
def test_homogenize_rve_bad_input_raises_library_errors(case, monkeypatch, job, error, message):
    from dmn_umat.rve.api import HomogenizeJob, homogenize_rve

    monkeypatch.chdir(case)
    with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        homogenize_rve(HomogenizeJob(**{"micro": "m.npy", "phases": [J2, EL], **job}))
    assert type(exc.value).__name__ == error
    _not_cli(exc)


@pytest.mark.parametrize(
    "job, error, message",
    [
        ({"tol": -1.0}, "RVEJobError", "--tol"),
        ({"stress_free": "11,22,33,23,13,12"}, "PathError", "strain controlled"),
        ({"path": "missing.csv"}, "PathError", "not found"),
        ({"path": np.zeros((3, 5))}, "RVEJobError", "path must be an"),
    ],
)
def test_run_dns_bad_input_raises_library_errors(case, monkeypatch, job, error, message):
    from dmn_umat.rve.api import DNSJob, run_dns

    monkeypatch.chdir(case)
    with pytest.raises(Exception, match=message) as exc:
        run_dns(DNSJob(**{"micro": "m.npy", "phases": [J2, EL], "path": "p.csv", **job}))
    assert type(exc.value).__name__ == error
    _not_cli(exc)


# ----------------------------------------------------------------------------- training data
def test_generate_data_equals_dmn_data_generate(case, capsys):
    from dmn_umat.rve.api import DataJob, generate_data
    from dmn_umat.rve.dataset import load_dataset

    cli = _cli_json(capsys, ["data", "generate", str(case / "m.npy"), "--samples", "3", "--out",
                             str(case / "a.h5"), "--executor", "local", "--kind", "ortho"])
    res = generate_data(DataJob(micro=case / "m.npy", out=case / "b.h5", samples=3, executor="local",
                                kind="ortho"), log=lambda msg: None)
    _same(res.to_dict(), cli, skip=("path", "wall_seconds"))
    assert res.dataset.path == str(case / "b.h5") and res.resumed_samples == 0
    a, b = load_dataset(case / "a.h5"), load_dataset(case / "b.h5")
    assert np.array_equal(a.Cbar, b.Cbar) and np.array_equal(a.val_idx, b.val_idx)


@pytest.mark.parametrize(
    "job, error, message",
    [
        ({"val_fraction": float("nan")}, "DatasetError", "--val-fraction must be a finite number"),
        ({"tol": float("inf")}, "DatasetError", "--tol must be a finite number"),
        ({"scheduler": "tcp://x:1"}, "DatasetError", "--scheduler needs --executor dask"),
        ({"samples": 0}, "DatasetError", "positive integer"),
        ({"out": "d.txt"}, "DatasetError", ".h5, .hdf5 or .npz"),
        ({"kind": "cubic"}, "SamplerError", "kind"),
    ],
)
def test_generate_data_bad_input_raises_library_errors(case, monkeypatch, job, error, message):
    from dmn_umat.rve.api import DataJob, generate_data

    monkeypatch.chdir(case)
    with pytest.raises(Exception, match=message) as exc:
        generate_data(DataJob(**{"micro": "m.npy", "out": "d.h5", "samples": 2, "executor": "local", **job}))
    assert type(exc.value).__name__ == error
    _not_cli(exc)
    assert not (case / "d.h5").exists()


# ----------------------------------------------------------------------------- train defaults
def test_dmn_train_defaults_are_the_library_defaults():
    """``dmn train``'s option defaults come from TrainConfig / TrainJob (one place)."""
    import dataclasses

    from dmn_umat.offline.api import TrainJob
    from dmn_umat.offline.config import TrainConfig

    argv = ["train", "d.npz", "--formulation", "dmn", "--depth", "3", "--out", "m.dmn"]
    args = build_parser().parse_args(argv)
    cfg, job = TrainConfig(), TrainJob(data="d.npz", out="m.dmn")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "recover":
            assert (not args.no_recover) == cfg.recover
        elif f.name not in ("formulation", "depth"):  # required options
            assert getattr(args, f.name) == getattr(cfg, f.name), f.name
    assert args.val_fraction == job.val_fraction and args.prune_tol == job.prune_tol
    assert (not args.no_plot) == job.plot and args.resume == job.resume and args.checkpoint == job.checkpoint
