"""The README's main job (`dmn demo`) runs end to end (reduced sizes) on the stages' library entry
points, and the `dmn ...` lines it prints reproduce its steps."""

import json
import shlex

import numpy as np

from dmn_umat import cli


def test_demo_runs_end_to_end(tmp_path, capsys, monkeypatch):
    calls = []
    real_main = cli.main
    monkeypatch.setattr(cli, "main", lambda argv=None: calls.append(argv) or real_main(argv))
    rc = real_main(["demo", "--out", str(tmp_path), "--size", "8", "--samples", "16", "--depth", "3",
                    "--epochs", "5", "--fe-size", "tiny", "--json"])
    assert rc == 0
    assert not calls  # the demo drives the library, not the command line
    cap = capsys.readouterr()
    summary = json.loads(cap.out.strip().splitlines()[-1])
    for f in ("spheres.npy", "data.h5", "imn.dmn", "dns.json", "drive_vs_dns.png"):
        assert (tmp_path / f).is_file()
    assert 0.1 < summary["volume_fraction"] < 0.3
    # the homogenized stiffness of 20 % stiff spheres lies above the matrix value
    assert summary["C11_C44"][0] > 70e3 * 0.67 / (1.33 * 0.34)
    errs = summary["online_vs_dns"]
    assert errs and all(np.isfinite(e["mean_rel_error"]) for e in errs.values())
    assert summary["training"]["epochs"] == 5 and summary["fe2"]["checks"]

    # every step prints its command line; the printed homogenize line gives the same C
    lines = {ln.split()[2]: shlex.split(ln[2:])[1:] for ln in cap.err.splitlines() if ln.startswith("$ dmn ")}
    assert set(lines) == {"micro", "homogenize", "data", "train", "inspect", "dns", "drive", "fe2"}
    assert real_main([*lines["homogenize"], "--json"]) == 0
    C = np.array(json.loads(capsys.readouterr().out)["C"])
    assert [C[0, 0], C[3, 3] / 2] == summary["C11_C44"]
