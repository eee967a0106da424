"""scripts/study_report.py: the error measure, the DNS curve cache and the markdown table shared by
the nonlinear study scripts."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    try:
        return importlib.import_module("study_report")
    finally:
        sys.path.pop(0)


def test_errors_are_relative_to_the_reference_peak(report):
    """The measure is scale free and vanishes only on the reference; the fine-resolution split
    compares both curves with the fine one."""
    ref = np.sin(np.linspace(0.1, 3.0, 12))
    a = ref + 0.01 * np.cos(np.arange(12))
    mean, mx = report.errors(a, ref)
    assert 0 < mean <= mx
    assert report.errors(1e3 * a, 1e3 * ref) == pytest.approx((mean, mx), rel=1e-12)
    assert report.errors(ref, ref) == (0.0, 0.0)
    e = report.fine_errors(a, ref, ref)
    assert e["net_vs_fine"] == {"mean": 0.0, "max": 0.0}
    assert (e["dns_vs_fine"]["mean"], e["dns_vs_fine"]["max"]) == pytest.approx((mean, mx))


def test_cached_dns_runs_once_and_reuses_the_file(report, tmp_path, capsys):
    calls = []

    def run(progress):
        calls.append(1)
        progress(1, 1)
        return SimpleNamespace(strain=np.ones((2, 6)), stress=np.full((2, 6), 3.0))

    f = tmp_path / "sub" / "dns.npz"
    first = report.cached_dns(f, "case 4³", run)
    again = report.cached_dns(f, "case 4³", run)
    assert len(calls) == 1 and f.is_file() and not list(f.parent.glob("*.tmp.npz"))
    np.testing.assert_array_equal(again["stress"], first["stress"])
    assert again["seconds"] == first["seconds"]
    out = capsys.readouterr().out
    assert "case 4³: step 1/1" in out and "case 4³: cached" in out
    report.cached_dns(None, "x", run)  # no cache: always computed
    assert len(calls) == 2


def test_print_table_is_markdown(report, capsys):
    report.print_table(["a", "b"], [["1", report.pct(0.5)],
                                    ["2", report.pct_pair({"mean": 0.01, "max": 0.02})]])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["| a | b |", "|---|---|", "| 1 | 50.00 % |", "| 2 | 1.00 % / 2.00 % |"]
