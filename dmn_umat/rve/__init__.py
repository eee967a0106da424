"""rve stage of dmn_umat (see docs/design.md §1)."""
