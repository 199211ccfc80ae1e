"""Train an emotion model: the same as ``emusify train`` (see ``emusify train --help``).

The shipped default model was made from the project directory with::

    .venv/bin/python train.py --images ../shared/data/fer2013/train --out models/default --seed 0
"""

import sys

from emusify.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
