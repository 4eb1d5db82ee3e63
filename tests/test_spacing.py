"""Generated driving scenes spaced along their lanes (`worldsim.model.spacing`)."""

import numpy as np
import pytest
import torch
from driving_states import FIELDS, driving_state

from worldsim.model.checkpoint import load_model
from worldsim.model.crash import cars_stacked
from worldsim.model.spacing import SPACING_M, spaced_in_lanes, spread_apart


def test_spread_apart_moves_close_positions_apart_by_as_little_as_it_can():
    assert spread_apart(np.array([33.0, 36.0]), np.ones(2), 20.0).tolist() == [24.5, 44.5]  # about their middle
    assert spread_apart(np.array([-40.0, 0.0, 30.0]), np.ones(3), 20.0).tolist() == [-40.0, 0.0, 30.0]  # already apart
    anchored = spread_apart(np.array([10.0, 15.0]), np.array([1000.0, 1.0]), 20.0)
    assert anchored[0] == pytest.approx(10.0, abs=0.02) and anchored[1] - anchored[0] == pytest.approx(20.0)
    three = spread_apart(np.array([0.0, 1.0, 2.0]), np.ones(3), 20.0)
    assert np.diff(three) == pytest.approx([20.0, 20.0]) and three.mean() == pytest.approx(1.0)


def test_stacked_cars_are_spaced_and_the_rest_of_the_state_is_kept():
    states = np.stack(
        [
            # the ego lane: the car ahead at 12 m stays (a prompt's gap), the one stacked behind it moves on
            driving_state(ego_vx=25, car0_present=1, car0_dx=12.0, car0_vx=20, car1_present=1, car1_dx=15.0, car1_vx=21),
            # the lane to the left: two cars on top of each other move apart about their middle
            driving_state(car0_present=1, car0_dx=30.0, car0_dy=-4.0, car1_present=1, car1_dx=31.0, car1_dy=-4.0),
            # a real queue, a lane apart, and an absent slot: nothing to do
            driving_state(car0_present=1, car0_dx=30.0, car1_present=1, car1_dx=55.0),
            driving_state(car0_present=1, car0_dx=30.0, car1_present=1, car1_dx=32.0, car1_dy=4.0),
            driving_state(car0_present=1, car0_dx=30.0, car1_present=0, car1_dx=31.0),
        ]
    )
    spaced = spaced_in_lanes(states, FIELDS)
    assert cars_stacked(spaced, FIELDS).tolist() == [False] * 5
    dx = lambda k: spaced[:, FIELDS.index(f"car{k}_dx")]  # noqa: E731
    assert dx(0)[0] == pytest.approx(12.0, abs=0.05) and dx(1)[0] == pytest.approx(12.0 + SPACING_M, abs=0.05)
    assert dx(0)[1] + dx(1)[1] == pytest.approx(61.0) and dx(1)[1] - dx(0)[1] == pytest.approx(SPACING_M)
    assert np.array_equal(spaced[2:], states[2:])
    moved = [FIELDS.index(f"car{k}_dx") for k in range(2)]
    kept = np.ones(len(FIELDS), bool)
    kept[moved] = False
    assert np.array_equal(spaced[:, kept], states[:, kept])  # speeds, lanes, presence, the ego: as they were
    with pytest.raises(ValueError, match="layout"):
        spaced_in_lanes(states, FIELDS[::-1])


def test_a_generated_driving_start_is_spaced_before_its_cars_are_listed(tiny_run):
    from worldsim.model.scene import as_simulated

    model = load_model(tiny_run("driving"))[0]
    fields = model.config.state_fields
    state = torch.zeros(1, len(fields))
    state[0, fields.index("ego_y")] = 4.0  # the middle lane
    for slot, dx in {"car0": 33.0, "car1": 36.0}.items():  # stacked in the ego's lane
        state[0, fields.index(f"{slot}_present")], state[0, fields.index(f"{slot}_dx")] = 1.0, dx
    _, h, z = model.split(torch.randn(1, model.config.latent_dim))
    made = model.physical_state(as_simulated(model, torch.cat([model.normalise_state(state), h, z], -1)))
    dx = made[0, [fields.index("car0_dx"), fields.index("car1_dx")]]
    assert dx[0] == pytest.approx(33.0, abs=0.05) and dx[1] == pytest.approx(33.0 + SPACING_M, abs=0.05)
    assert not cars_stacked(made.numpy(), fields).any()
