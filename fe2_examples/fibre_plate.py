"""A short-fibre plate with the skin–core orientation field of an injection-moulded part: the
shipped orientation-aware IMN ``fibres32_pimn_d7`` (PA-like J2 matrix, glass fibres) evaluated at
each cell's A₂; also writes the mesh with its ``a2`` cell data and the same job as a CalculiX deck
through the UMAT (docs/fibres.md §5).

Same as ``dmn fe2 fibre-plate [options]``; extra arguments are passed on, e.g.::

    python fe2_examples/fibre_plate.py --size coarse --png-at 10,last --out results/fibre-plate
    cd results/fibre-plate && DMN_UMAT_MODEL_PLATE=fibres32_pimn_d7 dmn abi ccx -i fibre-plate
"""

import sys

from dmn_umat.cli import main

if __name__ == "__main__":
    sys.exit(main(["fe2", "fibre-plate", *sys.argv[1:]]))
