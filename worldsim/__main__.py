"""`python -m worldsim ...`, and `torchrun --nproc-per-node N -m worldsim train ...`."""

import sys

from worldsim.cli import main

sys.exit(main())
