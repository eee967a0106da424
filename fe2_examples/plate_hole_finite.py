"""The plate with a hole stretched to 20 % nominal strain on total-Lagrangian finite-strain
elements: the shipped IMN with a finite J2 matrix and neo-Hookean particles (FE² at large
deformation), or one phase law with ``--phase``.

Same as ``dmn fe2 plate-hole-finite [options]``; extra arguments are passed on, e.g.::

    python fe2_examples/plate_hole_finite.py --size tiny --out results/plate-hole-finite
    python fe2_examples/plate_hole_finite.py --phase "j2:E=70000,nu=0.3,sy=250,H=70"
"""

import sys

from dmn_umat.cli import main

if __name__ == "__main__":
    sys.exit(main(["fe2", "plate-hole-finite", *sys.argv[1:]]))
