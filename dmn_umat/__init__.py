"""dmn_umat — Deep Material Networks (DMN) and Interaction-based Material Networks (IMN)
as surrogate constitutive laws for multiscale (FE²) solid mechanics."""

__version__ = "0.1.0"
