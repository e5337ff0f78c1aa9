"""`python -m tinymodels.knowledge`: check every knowledge file against the schema (run in lint)."""

import sys

from tinymodels.knowledge import main

sys.exit(main())
