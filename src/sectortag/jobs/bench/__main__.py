"""`python -m sectortag.jobs.bench`: run the benchmark (see the package docstring)."""

import sys

from .run import main

sys.exit(main())
