"""abi stage of dmn_umat (see DESIGN §1)."""
