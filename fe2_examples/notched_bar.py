"""3-D double-edge notched bar in tension (one eighth, hexahedra).

Same as ``dmn fe2 notched-bar [options]``; extra arguments are passed on, e.g.::

    python fe2_examples/notched_bar.py --size fine --out results/notched-bar
    python fe2_examples/notched_bar.py --model MODEL.dmn --phase "j2:E=3000,nu=0.35,sy=60,H=300" \\
        --phase "elastic:E=72000,nu=0.22"
"""

import sys

from dmn_umat.cli import main

if __name__ == "__main__":
    sys.exit(main(["fe2", "notched-bar", *sys.argv[1:]]))
