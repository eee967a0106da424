"""Composite (or J2) plate with a central hole in plane-strain tension (quarter model, quads).

Same as ``dmn fe2 plate-hole [options]``; extra arguments are passed on, e.g.::

    python fe2_examples/plate_hole.py --size fine --out results/plate-hole
    python fe2_examples/plate_hole.py --model MODEL.dmn --phase "j2:E=3000,nu=0.35,sy=60,H=300" \\
        --phase "elastic:E=72000,nu=0.22"
"""

import sys

from dmn_umat.cli import main

if __name__ == "__main__":
    sys.exit(main(["fe2", "plate-hole", *sys.argv[1:]]))
