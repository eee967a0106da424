"""The law catalogue (dmn_umat/laws/catalogue.py) is the single source of every law's keys,
props layout and state size: the parser, the numba dispatch, the batched materials and the
documented layout table all agree with it."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dmn_umat.laws as laws_pkg
from dmn_umat.fe.regions import RegionMaterial
from dmn_umat.laws import LAWS, MaterialUpdate, PhaseMaterial, PhaseSpecError, parse_phase
from dmn_umat.laws import update as U
from dmn_umat.laws.spec import props_problem
from dmn_umat.network import Network
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.tensors import rotation_from_euler, rotation_mandel

_WS = np.zeros(U.MAX_NWS)  # law scratch (phase_update)

#: a value that satisfies each constraint of the catalogue (unconstrained: 0, so that the
#: temperature slopes leave the constants valid at any temperature)
GOOD = {"> 0": 2.0, ">= 0": 0.5, "poisson": 0.25, ">= 1": 2.0, "flag": 1.0, "time exponent": -0.25, "": 0.0}
#: a value that violates each constraint
BAD = {"> 0": 0.0, ">= 0": -1.0, "poisson": 0.5, ">= 1": 0.5, "flag": 0.5, "time exponent": 0.5}


def _text(p) -> str:
    if p.size == 1:
        return repr(GOOD[p.check])
    assert p.size == 21, "a multi-value parameter is a Mandel stiffness (upper triangle)"
    C = np.eye(6) * 3.0 + 0.5  # positive definite
    return ";".join(repr(float(v)) for v in C[np.triu_indices(6)])


def _spec(law, drop: str = "", extra: str = "", value: dict | None = None) -> str:
    """A valid spec of ``law`` without key ``drop`` (and the keys it must come with), with the
    texts of ``value`` (key → text) instead of valid ones, plus ``extra``."""
    gone = {drop} | {k for _, keys in law.together if drop in keys for k in keys}
    value = value or {}
    items = [f"{p.key}={value.get(p.key) or _text(p)}" for p in law.params if p.key not in gone]
    return f"{law.name}:" + ",".join(items + ([extra] if extra else []))


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.name)
def test_every_law_parses_from_its_table_row(law):
    ph = parse_phase(_spec(law))
    assert ph.law == law.name and ph.entry is law
    assert ph.props.size == law.nprops == U.NPROPS[law.id] <= U.MAX_NPROPS
    assert int(ph.props[0]) == law.id
    assert ph.nstate == law.nstate == U.NSTATE[law.id] == U.law_nstate(ph.props) <= U.MAX_NSTATE
    assert list(ph.params) == list(law.keys)
    # props = id, then the parameters in table order (multi-value keys flattened)
    flat = [v for p in law.params for v in np.atleast_1d(ph.params[p.key])]
    assert np.array_equal(ph.props[1:], flat)
    if law.finite:  # finite-strain laws: dmn_umat.laws.finite_update (tests/test_finite_catalogue.py)
        assert not U.law_known(ph.props)
        return
    # the numba dispatch knows the id: stiffness, and a zero-strain update gives zero stress
    C = np.empty((6, 6))
    assert U.elastic_stiffness(ph.props, C) == U.STATUS_OK and np.linalg.eigvalsh(C).min() > 0
    ns = max(law.nstate, 1)
    s, T, new = np.ones(6), np.empty((6, 6)), np.empty(ns)
    assert U.phase_update(ph.props, np.zeros(6), np.zeros(ns), 0.0, 0.0, 0.0, s, T, new, _WS) == U.STATUS_OK
    assert np.all(s == 0.0) and np.allclose(T, C)
    # named state entries lie inside the state
    assert all(0 <= k < law.nstate for k in law.fields.values())


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.name)
def test_unknown_and_missing_keys_are_named(law):
    with pytest.raises(PhaseSpecError, match="bogus"):
        parse_phase(_spec(law, extra="bogus=1"))
    for p in law.params:
        if p.default is None:
            with pytest.raises(PhaseSpecError, match=rf"\b{p.key}\b"):
                parse_phase(_spec(law, drop=p.key))
        else:
            assert parse_phase(_spec(law, drop=p.key)).params[p.key] == p.default


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.name)
def test_constraints_are_checked_per_key(law):
    for p in law.params:
        if p.check:
            bad = BAD[p.check]
            spec = _spec(law, value={p.key: repr(bad)})
            with pytest.raises(PhaseSpecError, match=rf"{p.key} must"):
                parse_phase(spec)


@pytest.mark.parametrize("law", LAWS, ids=lambda law: law.name)
def test_props_vectors_are_checked_by_the_same_table(law):
    """PROPS given as numbers (the C ABI's deck) pass the constraints of the spec parser; the
    small-strain deck refuses a finite-strain law in one line (those run under NLGEOM only)."""
    from dmn_umat.abi.deck import DeckError, parse_props

    props = parse_phase(_spec(law)).props
    assert props_problem(props) is None
    if law.finite:
        with pytest.raises(DeckError, match=f"{law.id} {law.name} is a finite-strain law"):
            parse_props(props, 1)
    else:
        assert np.array_equal(parse_props(props, 1)[0, : law.nprops], props)
    assert "needs" in props_problem(props[:-1]) and "needs" in props_problem(np.append(props, 0.0))
    k = 1
    for p in law.params:
        if p.check:
            bad = props.copy()
            bad[k] = BAD[p.check]
            msg = props_problem(bad)
            assert msg.startswith(f"{law.name} needs {p.key} ") and f"(got {bad[k]:g})" in msg
            if not law.finite:
                with pytest.raises(DeckError, match=rf"phase 0: {law.name} needs {p.key} "):
                    parse_props(bad, 1)
        k += p.size


@pytest.mark.parametrize("law", [law for law in LAWS if not law.finite], ids=lambda law: law.name)
def test_linear_and_isotropic_flags_hold(law):
    """``linear``: stress = C ε at any strain, tangent = C, state untouched.  ``isotropic``:
    frame indifference σ(Q ε) = Q σ(ε) (Mandel rotation Q), also past yield."""
    props = parse_phase(_spec(law)).props
    assert U.law_known(props)
    assert U.law_linear(props) == law.linear and U.law_isotropic(props) == law.isotropic
    C = np.empty((6, 6))
    U.elastic_stiffness(props, C)
    ns = max(law.nstate, 1)
    rng = np.random.default_rng(4)

    def update(eps):
        s, T, new = np.empty(6), np.empty((6, 6)), np.full(ns, 7.0)
        # dt = 1: the viscous laws flow too (dt = 0 is their elastic trial)
        assert U.phase_update(props, eps, np.zeros(ns), 1.0, 0.0, 0.0, s, T, new, _WS) == U.STATUS_OK
        return s, T, new

    eps = 2.0 * rng.normal(size=6)  # far past any yield stress of _spec (sy = 2, E = 2)
    s, T, new = update(eps)
    if law.linear:
        assert np.allclose(s, C @ eps, rtol=1e-14, atol=0) and np.array_equal(T, C)
    else:
        assert not np.allclose(s, C @ eps)  # the strain is past yield
    Q = rotation_mandel(rotation_from_euler(0.3, 1.2, -0.7))
    sq = update(Q @ eps)[0]
    assert np.allclose(sq, Q @ s, rtol=0, atol=1e-12 * np.abs(s).max()) == law.isotropic


def test_unknown_law_and_ids_outside_the_table():
    with pytest.raises(PhaseSpecError, match="unknown law 'foo'"):
        parse_phase("foo:E=1,nu=0.3")
    props = np.zeros(U.MAX_NPROPS)
    props[0] = len(LAWS)  # the first id not in the table
    assert U.law_nstate(props) == 0 and not U.law_known(props)
    assert not U.law_linear(props) and not U.law_isotropic(props)
    assert U.elastic_stiffness(props, np.empty((6, 6))) == U.STATUS_BADINPUT
    out = np.empty(6), np.empty((6, 6)), np.empty(1)
    assert U.phase_update(props, np.zeros(6), np.zeros(1), 0.0, 0.0, 0.0, *out, _WS) == U.STATUS_BADINPUT
    for lid in (len(LAWS), 0.5, -1):
        props[0] = lid
        assert "is not a law id (0 elastic, 1 aniso" in props_problem(props)


def test_layout_table_of_the_package_doc_matches_the_catalogue():
    doc = re.sub(r",\n\s+", ", ", laws_pkg.__doc__)  # a long row continues after a comma
    rows = {line.split()[0]: line.split() for line in doc.splitlines()
            if line.split() and line.split()[0] in {law.name for law in LAWS}}
    assert set(rows) == {law.name for law in LAWS}
    for law in LAWS:
        row = rows[law.name]
        assert int(row[1]) == law.id and int(row[-1]) == law.nstate
        if all(p.size == 1 for p in law.params):
            assert " ".join(row[2:-1]) == "[" + ", ".join([str(law.id), *law.keys]) + "]"


def test_materials_return_a_named_update():
    j2 = "j2:E=200,nu=0.3,sy=0.2,H=2"
    eps = np.array([[0.01, 0, 0, 0, 0, 0], [0.0001, 0, 0, 0, 0, 0]])
    one_leaf = Network(np.array([[-1, -1]]), np.zeros((1, 3)), np.array([1.0]), np.array([0]))
    regions = RegionMaterial([PhaseMaterial(j2)], np.zeros(2, dtype=int))
    for mat in (PhaseMaterial(j2), NetworkMaterial(one_leaf, [j2], threads=1), regions):
        r = mat.update(eps, mat.initial_state(2))
        assert isinstance(r, MaterialUpdate)
        stress, tangent, state, status = r  # still unpacks by position
        assert r.stress is stress and r.tangent is tangent and r.state is state and r.status is status
        assert r.stress.shape == (2, 6) and r.tangent.shape == (2, 6, 6) and np.all(r.status == 0)
        peeq = mat.fields(r.state)["peeq"]  # the catalogue's named state entry of j2
        assert peeq[0] > 0.0 and peeq[1] == 0.0
    assert PhaseMaterial("elastic:E=1,nu=0.3").fields(np.zeros((2, 1))) == {}
