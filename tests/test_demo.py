"""The README's main job (`dmn demo`) runs end to end (reduced sizes)."""

import json

import numpy as np

from dmn_umat import cli


def test_demo_runs_end_to_end(tmp_path, capsys):
    rc = cli.main(["demo", "--out", str(tmp_path), "--size", "8", "--samples", "16", "--depth", "3",
                   "--epochs", "5", "--fe-size", "tiny", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for f in ("spheres.npy", "data.h5", "imn.dmn", "dns.json", "drive_vs_dns.png"):
        assert (tmp_path / f).is_file()
    assert 0.1 < summary["volume_fraction"] < 0.3
    # the homogenized stiffness of 20 % stiff spheres lies above the matrix value
    assert summary["C11_C44"][0] > 70e3 * 0.67 / (1.33 * 0.34)
    errs = summary["online_vs_dns"]
    assert errs and all(np.isfinite(e["mean_rel_error"]) for e in errs.values())
