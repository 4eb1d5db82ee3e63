"""A camera's painted ground: the field, squares and road where the state puts them, the decoder's
pixels kept in the keep boxes, bad specs named, and CarRacing's own frames matched."""

import numpy as np
import pytest
import torch

from worldsim.model.ego_view import check_view
from worldsim.model.painted_ground import PaintedGround

FIELDS = ["heading", "gx", "gy", "p0_right", "p0_ahead", "p1_right", "p1_ahead"]
PAINT = {"ground": [0, 200, 0], "squares": [0, 250, 0], "road": [100, 100, 100], "road_half_width": 2.0}
VIEW = {
    "scale": [16.0, 16.0],  # a 32-pixel frame: one pixel per unit
    "origin": [0.0, 0.0],
    "heading": "heading",
    "ground": {"phases": ["gx", "gy"], "period": 8.0},
    "path": [["p0_right", "p0_ahead"], ["p1_right", "p1_ahead"]],
    "paint": {**PAINT, "keep": [[-0.25, -0.25, 0.25, 0.25]]},
}


def state(heading=0.0, gx=0.0, gy=0.0, path=((0.0, -1.0), (0.0, 1.0))):
    return torch.tensor([[heading, gx, gy, *path[0], *path[1]]])


def pixel(right: float, ahead: float) -> tuple[int, int]:
    """The (row, column) of the 32-pixel frame at a place in the body's frame (one unit per pixel)."""
    return int(16 - ahead), int(16 + right)


def test_the_road_follows_the_path_and_goes_on_past_its_ends():
    paint = PaintedGround(VIEW, FIELDS, 32)
    road, squares, tiles = paint.shares(state())
    assert road.shape == squares.shape == (1, 1, 32, 32) and tiles == {}  # no tiles: one grey
    assert road[0, 0][pixel(0.5, 12)] == 1  # past the path's last point: carried on along it
    assert road[0, 0][pixel(1.5, -12)] == 1  # and behind the first
    assert road[0, 0][pixel(6.5, 0)] == 0
    # the road's edge (2 units from the centre line) falls on a pixel edge: whole pixels either side
    assert float(road[0, 0][pixel(1.5, 0)]) == pytest.approx(1) and float(road[0, 0][pixel(2.5, 0)]) == pytest.approx(0)
    # moved half a pixel across, the edge splits a pixel in two
    half = paint.shares(state(path=((0.5, -1.0), (0.5, 1.0))))[0]
    assert half[0, 0][pixel(2.5, 0)] == pytest.approx(0.5)


def test_the_squares_cover_the_first_half_of_each_period_along_both_axes():
    paint = PaintedGround(VIEW, FIELDS, 32)
    far = ((-100.0, -1.0), (-100.0, 1.0))  # no road in view
    squares = paint.shares(state(path=far))[1][0, 0]
    # phases 0: the body sits on a square's corner; the square spans 0..4 units along world x and y
    assert squares[pixel(1.5, 1.5)] == 1 and squares[pixel(5.5, 1.5)] == 0 and squares[pixel(-1.5, 1.5)] == 0
    assert squares[pixel(1.5, 5.5)] == 0 and squares[pixel(9.5, 9.5)] == 1
    # the body moved 4 units along world x (a phase of pi): the squares shift under it
    moved = paint.shares(state(gx=torch.pi, path=far))[1][0, 0]
    assert moved[pixel(1.5, 1.5)] == 0 and moved[pixel(-2.5, 1.5)] == 1
    # turned a quarter left, the body faces world -x and its right is world +y
    turned = paint.shares(state(heading=torch.pi / 2, path=far))[1][0, 0]
    assert float(turned[pixel(1.5, -1.5)]) == pytest.approx(1) and float(turned[pixel(1.5, 1.5)]) == pytest.approx(0)
    # a square's edge through a pixel's middle shares it
    half = paint.shares(state(gx=2 * torch.pi * 0.5 / 8, path=far))[1][0, 0]
    assert half[pixel(3.5, 1.5)] == pytest.approx(0.5)


def test_the_paint_goes_over_the_frame_but_not_the_keep_boxes():
    paint = PaintedGround(VIEW, FIELDS, 32)
    frames = torch.rand(1, 3, 32, 32)
    out = paint(frames, state())
    kept = torch.zeros(32, 32, dtype=torch.bool)
    kept[12:20, 12:20] = True  # the box -0.25..0.25 of a 32-pixel frame: pixels 12..19
    assert torch.equal(out[..., kept], frames[..., kept])
    road = torch.tensor(PAINT["road"]) / 255
    assert torch.allclose(out[0, :, 4, 16], road)  # on the road ahead
    for place, colour in (((5.5, 1.5), "ground"), ((9.5, 9.5), "squares")):
        assert torch.allclose(out[0, :, pixel(*place)[0], pixel(*place)[1]], torch.tensor(PAINT[colour]) / 255)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"road": [0, 0, 300]}, "paint road must be an"),
        ({"road_half_width": 0}, "road_half_width must be a positive"),
        ({"keep": [[0.5, 0.0, 0.1, 1.0]]}, "keep must be"),
        ({"texture": 1}, "paint is a dict of"),
    ],
)
def test_bad_paint_is_named(change, message):
    with pytest.raises(ValueError, match=message):
        check_view({**VIEW, "paint": {**PAINT, **change}}, FIELDS, ["heading", "gx", "gy"])
    without_path = {k: v for k, v in VIEW.items() if k != "path"}
    with pytest.raises(ValueError, match="paint needs the view's ground phases and path"):
        check_view(without_path, FIELDS, ["heading", "gx", "gy"])


def test_a_painting_camera_keeps_the_decoders_dashboard_unless_the_state_paints_it():
    from test_ego_view import tiny_games_config

    from worldsim.model.world_model import WorldModel
    from worldsim.sources.games import camera

    torch.manual_seed(0)
    painted = WorldModel(tiny_games_config(camera(fields=False)))
    torch.manual_seed(0)
    plain = WorldModel(tiny_games_config(camera(paint=False)))
    plain.load_state_dict(painted.state_dict())
    latents = painted.initial(2)
    blank = torch.zeros(2, 3, 32, 32)
    a, b = painted.draw(latents, blank), plain.draw(latents, blank)
    kept = painted.painted_ground.painted[0, 0] == 0  # the dashboard's
    assert kept[28:].all() and not kept[:28].any()
    assert torch.equal(a[..., kept], b[..., kept]) and not torch.equal(a[..., ~kept], b[..., ~kept])
    car = painted.painted_ground.car  # painted red where its hull covers most of a pixel
    most = int(car.hull.argmax())
    row, column = car.rows[0] + most // car.hull.shape[1], car.cols[0] + most % car.hull.shape[1]
    assert (a[:, 0, row, column] > a[:, 1, row, column] + 0.3).all()
    # with the fields the dashboard shows, it is painted too: the frame no longer depends on the decoder
    torch.manual_seed(1)
    one = WorldModel(tiny_games_config(camera()))
    torch.manual_seed(2)
    other = WorldModel(tiny_games_config(camera()))
    assert (one.painted_ground.painted == 1).all()
    assert torch.equal(one.draw(one.initial(2), blank), other.draw(other.initial(2), blank))


def test_carracing_ground_is_painted_as_the_simulator_draws_it():
    """Painted from the simulator's own state, the field, squares, road, tiles, kerbs, car and
    dashboard match CarRacing's frames to within 10 grey levels on nearly every pixel (parts of the
    track the state's points do not reach are not painted), the car's window on most, and the
    printed score on all but a level's rounding."""
    from worldsim.behaviour import default_policy
    from worldsim.sources import make_source
    from worldsim.sources.games import STATE_FIELDS, camera

    paint = PaintedGround(camera(), [f.name for f in STATE_FIELDS], 64)
    source, policy = make_source("games"), default_policy("games")
    obs = source.reset(seed=4)
    policy.reset(np.random.default_rng(4), source)
    close, car, score, tiles, dashboard = [], [], [], [], []
    (r0, r1), (c0, c1) = paint.car.box
    (s0, s1), (t0, t1) = paint.score.box
    for step in range(60):
        obs = source.step(policy.act(source, obs))
        if step % 10:
            continue
        frame = torch.from_numpy(np.array(obs.frame)).permute(2, 0, 1)[None].float()
        drawn = paint(torch.zeros_like(frame), torch.from_numpy(obs.state)[None]) * 255
        where = paint.painted[0, 0].bool()
        off = (drawn.round() - frame).abs().amax(1)[0]
        close.append(float((off[where] <= 10).float().mean()))
        car.append(float((off[r0:r1, c0:c1] <= 10).float().mean()))
        score.append(float(off[s0:s1, t0:t1].max()))
        dashboard.append(float((off[paint.dashboard.row :] <= 10).float().mean()))
        grey = frame[0, 0]
        road = ((frame[0, 0] - frame[0, 1]).abs() < 3) & (grey > 95) & (grey < 110)
        tiles.append(float((off[road] <= 1).float().mean()))
    # the frames mirrored, or the squares half a period off, score about 0.6; the car counted on a
    # finer grid instead of filled as pygame fills it, 0.88 in its window
    assert np.mean(close) > 0.95 and np.mean(car) > 0.92, (close, car)
    assert max(score) <= 2, score
    # the dashboard's bars (speed, the wheels' spin rates, steering, yaw rate) from the state; its
    # strip left to the decoder, 0.6-0.8
    assert min(dashboard) > 0.95, dashboard
    # the road's grey to a level: its tiles' shades (100, 102, 105) painted by the state's tile phase
    # (0.82 here; a tile off, 0.12-0.16)
    assert np.mean(tiles) > 0.7, tiles


def test_the_car_is_painted_at_its_place_and_its_front_wheels_turn():
    from worldsim.model.painted_car import PaintedCar
    from worldsim.sources.games import STATE_FIELDS, camera

    view = camera()
    names = [f.name for f in STATE_FIELDS]
    car = PaintedCar(view, names, 64)
    assert car.hull.max() == 1 and 0 < car.hull.sum() < 20  # a few pixels of a 64-pixel frame
    left, right = car.wheels[0], car.wheels[-1]  # the wheels at the steering's two ends
    assert not torch.equal(left, right)
    assert float(left.sum()) == pytest.approx(float(right.sum()), rel=0.05)  # turned, not grown
    state = torch.zeros(2, len(names))
    state[:, names.index("steering")] = torch.tensor([-0.42, 0.42])
    frames = car(torch.ones(2, 3, 64, 64), state)  # white: the black wheels show
    (r0, r1), (c0, c1) = car.rows, car.cols
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[r0:r1, c0:c1] = False
    assert (frames[..., outside] == 1).all()  # nothing painted outside the car's window
    assert not torch.equal(frames[0], frames[1])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hull": [[[0, 0], [1, 0]]]}, "at least three"),
        ({"wheel_half_size": [0.1, -1]}, "two positive numbers"),
        ({"steered": [7]}, "must index its wheels"),
        ({"hull_colour": [0, 0]}, "hull_colour must be"),
        ({"max_steer": 0}, "max_steer must be"),
        ({"steering": "wheel_angle"}, "'wheel_angle' is not a state field"),
    ],
)
def test_bad_car_is_named(change, message):
    from worldsim.sources.games import CAR

    with pytest.raises(ValueError, match=message):
        check_view({**VIEW, "paint": {**PAINT, "car": {**CAR, **change}}}, FIELDS, ["heading", "gx", "gy"])


def test_a_frame_of_odd_size_is_refused():
    with pytest.raises(ValueError, match="even frame size, got 31"):
        PaintedGround(VIEW, FIELDS, 31)
