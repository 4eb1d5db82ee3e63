import os

import pytest
import torch

# Test models are tiny: one thread avoids thread-pool overhead that dominates small tensor ops.
torch.set_num_threads(1)

# highway-env draws black frames under the dummy SDL driver; WorldSim's sources refuse to run with
# it. Tests that open pygame windows set it themselves, scoped to the test.
os.environ.pop("SDL_VIDEODRIVER", None)


@pytest.fixture(scope="session")
def driving_source():
    from worldsim.sources import make_source

    source = make_source("driving")
    yield source
    source.close()
