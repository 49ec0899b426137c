"""``python -m rnnkit`` runs the command-line interface."""

import sys

from rnnkit.cli import main

sys.exit(main())
