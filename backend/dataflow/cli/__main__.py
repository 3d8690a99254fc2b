"""`python -m dataflow.cli`: the same as the `dataflow` command."""

import sys

from dataflow.cli import main

sys.exit(main())
