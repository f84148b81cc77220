"""``python -m napari_greentea.cli``: the ``greentea`` command."""

import sys

from . import main

sys.exit(main())
