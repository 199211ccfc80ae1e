"""``python -m emusify``: the same as the ``emusify`` command."""

import sys

from emusify.cli import main

sys.exit(main())
