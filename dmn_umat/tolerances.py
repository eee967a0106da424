"""Convergence floors shared by every solver (docs/design.md §2): the one place for them.

A relative convergence test compares a residual with a reference that can be exactly zero (a
point or an RVE driven back to zero strain, a zero load increment).  Every solver therefore
floors its reference with a physical scale: the stress (or force) that a strain of
:data:`EPS_REF` produces in the stiffest phase direction.  Used by the network kernel
(:mod:`dmn_umat.online.kernel`), the FFT DNS (:mod:`dmn_umat.rve.fft`) and the FE Newton
(:mod:`dmn_umat.fe.solver`); the measured margins are in ``docs/online.md``.
"""

#: Strain below which convergence tests stop being relative (dimensionless).
EPS_REF = 1e-6
