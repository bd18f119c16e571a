"""`python -m mpc` is `mpc`."""

import sys

from mpc.cli import main

sys.exit(main())
