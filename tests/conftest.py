import os

import pytest
import torch
from tiny_models import tiny_train_config

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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """tiny_run(domain, steps=2): a tiny trained run directory on 4 short episodes, made once per
    (domain, steps) for the whole session; tests only read it."""
    from worldsim.data import CollectRequest, collect
    from worldsim.model.train import train

    runs = {}

    def make(domain: str, steps: int = 2):
        if (domain, steps) not in runs:
            root = tmp_path_factory.mktemp(f"tiny-{domain}")
            collect(CollectRequest(domain=domain, out=str(root / "data"), episodes=4, max_steps=8, seed=2), progress=False)
            train(tiny_train_config(root / "data", root / "run", steps, checkpoint_every=steps), progress=False)
            runs[domain, steps] = root / "run"
        return runs[domain, steps]

    return make
