"""The ego camera's per-cell features: ground phases and path distances are the geometry they claim."""

import math

import pytest
import torch

from worldsim.model.ego_view import REACH, EgoView, PaintedLines, channels, check_view

FIELDS = ["heading", "gx", "gy", "p0_right", "p0_ahead", "p1_right", "p1_ahead"]
VIEW = {
    "scale": [10.0, 10.0],
    "origin": [0.0, 0.0],
    "heading": "heading",
    "ground": {"phases": ["gx", "gy"], "period": 40.0, "harmonics": 2},
    "path": [["p0_right", "p0_ahead"], ["p1_right", "p1_ahead"]],
}


def state(heading=0.0, gx=0.0, gy=0.0, path=((0.0, -10.0), (0.0, 10.0))):
    return torch.tensor([[heading, gx, gy, *path[0], *path[1]]])


def cell_at(view: EgoView, right: float, ahead: float) -> int:
    return int(torch.argmin((view.right - right) ** 2 + (view.ahead - ahead) ** 2))


def test_channels_and_shape():
    view = EgoView(VIEW, FIELDS, grid=8)
    out = view(state())
    assert channels(VIEW) == 4 * 2 + 1
    assert out.shape == (1, channels(VIEW), 8, 8)


def test_ground_phase_turns_with_the_heading():
    view = EgoView(VIEW, FIELDS, grid=8)
    # heading 0: a cell `d` units to the body's right is `d` units along world +x
    cell = cell_at(view, 10.0, 0.0)
    d = float(view.right[cell])
    x_phase = torch.atan2(view(state())[0, 0].flatten()[cell], view(state())[0, 2].flatten()[cell])
    assert x_phase.item() == pytest.approx(2 * math.pi * d / 40.0, abs=1e-5)
    # heading pi/2 (nose along world -x): the body's right is world +y, so the same cell's x phase
    # is its `ahead` offset's, turned: dx = -ahead
    turned = view(state(heading=math.pi / 2))
    x_phase = torch.atan2(turned[0, 0].flatten()[cell], turned[0, 2].flatten()[cell])
    expected = 2 * math.pi * (-float(view.ahead[cell])) / 40.0
    assert math.cos(x_phase.item() - expected) == pytest.approx(1.0, abs=1e-5)
    y_phase = torch.atan2(turned[0, 4].flatten()[cell], turned[0, 6].flatten()[cell])
    assert math.cos(y_phase.item() - 2 * math.pi * d / 40.0) == pytest.approx(1.0, abs=1e-5)


def test_ground_phase_adds_the_body_phase_and_harmonics_multiply():
    view = EgoView(VIEW, FIELDS, grid=8)
    base, moved = view(state()), view(state(gx=0.7))
    # the second harmonic's phase moves twice as far
    first = torch.atan2(moved[0, 0], moved[0, 2]) - torch.atan2(base[0, 0], base[0, 2])
    second = torch.atan2(moved[0, 1], moved[0, 3]) - torch.atan2(base[0, 1], base[0, 3])
    assert torch.allclose(torch.cos(first), torch.full_like(first, math.cos(0.7)), atol=1e-5)
    assert torch.allclose(torch.cos(second), torch.full_like(second, math.cos(1.4)), atol=1e-5)


def test_path_distance_is_the_distance_to_the_polyline():
    view = EgoView(VIEW, FIELDS, grid=8)
    distance = view(state())[0, -1].flatten() * 10.0  # path_width 10
    expected = view.right.abs()  # the path runs straight ahead through the body, from -10 to +10
    inside = view.ahead.abs() <= 10
    assert torch.allclose(distance[inside], expected[inside], atol=1e-4)
    beyond = ~inside
    ends = torch.sqrt(view.right[beyond] ** 2 + (view.ahead[beyond].abs() - 10) ** 2)
    assert torch.allclose(distance[beyond], ends, atol=1e-4)


BODY_FIELDS = ["own", "c0_on", "c0_r", "c0_a", "c0_h", "c1_on", "c1_r", "c1_a", "c1_h"]
BODIES = {
    "scale": [10.0, 10.0],
    "origin": [0.0, 0.0],
    "bodies": {
        "length": 4.0,
        "width": 2.0,
        "own": "own",
        "others": [["c0_on", "c0_r", "c0_a", "c0_h"], ["c1_on", "c1_r", "c1_a", "c1_h"]],
    },
}


def bodies(own=0.0, c0=(1.0, 5.0, 0.0, 0.0), c1=(0.0, 0.0, 0.0, 0.0)):
    return torch.tensor([[own, *c0, *c1]])


def test_boxes_cover_the_cells_inside_them_and_say_where():
    view = EgoView(BODIES, BODY_FIELDS, grid=40)  # half a unit per cell
    out = view(bodies())[0].flatten(1)
    assert channels(BODIES) == 6 and out.shape[0] == 6
    inside_own = (view.right.abs() < 1.5) & (view.ahead.abs() < 0.5)
    outside = (view.right - 5).abs().clamp(min=0).ge(3) & view.right.abs().ge(3)
    assert (out[0][inside_own] > 0.9).all() and (out[0][outside] < 0.1).all()
    inside_car = ((view.right - 5).abs() < 1.5) & (view.ahead.abs() < 0.5)
    assert (out[3][inside_car] > 0.9).all() and (out[3][view.right < 2] < 0.1).all()
    # offsets along and across the nearest box, in lengths and widths
    cell = cell_at(view, 6.25, 0.75)
    assert out[4, cell].item() == pytest.approx((float(view.right[cell]) - 5) / 4, abs=1e-5)
    assert out[5, cell].item() == pytest.approx(float(view.ahead[cell]) / 2, abs=1e-5)


def test_a_box_turns_with_its_angle_and_absent_ones_are_not_drawn():
    view = EgoView(BODIES, BODY_FIELDS, grid=40)
    turned = view(bodies(c0=(1.0, 5.0, 0.0, math.pi / 2)))[0].flatten(1)
    standing = ((view.right - 5).abs() < 0.5) & (view.ahead.abs() < 1.5)  # 4 long, now along "ahead"
    lying = ((view.right - 5).abs() > 1.25) & ((view.right - 5).abs() < 1.75) & (view.ahead.abs() < 0.5)
    assert (turned[3][standing] > 0.9).all() and (turned[3][lying] < 0.1).all()
    empty = view(bodies(c0=(0.0, 5.0, 0.0, 0.0)))[0].flatten(1)
    assert (empty[3] < 1e-6).all() and (empty[4:] == REACH).all()
    # the nearest present box is the one described
    two = view(bodies(c0=(1.0, 5.0, 0.0, 0.0), c1=(1.0, -5.0, 0.0, 0.0)))[0].flatten(1)
    left = cell_at(view, -5.25, 0.0)
    assert two[4, left].item() == pytest.approx((float(view.right[left]) + 5) / 4, abs=1e-5)


def test_the_driving_camera_puts_the_boxes_on_the_simulators_cars(driving_source):
    """highway-env's frames: every ego-green pixel lies in the own box, every other car's blue pixel
    in the others' cover, and the covers hold almost no road."""
    import numpy as np

    from worldsim.sources.driving import CAMERA, driving_state_fields

    view = EgoView(CAMERA, [f.name for f in driving_state_fields(4)], grid=64)  # a cell per pixel
    obs = driving_source.reset(seed=3)
    scores = []
    for step in range(12):
        obs = driving_source.step(step % 5 if step % 3 else 1)
        if obs.terminated or obs.truncated:
            obs = driving_source.reset(seed=step)
        cover = view(torch.from_numpy(obs.state)[None].double())[0].numpy()
        own, others = cover[0] > 0.5, cover[3] > 0.5
        f = obs.frame.astype(int)
        green = (f[..., 1] > 150) & (f[..., 0] < 120) & (f[..., 2] < 100)
        blue = (f[..., 2] > 200) & (f[..., 0] < 180) & (f[..., 1] > 150)
        road = (np.ptp(f, -1) < 8) & (f[..., 0] > 90) & (f[..., 0] < 115)
        if blue.any():  # some steps show no other car
            scores.append(
                [(green & own).sum() / green.sum(), (blue & others).sum() / blue.sum(), (road & others).sum() / others.sum()]
            )
    assert len(scores) >= 6
    green_in, blue_in, road_in = np.mean(scores, 0)
    # a camera off by one car length: about half the pixels outside (checked by shifting the origin)
    assert green_in > 0.98 and blue_in > 0.95 and road_in < 0.1, scores


LINE_FIELDS = ["y", "x"]
LINES = {
    "scale": [10.0, -10.0],
    "origin": [0.0, 0.0],
    "lines": {"across": "y", "along": "x", "solid": [-2.0, 10.0], "dashed": [2.0, 6.0], "period": 4.0, "harmonics": 2},
}


def test_lines_give_the_offset_to_the_nearest_line_and_the_dash_phase():
    view = EgoView(LINES, LINE_FIELDS, grid=20)  # a unit per cell
    out = view(torch.tensor([[4.0, 1.0]]))[0].flatten(1)  # the body 4 across, 1 along
    assert channels(LINES) == 2 + 2 * 2 and out.shape[0] == 6
    cell = cell_at(view, 0.5, 3.5)  # at 7.5 across the road: the solid line at 10, the dashed at 6
    assert out[0, cell].item() == pytest.approx((10.0 - (4.0 + float(view.ahead[cell]))) / view.cell_height, abs=1e-5)
    assert out[1, cell].item() == pytest.approx((6.0 - (4.0 + float(view.ahead[cell]))) / view.cell_height, abs=1e-5)
    far = cell_at(view, 0.5, -9.5)  # at -5.5 across, 3.5 cells short of the solid line at -2: clamped
    assert out[0, far].item() == pytest.approx(REACH)
    phase = 2 * math.pi * (1.0 + float(view.right[cell])) / 4.0
    assert out[2, cell].item() == pytest.approx(math.sin(phase), abs=1e-5)
    assert out[3, cell].item() == pytest.approx(math.sin(2 * phase), abs=1e-5)
    assert out[4, cell].item() == pytest.approx(math.cos(phase), abs=1e-5)
    # far along the road the phase is the same as one period on (wrapped before the float32 product)
    moved = view(torch.tensor([[4.0, 1.0 + 4.0 * 1000]]))[0].flatten(1)
    assert torch.allclose(moved[2:], out[2:], atol=1e-3)


PAINTED = {
    "scale": [5.0, -5.0],
    "origin": [0.0, 0.0],
    "lines": {**LINES["lines"], "dash": 1.0, "paint": [200, 100, 0]},
    "bodies": {"length": 4.0, "width": 2.0, "others": [["present", "car_right", "car_ahead", "car_angle"]]},
}
PAINTED_FIELDS = ["y", "x", "present", "car_right", "car_ahead", "car_angle"]


def test_painted_lines_light_the_rows_and_dash_columns_they_cross_and_not_the_cars():
    painter = PaintedLines(PAINTED, PAINTED_FIELDS, 20)  # 2 pixels per unit, the body at pixel (10, 10)
    state = torch.tensor([[0.25, 0.0, 1.0, 3.0, -2.0, 0.0]])  # the body 0.25 across; a car on the solid line
    share = painter.coverage(state)[0, 0]
    # the solid line at -2 lights row floor((-2 - 0.25) * 2 + 10) = 5, but not under the car (a 4 x 2
    # box at 3 along, -2 across: columns 12-19, rows 4-7); the dashed one at 2 row 13, from each dash's start
    # to its end both included: the dashes [0, 1], [-4, -3], [4, 5] on columns 10-12, 2-4, 18-19
    car = list(range(12, 20))
    assert share[5, [c for c in range(20) if c not in car]].eq(1).all() and share[5, car].eq(0).all()
    dashes = [2, 3, 4, 10, 11, 12, 18, 19]
    assert share[13, dashes].eq(1).all() and share[13, [c for c in range(20) if c not in dashes]].eq(0).all()
    assert share.sum() == share[5].sum() + share[13].sum()  # the lines at 6 and 10 are off the screen
    frames = torch.full((1, 3, 20, 20), 0.5)
    painted = painter(frames, state)[0].flatten(1)
    lit = share.flatten() == 1
    assert torch.allclose(painted[:, lit], torch.tensor([200 / 255, 100 / 255, 0.0])[:, None])
    assert (painted[:, ~lit] == 0.5).all()


def test_a_finer_screen_paints_shares_of_a_pixel():
    """On a screen twice the frame's size a line lights half of its frame row, and a dash ending
    in the middle of a frame pixel half of that."""
    view = {**PAINTED, "lines": {**PAINTED["lines"], "supersample": 2}}
    share = PaintedLines(view, PAINTED_FIELDS, 20).coverage(torch.tensor([[0.25, 0.0, 0.0, 0.0, 0.0, 0.0]]))[0, 0]
    # 4 screen pixels per unit, the body at screen (20, 20): the solid line at screen row 11
    # (frame row 5), the dash [0, 1] on screen columns 20-24 (frame columns 10, 11 and half of 12)
    assert share[5].eq(0.5).all()
    assert share[13, 10:12].eq(0.5).all() and share[13, 12] == 0.25 and share[13, 13] == 0


@pytest.mark.parametrize("deviation", [0.0, 1e-6, -1e-6])
def test_a_line_on_a_pixel_edge_lights_one_row(deviation):
    """At 0 across, the solid line at -2 falls exactly on screen row 6's edge: one row lit, whichever
    side the float32 rounding of the body's place puts it."""
    painter = PaintedLines(PAINTED, PAINTED_FIELDS, 20)
    share = painter.coverage(torch.tensor([[deviation, 0.0, 0.0, 0.0, 0.0, 0.0]]))[0, 0]
    full_rows = [r for r in range(20) if share[r].sum() == 20]
    assert len(full_rows) == 1 and full_rows[0] in (5, 6), full_rows


def test_a_line_the_paint_put_a_row_off_is_found():
    painter = PaintedLines(PAINTED, PAINTED_FIELDS, 6)
    share = torch.zeros(1, 1, 6, 4)
    share[..., 3, :] = 0.5  # painted on row 3
    road = 0.4
    target = torch.full((1, 3, 6, 4), road)
    line = road + 0.5 * (painter.colour[0, :, 0, 0] - road)  # the line as the paint would draw it
    target[0, :, 2, :3] = line[:, None]  # the simulator lit row 2 (columns 0-2), a row above the paint
    target[0, :, 3, 3] = line  # and row 3 in column 3, as painted
    off = painter.row_off(share, target)[0, 0]
    assert off[2, :3].all() and not off[2, 3] and not off[3].any() and not off[[0, 1, 4, 5]].any()


def test_the_driving_camera_paints_the_simulators_markings(driving_source):
    """highway-env's frames: off the cars, the grey the painted lines give each pixel over the
    road's (100) is the frame's, dash ends included, but for the rare line exactly between two
    screen rows (which one the simulator lit, the float32 state does not say)."""
    import numpy as np

    from worldsim.sources.driving import CAMERA, driving_state_fields

    painter = PaintedLines(CAMERA, [f.name for f in driving_state_fields(4)], 64)
    obs, right, scored = driving_source.reset(seed=5), 0, 0
    for step in range(12):
        obs = driving_source.step((1, 3, 0, 1, 2)[step % 5])
        if obs.terminated or obs.truncated:
            obs = driving_source.reset(seed=step)
        share = painter.coverage(torch.from_numpy(obs.state)[None].float())[0, 0].numpy()
        drawn = np.rint(100 + share * (255 - 100))
        real = obs.frame[..., 0].astype(int)
        road = (obs.frame == obs.frame[..., :1]).all(-1) & np.isin(real, (100, 139, 178))  # road and markings
        scored, right = scored + road.sum(), right + (road & (np.abs(drawn - real) <= 1)).sum()
        assert ((real == 139) & road & (share == 0.25)).sum() == ((real == 139) & road).sum()  # the dash ends
    assert right / scored > 0.998, (right, scored)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"scale": [1.0]}, "scale must be two numbers"),
        ({"heading": "p0_right"}, "heading must name an angle field"),
        ({"ground": {"phases": ["gx"], "period": 4}}, "ground needs two phase fields"),
        ({"path": [["p0_right", "nope"], ["p1_right", "p1_ahead"]]}, "not state fields"),
        ({"zoom": 2}, "unknown keys"),
        ({"bodies": {"length": 0, "width": 1, "own": "heading"}}, "bodies length must be a positive number"),
        ({"bodies": {"length": 1, "width": 1, "own": "p0_right"}}, "are not angle fields"),
        ({"bodies": {"length": 1, "width": 1, "others": [["p0_right", "p0_ahead"]]}}, "present, right, ahead, angle"),
        ({"lines": {**LINES["lines"], "across": "nope", "along": "gx"}}, "not state fields"),
        ({"lines": {**LINES["lines"], "period": 0}}, "lines period must be a positive number"),
        ({"lines": {**LINES["lines"], "dashed": []}}, "lines dashed must be a non-empty list"),
        ({"lines": {**LINES["lines"], "width": 2}}, "lines is a dict of"),
        ({"lines": {**LINES["lines"], "paint": [0, 0, 300], "dash": 1.0}}, "lines paint must be an"),
        ({"lines": {**LINES["lines"], "paint": [0, 0, 0]}}, "painted lines need a dash length"),
        ({"lines": {**LINES["lines"], "paint": [0, 0, 0], "dash": 1.0, "supersample": 0}}, "supersample must be a whole"),
    ],
)
def test_bad_views_are_named(change, message):
    with pytest.raises(ValueError, match=message):
        check_view({**VIEW, **change}, FIELDS, ["heading", "gx", "gy"])


def tiny_games_config(decoder_view: dict):
    """A tiny CarRacing model config (32-pixel frames) whose field decoder reads `decoder_view`."""
    from worldsim.model.config import ModelConfig
    from worldsim.sources.games import STATE_FIELDS

    return ModelConfig(
        domain="games",
        frame_size=32,
        action_space={"type": "box", "shape": [3], "low": [-1, 0, 0], "high": [1, 1, 1]},
        state_fields=[f.name for f in STATE_FIELDS],
        angle_fields=["heading", "steering", "grass_x_phase", "grass_y_phase"],
        channels=4,
        hidden_dim=16,
        deter_dim=16,
        stoch_dim=4,
        embed_dim=16,
        draws_on_previous=False,
        decoder="field",
        decoder_input="state",
        decoder_view=decoder_view,
    )


def test_a_model_with_the_domain_camera_draws_and_keeps_it():
    from worldsim.model.config import ModelConfig
    from worldsim.model.world_model import WorldModel
    from worldsim.sources.games import CAMERA

    config = tiny_games_config(CAMERA)
    model = WorldModel(config)
    frames = model.draw(model.initial(2), torch.zeros(2, 3, 32, 32))
    assert frames.shape == (2, 3, 32, 32)
    assert ModelConfig.from_json(config.to_json()).decoder_view == CAMERA


def test_carracing_camera_puts_the_grass_squares_where_the_frames_show_them():
    """The camera's geometry, checked against the simulator: the lighter grass squares it places
    under each pixel are the frame's own (the frame's lighter green is (102, 230, 102))."""
    import numpy as np

    from worldsim.behaviour import default_policy
    from worldsim.sources import make_source
    from worldsim.sources.games import CAMERA, STATE_FIELDS

    names = [f.name for f in STATE_FIELDS]
    view = EgoView(CAMERA, names, grid=64)  # one cell per pixel of a 64 x 64 frame
    source, policy = make_source("games"), default_policy("games")
    obs = source.reset(seed=4)
    policy.reset(np.random.default_rng(4), source)
    agreement = []
    for step in range(60):
        obs = source.step(policy.act(source, obs))
        if step % 10:
            continue
        ground = view(torch.from_numpy(obs.state)[None].double())[0]
        light = (ground[0] > 0) & (ground[6] > 0)  # sin of the x and y phases: inside a lighter square
        frame = obs.frame.astype(int)
        grass = (frame[..., 0] < 130) & (frame[..., 1] > 190)
        grass[56:] = False  # the dashboard strip
        agreement.append(float((light.numpy() == (frame[..., 1] > 217))[grass].mean()))
    # a camera mirrored left to right scores ~0.6 (the squares cover a quarter of the grass)
    assert np.mean(agreement) > 0.95, agreement


def test_the_camera_named_in_a_model_config_is_the_domains_own():
    from types import SimpleNamespace

    from worldsim.model.train import model_config_for
    from worldsim.sources.games import CAMERA, STATE_FIELDS

    def dataset(domain, fields, angles):
        source = {
            "domain": domain,
            "frame_shape": [32, 32, 3],
            "action_space": {"type": "box", "shape": [2], "low": [0, 0], "high": [1, 1]},
            "state_fields": [{"name": f} for f in fields],
            "env_id": "x",
        }
        return SimpleNamespace(source=source, angles=[f in angles for f in fields])

    parts = {"draws_on_previous": False, "decoder": "field", "decoder_input": "state", "decoder_view": "camera"}
    names = [f.name for f in STATE_FIELDS]
    games = dataset("games", names, {"heading", "steering", "grass_x_phase", "grass_y_phase"})
    assert model_config_for(games, parts).decoder_view == CAMERA  # stored in full
    with pytest.raises(ValueError, match="the 'robotics' domain has no camera"):
        model_config_for(dataset("robotics", ["agent_x"], set()), parts)
