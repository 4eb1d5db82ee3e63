"""The track's centre line as seen from CarRacing's car (worldsim.sources.track_view)."""

import numpy as np
import pytest

from worldsim.sources import track_view


def square_track(side=40.0, step=2.0):
    """A closed square polyline, counter-clockwise, points `step` apart."""
    edge = np.arange(0.0, side, step)
    return np.concatenate(
        [
            np.stack([edge, np.zeros_like(edge)], 1),
            np.stack([np.full_like(edge, side), edge], 1),
            np.stack([side - edge, np.full_like(edge, side)], 1),
            np.stack([np.zeros_like(edge), side - edge], 1),
        ]
    )


def test_projected_index_is_fractional_and_wraps():
    points = square_track()
    assert track_view.projected_index(points, np.array([3.0, 0.5])) == pytest.approx(1.5)
    assert track_view.projected_index(points, np.array([-0.5, 1.0])) == pytest.approx(len(points) - 0.5)


def test_view_in_the_cars_frame():
    points = square_track()
    # On the bottom edge at x = 10, nose along +x: CarRacing's heading 0 points +y, so -pi/2 points +x.
    view = track_view.centre_line_view(points, np.array([10.0, 1.0]), -np.pi / 2, offsets=(0, 2)).reshape(-1, 2)
    # the centre line lies 1 u to the car's right; 2 points (4 u) ahead of its place on the line
    np.testing.assert_allclose(view, [[1.0, 0.0], [1.0, 4.0]], atol=1e-5)


def test_samples_ride_along_on_a_straight_and_change_smoothly():
    points = square_track()
    views = [track_view.centre_line_view(points, np.array([x, 0.3]), -np.pi / 2) for x in np.linspace(8.0, 12.0, 41)]
    # the straight part of the view (up to 12 points = 24 u ahead reaches the corner at x = 40 only
    # from x > 16) stays put while the car drives
    np.testing.assert_allclose(np.std(views, axis=0), 0.0, atol=1e-5)
    # and crossing a track point moves nothing by a jump when the car drifts sideways
    drift = np.array([track_view.centre_line_view(points, np.array([11.0, y]), -np.pi / 2) for y in np.linspace(-1, 1, 21)])
    assert np.abs(np.diff(drift, axis=0)).max() < 0.2


def test_field_names_match_the_view():
    assert len(track_view.field_names()) == 2 * len(track_view.OFFSETS)
    assert track_view.field_names()[:2] == ["road-4_right", "road-4_ahead"]


def test_car_prior_moves_the_grass_phases_with_the_car():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import CarPrior

    fields = ["x", "y", "speed", "heading", "angular_velocity", "wheels_off_track", "progress", "steering"]
    prior = CarPrior(fields + ["grass_x_phase", "grass_y_phase", "road+0_right"])
    x, y = 10.0, 32.0
    phases = [2 * np.pi * v / track_view.GRASS_PERIOD for v in (x, y)]
    # 40 u/s, nose along -x (heading +pi/2), no input: 2 frames of 20 ms move x by -1.6 u
    state = torch.tensor([[x, y, 40.0, np.pi / 2, 0.0, 0.0, 0.0, 0.0, *np.angle(np.exp(1j * np.array(phases))), 3.0]])
    out = prior(state.float(), torch.zeros(1, 3))[0].numpy()
    expected = np.angle(np.exp(2j * np.pi * out[:2] / track_view.GRASS_PERIOD))
    np.testing.assert_allclose(out[0], x - 1.6, atol=1e-3)
    np.testing.assert_allclose(out[8:10], expected, atol=1e-4)
    assert out[10] == 3.0  # the road view is left to the learned dynamics


def test_grass_period_is_carracings_pattern():
    car_racing = pytest.importorskip("gymnasium.envs.box2d.car_racing")
    # squares GRASS_DIM wide at every other multiple of GRASS_DIM
    assert track_view.GRASS_PERIOD == pytest.approx(2 * car_racing.GRASS_DIM)
