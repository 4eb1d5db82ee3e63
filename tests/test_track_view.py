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


def straight_road(right: float, heading_to_road: float = 0.0) -> np.ndarray:
    """Centre-line samples (right, ahead) of a straight road `right` u to the car's right, running
    `heading_to_road` rad to the left of the car's nose."""
    along = np.array([-np.sin(heading_to_road), np.cos(heading_to_road)])
    offsets = np.asarray(track_view.OFFSETS, dtype=float) * 3.5
    return (np.array([right, 0.0]) + offsets[:, None] * along).reshape(-1)


def car_prior_step(road: np.ndarray, speed: float, yaw_rate: float, heading: float = 0.3):
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import CarPrior

    fields = ["x", "y", "speed", "heading", "angular_velocity"] + track_view.field_names()
    state = torch.tensor([[5.0, 7.0, speed, heading, yaw_rate, *road]], dtype=torch.float64)
    out = CarPrior(fields)(state, torch.zeros(1, 3, dtype=torch.float64))[0].numpy()
    return out[5:].reshape(-1, 2), out[3] - heading


def test_car_prior_keeps_a_straight_road_under_a_car_driving_along_it():
    road = straight_road(right=1.5)
    moved, turned = car_prior_step(road, speed=40.0, yaw_rate=0.0)
    assert turned == 0.0
    # the samples ride along with the car's place on the line; the track coming into view beyond
    # the farthest bends by the track process's drift alone (CarRacing's loops turn left)
    np.testing.assert_allclose(moved[:-1], road.reshape(-1, 2)[:-1], atol=1e-9)
    np.testing.assert_allclose(moved[-1], road.reshape(-1, 2)[-1], atol=0.05)


def test_car_prior_turns_the_road_against_the_car_and_moves_it_across():
    road = straight_road(right=0.0)
    moved, turned = car_prior_step(road, speed=0.0, yaw_rate=2.0)  # turning on the spot
    assert turned > 0  # left
    # a point ahead is now to the car's right, at the same distance
    sample = road.reshape(-1, 2)[-1]
    np.testing.assert_allclose(moved[-1], [sample[1] * np.sin(turned), sample[1] * np.cos(turned)], atol=1e-9)
    # nose 0.5 rad to the right of a road ahead: driving forward brings the road towards the car's left
    angled = straight_road(right=0.0, heading_to_road=0.5)
    moved, _ = car_prior_step(angled, speed=40.0, yaw_rate=0.0)
    shift = moved - angled.reshape(-1, 2)
    across = np.array([np.cos(0.5), np.sin(0.5)])  # the road's normal, to its right
    # 1.6 u driven at 0.5 rad, less what the drag takes off the coasting car's speed (0.1 %); the
    # farthest sample is the track coming into view, bent by the track process's drift
    np.testing.assert_allclose((shift @ across)[:-1], -1.6 * np.sin(0.5), rtol=2e-3)


def test_car_prior_predicts_carracings_road_view_better_than_holding_it():
    torch = pytest.importorskip("torch")
    pytest.importorskip("gymnasium.envs.box2d.car_racing")
    from worldsim.behaviour import default_policy
    from worldsim.model.physics.games import CarPrior
    from worldsim.sources import make_source

    source = make_source("games", 64)
    try:
        fields = [f.name for f in source.state_fields]
        road = [fields.index(n) for n in track_view.field_names()]
        obs = source.reset(seed=3)
        policy = default_policy("games")
        policy.reset(np.random.default_rng(3), source)
        states, actions = [obs.state], []
        for t in range(80):  # the behaviour policy, then a hard left turn at a low gas
            action = policy.act(source, obs) if t < 40 else [-1.0, 0.3, 0.0]
            actions.append(np.asarray(action, dtype=np.float64))
            obs = source.step(actions[-1])
            states.append(obs.state)
    finally:
        source.close()
    states = np.asarray(states, dtype=np.float64)
    stepped = CarPrior(fields)(torch.tensor(states[:-1]), torch.tensor(np.asarray(actions))).numpy()
    held = np.sqrt(np.mean((states[:-1, road] - states[1:, road]) ** 2))
    predicted = np.sqrt(np.mean((stepped[:, road] - states[1:, road]) ** 2))
    assert predicted < 0.5 * held, (predicted, held)


def test_car_prior_slides_a_bend_towards_the_car_along_the_line():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import CarPrior

    # a straight line along +y that turns left into a bend of radius 30 at y = 0; the car on the
    # straight 10 u before the bend, nose along the line (heading 0), at 60 u/s
    straight = np.stack([np.zeros(18), np.arange(-17, 1) * 3.5], 1)
    angles = np.arange(1, 28) * 3.5 / 30
    bend = np.stack([30 * np.cos(angles) - 30, 30 * np.sin(angles)], 1)
    points = np.concatenate([straight, bend])
    fields = ["x", "y", "speed", "heading", "angular_velocity"] + track_view.field_names()
    view = track_view.centre_line_view(points, np.array([0.0, -10.0]), 0.0)
    state = torch.tensor([[0.0, -10.0, 60.0, 0.0, 0.0, *view]], dtype=torch.float64)
    out = CarPrior(fields)(state, torch.zeros(1, 3, dtype=torch.float64))[0].numpy()
    # the view from wherever the prior put the car equals the prior's slid samples (but the last,
    # which only continues the line straight), within what the samples' 7 u chords cut off the bend
    # (7^2 / (8 * 30) = 0.2 u); a prior that does not slide them is off by the bend's approach
    truth = track_view.centre_line_view(points, out[:2], out[3]).reshape(-1, 2)
    stepped = out[5:].reshape(-1, 2)
    error = np.abs(stepped[:-1] - truth[:-1]).max()
    held = np.abs(view.reshape(-1, 2)[:-1] - truth[:-1]).max()
    assert error < 0.25 and error < held / 5, (error, held)


def test_car_prior_keeps_a_bend_under_a_car_driving_it_off_the_centre_line():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import CarPrior

    # a bend of radius 20 (CarRacing's sharper ones) turning left, points 3.5 u apart; the car
    # drives it 3 u inside the centre line, its true motion given to the prior step by step
    radius, inside, steps = 20.0, 3.0, 20
    angles = np.arange(0, 32) * 3.5 / radius  # most of one turn, not closed: the car stays mid-way
    points = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    fields = ["x", "y", "speed", "heading", "angular_velocity"] + track_view.field_names()
    prior = CarPrior(fields).double()

    def car(k):  # on the circle of radius 20 - 3, 1 u of the centre line's arc per step
        a = 1.0 + k / radius
        return np.array([(radius - inside) * np.cos(a), (radius - inside) * np.sin(a)]), a  # nose along the arc

    where, heading = car(0)
    road = torch.tensor(track_view.centre_line_view(points, where, heading).reshape(1, -1, 2))
    for k in range(steps):
        (here, psi), (there, psi_next) = car(k), car(k + 1)
        step, along = prior.slide(road, torch.tensor(np.array([there - here])), torch.tensor([psi]))
        road = prior._road(road, step, along, torch.tensor([psi_next - psi]), None)
    truth = track_view.centre_line_view(points, *car(steps)).reshape(-1, 2)
    # the samples around the car were in view at the start (those ahead of them are laid by the
    # track's process since); the car's place on the line moved by 20 u of track, not by the
    # 17 u the car drove: its projection is what the samples ride with
    near = np.abs(road[0, :5].numpy() - truth[:5]).max()
    assert near < 1.0, near


def test_car_prior_keeps_the_road_samples_evenly_spaced():
    # samples of a straight road bunched to 3 u apart around the car's place (road+0 at the car):
    # one step later they lie the simulator's 7 u apart again, the car's place on the line kept
    offsets = np.asarray(track_view.OFFSETS, dtype=float)
    bunched = np.stack([np.zeros_like(offsets), offsets * 1.5], 1).reshape(-1)
    moved, _ = car_prior_step(bunched, speed=0.0, yaw_rate=0.0)
    np.testing.assert_allclose(moved[:, 1], offsets * 3.5, atol=1e-6)
    np.testing.assert_allclose(moved[:, 0], 0.0, atol=1e-6)


def test_car_prior_yaw_rate_is_bounded_by_the_grip():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import GRASS_GRIP, LATERAL_GRIP, CarPrior

    fields = ["x", "y", "speed", "heading", "angular_velocity", "wheels_off_track", "steering"]
    # 60 u/s at full left lock: the wheels ask for 60 tan(0.4) / 3.24 = 7.8 rad/s
    state = torch.tensor([[0.0, 0.0, 60.0, 0.0, 0.0, 0.0, 0.4], [0.0, 0.0, 60.0, 0.0, 0.0, 4.0, 0.4]], dtype=torch.float64)
    prior = CarPrior(fields)
    for _ in range(20):
        state = prior(state, torch.tensor([[-1.0, 0.0, 0.0]] * 2, dtype=torch.float64))
        state[:, 2] = 60.0
    # (within what the drag takes off the speed inside a step)
    np.testing.assert_allclose(state[:, 4].numpy(), [LATERAL_GRIP / 60, GRASS_GRIP * LATERAL_GRIP / 60], rtol=5e-3)


def test_car_prior_constrain_keeps_a_dream_state_feasible():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import MAX_TRACK_TURN, CarPrior

    fields = ["x", "y", "speed", "heading", "angular_velocity", "wheels_off_track", "progress"] + track_view.field_names()
    road = straight_road(right=2.0).reshape(-1, 2)
    wild = road.copy()
    wild[-1] = [60.0, 10.0]  # the learned farthest sample thrown far to the right
    state = torch.tensor(
        [[0.0, 0.0, -3.0, 0.0, 0.0, 5.0, 1.2, *road.reshape(-1)], [0.0, 0.0, 20.0, 0.0, 0.0, 2.0, 0.5, *wild.reshape(-1)]]
    )
    out = CarPrior(fields).constrain(state).numpy()
    np.testing.assert_allclose(out[:, 2], [0.0, 20.0])
    np.testing.assert_allclose(out[:, 5:7], [[4.0, 1.0], [2.0, 0.5]])
    np.testing.assert_allclose(out[0, 7:], road.reshape(-1), atol=1e-5)  # a sample on the line stays
    samples = out[1, 7:].reshape(-1, 2)
    np.testing.assert_allclose(samples[:-1], wild[:-1], atol=1e-6)
    last = samples[-1] - samples[-2]
    assert abs(np.linalg.norm(last) - 7.0) < 1e-4
    turn = np.arctan2(last[0], last[1])  # to the right of the straight road ahead (+ahead)
    assert abs(turn - MAX_TRACK_TURN) < 1e-4


def test_car_prior_speed_on_the_road_and_on_the_grass():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import CarPrior

    fields = ["x", "y", "speed", "heading", "angular_velocity", "wheels_off_track"]
    prior = CarPrior(fields)

    def after(speed: float, off: float, action: list[float], steps: int = 50) -> float:
        state = torch.tensor([[0.0, 0.0, speed, 0.0, 0.0, off]], dtype=torch.float64)
        for _ in range(steps):
            state = prior(state, torch.tensor([action], dtype=torch.float64))
        return float(state[0, 2])

    # full gas on the road: the engine fades towards its top speed (70 u/s) and never passes it
    assert 40 < after(0.0, 0, [0.0, 1.0, 0.0]) < after(0.0, 0, [0.0, 1.0, 0.0], steps=200) < 70
    # on the grass the wheels spin: full gas holds ~27 u/s, slowing a faster car and speeding a slower one
    assert 20 < after(45.0, 4, [0.0, 1.0, 0.0]) < 45 and 5 < after(5.0, 4, [0.0, 1.0, 0.0]) < 27
    # coasting loses little on the road; the brake stops the car sooner there than on the grass
    assert 39 < after(40.0, 0, [0.0, 0.0, 0.0], steps=10) < 40
    assert after(40.0, 0, [0.0, 0.0, 1.0], steps=3) < after(40.0, 4, [0.0, 0.0, 1.0], steps=3)
    assert after(40.0, 0, [0.0, 0.0, 1.0], steps=10) == 0.0


def bend_ahead(turn: float) -> np.ndarray:
    """(K, 2) road samples 7 u apart, straight ahead through the car, each chord after the car's
    turning `turn` rad left of the one before: a bend of constant curvature."""
    points, angle = [np.array([0.0, -14.0])], np.pi / 2
    for k in range(len(track_view.OFFSETS) - 1):
        angle += turn if k >= 2 else 0.0
        points.append(points[-1] + 7.0 * np.array([np.cos(angle), np.sin(angle)]))
    return np.stack(points)


def test_car_prior_lays_the_track_coming_into_view_whatever_the_wheel():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import TRACK_EASE, TRACK_KICK, CarPrior, chord_turns

    fields = ["x", "y", "speed", "heading", "angular_velocity", "steering"] + track_view.field_names()
    road = bend_ahead(0.2)
    state = torch.tensor([[5.0, 7.0, 40.0, 0.3, 0.0, 0.0, *road.reshape(-1)]], dtype=torch.float64).expand(3, -1)
    steer = torch.tensor([[-1.0, 0.5, 0.0], [0.0, 0.5, 0.0], [1.0, 0.5, 0.0]], dtype=torch.float64)
    prior = CarPrior(fields)
    assert prior.NOISY == ("road+12_right", "road+12_ahead")

    def farthest_turn(noise):
        out = prior(state, steer, noise)
        return chord_turns(out[:, 6:].reshape(3, -1, 2))[:, -1].numpy()

    def draws(begin, side):  # standard normal draws: whether a bend begins, then its side and kick
        return torch.tensor([[begin, side]], dtype=torch.float64).expand(3, -1)

    calm = farthest_turn(None)
    # the wheel does not bend the road: left, straight and right lay the same track
    np.testing.assert_allclose(calm, calm[1], atol=2e-3)
    # with no bend beginning, the farthest turn eases off with the chords driven
    driven = 40.0 * 0.04 / 7.0
    np.testing.assert_allclose(calm, 0.2 * TRACK_EASE**driven, atol=0.01)
    np.testing.assert_allclose(farthest_turn(draws(3.0, 0.0)), calm, atol=1e-9)  # the draw says no bend
    # a bend begins: a draw low on the second number kicks it left by the kick's low end, one at
    # the top right by its high end (the turn stays within CarRacing's sharpest)
    low, high = TRACK_KICK
    np.testing.assert_allclose(farthest_turn(draws(-4.0, -6.0)), np.minimum(calm + low, 0.62), atol=0.01)
    np.testing.assert_allclose(farthest_turn(draws(-4.0, 6.0)), calm - high, atol=0.01)
    # a standing car brings no track into view: its road is left as it was, whatever the draws
    state_still = state.clone()
    state_still[:, 2] = 0.0
    state_still.requires_grad_(True)
    still = prior(state_still, torch.zeros(3, 3, dtype=torch.float64), draws(-4.0, 0.0))
    np.testing.assert_allclose(still[:, 6:].detach().numpy(), state_still[:, 6:].detach().numpy(), atol=1e-6)
    # and trains through
    still.sum().backward()
    assert torch.isfinite(state_still.grad).all()


def test_chord_turns_measure_left_turns_positive():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import chord_turns

    turns = chord_turns(torch.tensor(bend_ahead(0.3))[None])[0].numpy()
    np.testing.assert_allclose(turns, [0.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], atol=1e-9)


def test_car_prior_reads_carracings_reward_off_the_step():
    torch = pytest.importorskip("torch")
    from worldsim.model.physics.games import REWARD_PER_UNIT, STEP_COST, CarPrior

    fields = ["x", "y", "speed", "heading", "angular_velocity"] + track_view.field_names()
    prior = CarPrior(fields)
    gas = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)

    def paid(road, speed, action=gas):
        before = torch.tensor([[0.0, 0.0, speed, 0.0, 0.0, *road]], dtype=torch.float64)
        return float(prior.reward(before, prior(before, action)))

    # along the road at 40 u/s: the 1.6 u of track driven over (and a little gas), less the time
    assert abs(paid(straight_road(right=1.0), 40.0) - (REWARD_PER_UNIT * 1.61 - STEP_COST)) < 0.02
    assert paid(straight_road(right=1.0), 0.0, torch.zeros(1, 3, dtype=torch.float64)) == -STEP_COST  # standing: the time
    assert paid(straight_road(right=20.0), 40.0) == pytest.approx(-STEP_COST)  # on the grass
    backwards = straight_road(right=1.0, heading_to_road=np.pi)
    assert paid(backwards, 40.0) == pytest.approx(-STEP_COST)  # against the track's direction
    # driving across the road (from its centre line, where the car's place on it is) pays only
    # what the car advances along it
    across = paid(straight_road(right=0.0, heading_to_road=np.pi / 3), 40.0)
    assert abs(across - (REWARD_PER_UNIT * 1.61 * np.cos(np.pi / 3) - STEP_COST)) < 0.02
