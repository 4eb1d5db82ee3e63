"""scripts/cars_on_the_ego.py: a car on the ego, the camera's view, the simulator's slots changing
cars, and the whole count on a tiny highway-env model."""

import sys

import numpy as np
import pytest
from driving_states import FIELDS
from driving_states import driving_state as state
from script_modules import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("scripts/cars_on_the_ego.py")


def test_a_car_is_on_the_ego_only_where_its_box_meets_the_ego(script):
    states = np.stack(
        [
            state(car0_present=1, car0_dx=3.0, car0_dy=1.0),  # within a length and a width
            state(car0_present=1, car0_dx=6.0, car0_dy=0.0),  # a car length ahead and more
            state(car0_present=1, car0_dx=0.0, car0_dy=2.5),  # the next lane
            state(car0_present=0, car0_dx=0.0, car0_dy=0.0),  # an absent slot's zeros
            state(car0_present=1, car0_dx=30.0, car1_present=1, car1_dx=-2.0, car1_dy=-0.5),  # the second slot
        ]
    )
    assert script.on_the_ego(states, FIELDS, 2).tolist() == [True, False, False, False, True]


def test_the_view_reaches_as_far_as_the_camera_shows_any_part_of_a_car(script):
    # highway-env's camera: 40 m wide, the ego 30 % from its left edge, so 12 m behind and 28 m
    # ahead are in the frame, and a car half a length (2.5 m) past either edge still shows.
    dx = np.array([-14.0, -15.0, 30.0, 31.0, 0.0, 0.0])
    dy = np.array([0.0, 0.0, 0.0, 0.0, 22.0, 23.0])
    assert script.in_view(dx, dy).tolist() == [True, False, True, False, True, False]


def test_cars_between_lanes_are_counted_where_the_camera_shows_them(script):
    states = np.stack(
        [
            state(ego_y=4.0, car0_present=1, car0_dx=10.0, car0_dy=-2.0, car1_present=1, car1_dx=10.0, car1_dy=4.3),
            state(ego_y=4.0, car0_present=1, car0_dx=60.0, car0_dy=2.0, car1_present=0, car1_dy=2.0),  # out of view; absent
        ]
    )
    assert script.off_lane(states, FIELDS, 2).tolist() == [True, False]  # 2 m between lanes; 0.3 m off one


def test_slots_that_swap_cars_are_counted_and_steady_ones_are_not(script):
    # A car 12 m behind closing at 5 m/s passes a car 10 m ahead in distance: listed nearest
    # first, the slots swap, and matching the cars as they moved finds it.
    swap = [
        state(car0_present=1, car0_dx=10.0, car0_vx=20.0, car1_present=1, car1_dx=-12.0, car1_vx=25.0, ego_vx=20.0),
        state(car0_present=1, car0_dx=-7.0, car0_vx=25.0, car1_present=1, car1_dx=10.0, car1_vx=20.0, ego_vx=20.0),
    ]
    steady = [
        state(car0_present=1, car0_dx=5.0, car0_vx=20.0, car1_present=1, car1_dx=20.0, car1_vx=20.0, ego_vx=20.0),
    ] * 3
    assert script.reordered([np.stack(swap)], FIELDS, 2) == (1.0, 1.0)
    assert script.reordered([np.stack(steady)], FIELDS, 2) == (0.0, 0.0)
    assert script.reordered([np.stack(swap), np.stack(steady)], FIELDS, 2) == (pytest.approx(1 / 3), pytest.approx(1 / 3))


def test_the_count_runs_on_a_tiny_model_and_refuses_another_domain(script, tiny_run, monkeypatch, capsys):
    run = tiny_run("driving")
    monkeypatch.setattr(sys, "argv", ["cars_on_the_ego.py", str(run), "--data", str(run.parent / "data"), "--threads", "1"])
    script.main()
    out = capsys.readouterr().out
    lines = ("a car's box on the ego's", "ego found in the dream's frames", "car0:", "cars matched", "off every lane centre")
    for line in (*lines, "slots change cars"):
        assert line in out
    monkeypatch.setattr(sys, "argv", ["cars_on_the_ego.py", str(tiny_run("robotics")), "--threads", "1"])
    with pytest.raises(SystemExit):
        script.main()
    assert "counts highway-env's cars" in capsys.readouterr().err
