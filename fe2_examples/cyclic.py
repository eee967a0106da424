"""Plate with a hole under a displacement cycle +d, -d, +d (kinematic hardening).

Same as ``dmn fe2 cyclic [options]``; extra arguments are passed on, e.g.::

    python fe2_examples/cyclic.py --size fine --out results/cyclic
    python fe2_examples/cyclic.py --model MODEL.dmn --phase "j2:E=3000,nu=0.35,sy=60,H=300" \\
        --phase "elastic:E=72000,nu=0.22"
"""

import sys

from dmn_umat.cli import main

if __name__ == "__main__":
    sys.exit(main(["fe2", "cyclic", *sys.argv[1:]]))
