"""Matched slots (worldsim.model.slots): a state is scored against the best order of the true
slots, and every state the model makes lists its cars nearest first, as highway-env does."""

import numpy as np
import pytest
import torch
from tiny_models import TINY

from worldsim.model.config import ModelConfig
from worldsim.model.slots import check_slots, slot_fields
from worldsim.model.world_model import WorldModel
from worldsim.sources.driving import driving_state_fields, nearest_first

FIELDS = [f.name for f in driving_state_fields(3)]
ANGLES = [f for f in FIELDS if f.endswith("heading")]


def model(matched: bool = True) -> WorldModel:
    config = ModelConfig(
        domain="driving",
        frame_size=32,
        action_space={"type": "discrete", "n": 5},
        state_fields=FIELDS,
        angle_fields=ANGLES,
        matched_slots=matched,
        **TINY,
    )
    torch.manual_seed(0)
    net = WorldModel(config)
    net.fit_state_normalisation(torch.from_numpy(states(64)))
    return net.eval()


def states(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.zeros((n, len(FIELDS)), np.float32)
    s[:, :5] = rng.normal([100, 4, 25, 0, 0], [50, 3, 3, 0.5, 0.05], (n, 5))
    for k in range(3):
        place, speed, heading = rng.normal(0, 20, (n, 2)), rng.normal(22, 2, n), rng.normal(0, 0.05, n)
        s[:, 5 + 6 * k : 11 + 6 * k] = np.c_[np.ones(n), place, speed, np.zeros(n), heading]
    return nearest_first(s, FIELDS)


def test_the_slots_of_highway_envs_state():
    assert slot_fields(FIELDS) == [list(range(5 + 6 * k, 11 + 6 * k)) for k in range(3)]
    check_slots(FIELDS)
    with pytest.raises(ValueError, match="at least two slots"):
        check_slots(FIELDS[:11])
    with pytest.raises(ValueError, match="the same parts"):
        check_slots(FIELDS[:-1])
    with pytest.raises(ValueError, match="matched_slots"):
        space = {"type": "discrete", "n": 2}
        ModelConfig(domain="robotics", frame_size=32, action_space=space, state_fields=["a", "b"], matched_slots=True)


def test_a_state_is_scored_against_the_best_order_of_the_true_slots():
    net = model()
    truth = net.normalise_state(torch.from_numpy(states(8)))
    swapped = net.normalise_state(torch.from_numpy(states(8)[:, np.r_[0:5, 11:17, 5:11, 17:23]]))  # car0 and car1 swapped
    assert torch.allclose(net.state_error(swapped, truth), torch.zeros(8), atol=1e-6)
    plain = model(matched=False)
    plain.load_state_dict(net.state_dict())
    assert (plain.state_error(swapped, truth) > 0.1).all()  # slot by slot, the swap is an error
    noisy = truth + 0.1 * torch.randn_like(truth)
    assert (net.state_error(noisy, truth) <= plain.state_error(noisy, truth) + 1e-6).all()


def test_every_state_the_model_makes_lists_its_cars_nearest_first():
    net = model()
    shuffled = states(16)[:, np.r_[0:5, 17:23, 5:11, 11:17]]
    code = net.wrap_state(net.normalise_state(torch.from_numpy(shuffled)))
    back = net.denormalise_state(code).numpy()
    np.testing.assert_allclose(back, nearest_first(shuffled, FIELDS), atol=1e-3)
    latent = net.initial(4)
    with torch.no_grad():
        stepped = net.imagine_step(latent, torch.nn.functional.one_hot(torch.tensor([1, 1, 3, 4]), 5).float(), None, 1.0)
    state = net.physical_state(stepped).numpy()
    np.testing.assert_allclose(state, nearest_first(state, FIELDS), atol=1e-4)
