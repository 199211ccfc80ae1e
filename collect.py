#!/usr/bin/env python3
"""Record your own face's landmark samples for one emotion: same as ``emusify collect``."""

import sys

from emusify.cli import main

if __name__ == "__main__":
    sys.exit(main(["collect", *sys.argv[1:]]))
