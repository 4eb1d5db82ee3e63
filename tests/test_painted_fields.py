"""What only a frame shows, painted from fields the state carries: the score printed as CarRacing
prints it, the road's tiles in their shades, the wheels' spinning bands; the physics prior stepping
those fields; and a trained model given them without any learned part reading or writing them."""

import json

import numpy as np
import pytest
import torch
from test_painted_ground import FIELDS, PAINT, VIEW, pixel, state

from worldsim.model.carried_fields import add_fields
from worldsim.model.ego_view import check_view
from worldsim.model.painted_ground import PaintedGround
from worldsim.model.painted_score import PaintedScore, score_text
from worldsim.sources.games import PAINT_FIELDS, PAINT_WITH_FIELDS, SPINNING_CAR, STATE_FIELDS, camera

SCORE = PAINT_WITH_FIELDS["score"]
NAMES = [f.name for f in STATE_FIELDS]


def printed_by_pygame(value: float) -> np.ndarray:
    """CarRacing's own printing of a score on its black dashboard, shrunk as its frames are: (64, 64, 3)."""
    import pygame

    from worldsim.sources.base import to_square_frame

    pygame.font.init()
    window = pygame.Surface(SCORE["window"])
    window.fill((0, 0, 0))
    text = pygame.font.Font(pygame.font.get_default_font(), SCORE["font_size"]).render(
        score_text(value), True, SCORE["colour"], (0, 0, 0)
    )
    window.blit(text, text.get_rect(center=SCORE["centre"]))
    shrunk = pygame.surfarray.array3d(pygame.transform.smoothscale(window, SCORE["render"])).swapaxes(0, 1)
    return to_square_frame(np.ascontiguousarray(shrunk), 64)


def test_the_score_is_printed_as_carracing_prints_it():
    paint = PaintedScore({**SCORE, "offset": 0.0}, ["score"], 64)
    values = [0.0, -0.4, 7.6, -57.2, 123.5, 998.7]  # -0.4 prints "-000"; 123.5 rounds to even
    frames = paint(torch.ones(len(values), 3, 64, 64), torch.tensor(values)[:, None])
    box = (slice(paint.r0, paint.r1), slice(paint.c0, paint.c1))
    assert (paint.r0, paint.r1, paint.c0, paint.c1) == (56, 64, 0, 8)  # the dashboard's left end, 8 x 8 pixels
    for value, frame in zip(values, frames, strict=True):
        ours = (frame.movedim(0, -1) * 255).round().numpy()[box]
        assert np.abs(ours - printed_by_pygame(value)[box]).max() <= 1, value
    assert (frames[:, :, : paint.r0] == 1).all() and (frames[:, :, :, paint.c1 :] == 1).all()  # nothing else painted
    assert not torch.equal(frames[0], frames[1])  # "0000" and "-000"
    outside = paint(torch.zeros(2, 3, 64, 64), torch.tensor([[5000.0], [1100.0]]))
    assert torch.equal(outside[0], outside[1])  # past the range: its end
    later = PaintedScore(SCORE, ["score"], 64)(torch.zeros(2, 3, 64, 64), torch.tensor([[3.45], [3.55]]))
    assert torch.equal(later[0], later[1])  # CarRacing's 0.1 more: both print "0004"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"font_size": 0}, "font_size must be a positive integer"),
        ({"window": [1000]}, "window must be"),
        ({"range": [10, 0]}, "range must be integers"),
        ({"clear": [0, 800, 125, 700]}, "clear must be"),
        ({"field": "points"}, "'points' is not a state field"),
        ({"offset": "0.1"}, "offset must be a number"),
        ({"size": 3}, "paint score is a dict of"),
    ],
)
def test_bad_score_is_named(change, message):
    with pytest.raises(ValueError, match=message):
        check_view({**VIEW, "paint": {**PAINT, "score": {**SCORE, **change}}}, [*FIELDS, "score"], ["heading", "gx", "gy"])


TILES = {"phase": "tile", "anchor": 0, "cycle": 6, "length": 4.0, "shades": [0, 20, 50]}


def test_the_road_tiles_take_their_shades_by_their_place_along_the_path():
    view = {**VIEW, "paint": {**PAINT, "tiles": TILES}}
    paint = PaintedGround(view, [*FIELDS, "tile"], 32)

    def shade(phase: float, ahead: float) -> float:
        frames = paint(torch.zeros(1, 3, 32, 32), torch.cat([state(), torch.tensor([[phase]])], 1))
        return float(frames[0, 0][pixel(0.5, ahead)] * 255 - PAINT["road"][0])

    # the anchor, the path's first point, sits 1 unit behind the body: tile ends every 4 units from there
    assert shade(0.0, 0.5) == pytest.approx(20) and shade(0.0, -3.5) == pytest.approx(0) and shade(0.0, 5.5) == pytest.approx(50)
    assert shade(0.0, 9.5) == pytest.approx(0)  # the shades repeat every 3 tiles
    assert shade(2 * torch.pi / 6, 0.5) == pytest.approx(50)  # a tile further on: each place one tile later
    # 0.625 tiles on, tile 1 ends 0.5 units ahead: through a pixel's middle, which blends it with the next
    phase = 2 * torch.pi * 0.625 / 6
    assert shade(phase, 0.5) == pytest.approx(35, abs=1e-3) and shade(phase, 1.5) == pytest.approx(50)
    with pytest.raises(ValueError, match="cycle must be a whole number of its 3 shades"):
        check_view({**view, "paint": {**PAINT, "tiles": {**TILES, "cycle": 4}}}, [*FIELDS, "tile"], ["heading", "gx", "gy"])
    with pytest.raises(ValueError, match="anchor must index the path's points"):
        check_view({**view, "paint": {**PAINT, "tiles": {**TILES, "anchor": 2}}}, [*FIELDS, "tile"], ["heading", "gx", "gy"])


def test_touched_tiles_are_plain_and_kerbs_line_the_tiles_that_carry_them():
    flags = [f"t{j}" for j in range(-1, 4)]  # tiles -1 .. 3 from the anchor's own
    kerb_flags = [f"k{j}" for j in range(-1, 4)]
    fields = [*FIELDS, "tile", *flags, *kerb_flags]
    kerbs = {"fields": kerb_flags, "width": 2.0, "colours": [[255, 255, 255], [255, 0, 0]]}
    tiles = {**TILES, "first": -1, "touched": flags, "kerbs": kerbs}
    paint = PaintedGround({**VIEW, "paint": {**PAINT, "tiles": tiles}}, fields, 32)

    def drawn(touched=(0,) * 5, kerb=(0,) * 5, phase=0.0):
        # the anchor (the path's first point) 1 unit behind the body at phase 0: its tile, 0, ends
        # there, tile 1 covers -1 .. 3 units ahead of the body, tile 2 3 .. 7, tile 3 7 .. 11
        row = torch.cat([state(), torch.tensor([[phase, *touched, *kerb]])], 1)
        return paint(torch.zeros(1, 3, 32, 32), row)[0] * 255

    def shade(frame, ahead):
        return float(frame[0][pixel(0.5, ahead)] - PAINT["road"][0])

    plain = drawn()
    assert shade(plain, 0.5) == pytest.approx(20) and shade(plain, 5.5) == pytest.approx(50)
    touched = drawn(touched=(0, 0, 1, 0, 0))  # tile 1
    assert shade(touched, 0.5) == pytest.approx(0) and shade(touched, 5.5) == pytest.approx(50)
    assert shade(drawn(touched=(0, 0, 0, 0, 1)), 11.5) == pytest.approx(0)  # tile 4, past the last flag: the last's

    def kerb(frame):
        return ((frame[0] > 200) & (frame[2] > 200)) | ((frame[0] > 200) & (frame[1] < 100))  # white or red

    assert not kerb(plain).any()
    right = drawn(kerb=(0, 0, 1, 0, 0))  # tile 1 has a kerb on its right
    assert kerb(right)[pixel(2.8, 0.5)] and not kerb(right)[pixel(-2.8, 0.5)]  # past the road's edge (2)
    assert not kerb(right)[pixel(4.5, 0.5)]  # 2 units wide
    assert not kerb(right)[pixel(2.8, 5.5)] and not kerb(right)[pixel(2.8, -2.5)]  # only along its tile
    left = drawn(kerb=(0, 0, 0, -1, 0))  # tile 2's on its left
    assert kerb(left)[pixel(-2.8, 5.5)] and not kerb(left)[pixel(2.8, 5.5)]
    assert right[1][pixel(2.8, 0.5)] < 100 and left[1][pixel(-2.8, 5.5)] > 200  # odd tiles red, even white
    # 1.5 tiles further on, the anchor lies in tile 2: the same fields lie two tiles further on
    later = drawn(kerb=(0, 0, 1, 0, 0), phase=torch.pi / 2)  # tile 3: 1 .. 5 units ahead
    assert kerb(later)[pixel(2.8, 2.5)] and not kerb(later)[pixel(2.8, 5.5)] and not kerb(later)[pixel(2.8, 0.5)]
    with pytest.raises(ValueError, match="first .* must be an integer"):
        check_view({**VIEW, "paint": {**PAINT, "tiles": {**TILES, "touched": flags}}}, fields, ["heading", "gx", "gy"])
    with pytest.raises(ValueError, match=r"kerbs fields \['k9'\] are not state fields"):
        bad = {**tiles, "kerbs": {**kerbs, "fields": ["k9"]}}
        check_view({**VIEW, "paint": {**PAINT, "tiles": bad}}, fields, ["heading", "gx", "gy"])


def test_midpoints_put_a_coarsely_sampled_bend_back_on_its_line():
    from worldsim.model.painted_ground import with_midpoints

    angles = torch.linspace(0, 1.5, 6)  # every 0.3 rad of a circle of radius 10
    circle = torch.stack([10 * angles.cos(), 10 * angles.sin()], -1)[None]
    refined = with_midpoints(circle)
    assert refined.shape == (1, 11, 2) and torch.equal(refined[:, ::2], circle)
    off = (refined[0, 1::2].norm(dim=-1) - 10).abs()
    chord = 10 - 10 * float(torch.cos(torch.tensor(0.15)))  # the chords' midpoints: 0.11 inside
    assert float(off.max()) < chord / 10
    line = torch.tensor([[[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]])
    assert torch.allclose(with_midpoints(line)[0, 1::2], (line[0, 1:] + line[0, :-1]) / 2)
    with pytest.raises(ValueError, match="midpoints need a path of 3 points or more, got 2"):
        check_view({**VIEW, "paint": {**PAINT, "midpoints": True}}, FIELDS, ["heading", "gx", "gy"])


def test_carracing_kerbs_are_read_as_the_simulator_lays_them():
    from worldsim.sources.games import GamesSource, kerb_sides

    source = GamesSource(64)
    source.reset(seed=1)
    core = source.core
    laid = [(points, colour) for points, colour in core.road_poly if tuple(colour) in ((255, 255, 255), (255, 0, 0))]
    sides = kerb_sides(core.track)
    kerbed = np.flatnonzero(sides)
    assert len(laid) == len(kerbed) > 10
    for (points, colour), i in zip(laid, kerbed, strict=True):
        _, _, x1, y1 = core.track[i]
        _, _, x0, y0 = core.track[i - 1]
        along = np.array([x1 - x0, y1 - y0])
        off = np.mean(points, 0) - np.array([x1 + x0, y1 + y0]) / 2
        assert np.sign(off @ np.array([along[1], -along[0]])) == sides[i]  # +1: right of the track's direction
        assert (tuple(colour) == (255, 255, 255)) == (i % 2 == 0)
    source.close()


def test_each_wheel_shows_its_band_as_it_spins():
    from worldsim.model.painted_car import PaintedCar

    car = PaintedCar(camera(), NAMES, 64)
    phases = [NAMES.index(f) for f in SPINNING_CAR["band"]["phases"]]
    states = torch.zeros(3, len(NAMES))
    states[0, phases] = 1.0  # both ends' sines positive: the band is on the drum's far side
    states[1, phases] = -torch.pi / 2  # facing up: the band lies across the wheel's middle
    states[2, phases[0]] = -torch.pi / 2  # only the front left wheel's
    frames = car(torch.zeros(3, 3, 64, 64), states)
    grey = SPINNING_CAR["band"]["colour"][0] / 255
    assert (
        float(frames[0].max()) <= SPINNING_CAR["hull_colour"][0] / 255 + 1e-6 and float(frames[0, 1:].max()) == 0
    )  # red and black only
    band = (frames[1, 1] > 0).float()  # green: only the bands' grey has it
    assert 0 < float(frames[1, 1].max()) <= grey and float(band.sum()) >= 4
    assert 0 < float((frames[2, 1] > 0).sum()) < float(band.sum())


def test_the_prior_moves_what_only_the_frame_shows_with_the_car():
    from worldsim.model.physics.games import POINT_SPACING, WHEEL_RADIUS, CarPrior

    prior = CarPrior(NAMES)
    before = torch.zeros(2, len(NAMES))
    before[:, NAMES.index("speed")] = 20.0  # heading 0: straight along +y, the road's line under it
    for k in (-4, -2, 0, 2, 4, 6, 8, 10, 12):
        before[:, NAMES.index(f"road{k:+d}_ahead")] = k * POINT_SPACING
    before[:, NAMES.index("score")] = 10.0
    action = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # coasting; the brake locks the wheels
    after = prior(before, action)
    moved = float(after[0, 1] - before[0, 1])
    tile, score, *wheels = (after[:, NAMES.index(f)] for f in PAINT_FIELDS[:6])
    assert float(tile[0]) == pytest.approx(2 * torch.pi / 6 * moved / POINT_SPACING, rel=1e-4)
    assert float(score[0]) == pytest.approx(10.0 + float(prior.reward(before, after)[0]))
    assert float(wheels[0][0]) == pytest.approx(moved / WHEEL_RADIUS, rel=1e-3)  # rolled, not slipping
    assert all(float(w[1]) == 0 for w in wheels)  # locked
    rates = after[:, [NAMES.index(f"wheel{i}_omega") for i in range(4)]]
    # a locking brake stops them each frame, and the grip turns them by at most 2.7 rad/s a frame
    # after (car_dynamics' order); coasting, the grip pulls them towards rolling (37 rad/s)
    assert (rates[1] <= 2.7 + 1e-4).all() and (rates[0] > rates[1]).all()
    spun = prior(before, torch.tensor([[0.0, 1.0, 0.0]]).expand(2, -1))[0, [NAMES.index(f"wheel{i}_omega") for i in range(4)]]
    assert spun[2] > spun[0] and spun[2] > rates[0, 2]  # under gas the driven rear wheels spin up
    assert "tile_phase" in CarPrior.KINEMATIC  # the learned correction leaves them alone


def test_the_prior_carries_the_tiles_flags_with_the_tiles_and_touches_those_under_the_car():
    from worldsim.model.physics.games import POINT_SPACING, CarPrior
    from worldsim.sources.games import KERB_FIELDS, TILE_OFFSETS, TOUCHED_FIELDS

    prior = CarPrior(NAMES)
    touched, kerb = [NAMES.index(f) for f in TOUCHED_FIELDS], [NAMES.index(f) for f in KERB_FIELDS]
    before = torch.zeros(3, len(NAMES))
    before[:, NAMES.index("speed")] = 20.0  # 0.8 units a step along +y: 0.23 of a tile
    before[:, NAMES.index("tile_phase")] = 2 * torch.pi * 0.9 / 6  # 0.1 of a tile before its tile's end
    road = [(0.0, k * POINT_SPACING) for k in (-4, -2, 0, 2, 4, 6, 8, 10, 12)]
    # turning left ahead, each of the last three 7 u chords 0.45 rad left of the one before
    # (the prior eases the farthest turn as the car drives on: a kerb is laid above 0.3)
    bend = road[:6]
    for k in range(1, 4):
        (right, ahead), angle = bend[-1], 0.45 * k
        bend.append((right - 7.0 * np.sin(angle), ahead + 7.0 * np.cos(angle)))
    for row, points in enumerate((road, [(20.0, y) for _, y in road], bend)):  # the second: the car off the road
        for k, (right, ahead) in zip((-4, -2, 0, 2, 4, 6, 8, 10, 12), points, strict=True):
            before[row, NAMES.index(f"road{k:+d}_right")], before[row, NAMES.index(f"road{k:+d}_ahead")] = right, ahead
    first = TILE_OFFSETS[0]
    before[:, touched[: -first + 1]] = 1.0  # tiles -4 .. 0 driven over
    before[:, kerb[5 - first]] = 1.0  # tile 5: a kerb on its right
    after = prior(before, torch.zeros(3, 3))
    # the car crossed into the next tile: every flag one tile nearer
    assert after[0, kerb].tolist() == [0.0] * (4 - first) + [1.0] + [0.0] * (12 - 4)
    assert after[0, touched].tolist() == [1.0] * (1 - first) + [0.0] * 12  # tile 0 under the car: touched
    assert after[1, touched].tolist() == [1.0] * -first + [0.0] * 13  # off the road: nothing touched
    assert after[2, kerb[-1]] == -1.0  # the new tile on the left bend's inside: a kerb on its left
    assert after[0, kerb[-1]] == 0.0 and set(TOUCHED_FIELDS + KERB_FIELDS) <= set(CarPrior.KINEMATIC)


def test_fields_added_to_a_trained_model_leave_every_learned_part_as_it_was():
    from test_ego_view import tiny_games_config

    from worldsim.model.config import ModelConfig
    from worldsim.model.world_model import WorldModel

    carried = list(PAINT_FIELDS)
    base = tiny_games_config(camera(paint=False)).to_json()
    base.update(state_fields=[f for f in NAMES if f not in carried], dynamics="kinematic", ensemble=2)
    torch.manual_seed(0)
    old = WorldModel(ModelConfig(**base)).eval()
    weights, options = add_fields(old.state_dict(), base, carried)
    new = WorldModel(ModelConfig(**{**options, "decoder_view": camera()})).eval()
    new.load_state_dict(weights)
    S, n = old.config.state_dim, len(carried)
    latent = torch.randn(4, old.config.latent_dim)
    widened = torch.cat([latent[:, :S], torch.randn(4, n), latent[:, S:]], -1)
    action = old.action_features(torch.rand(4, 3))
    with torch.no_grad():
        a = old.imagine_step(latent, action, old.noise(4, torch.Generator().manual_seed(1)), 1.0)
        b = new.imagine_step(widened, action, new.noise(4, torch.Generator().manual_seed(1)), 1.0)
        assert torch.allclose(a, torch.cat([b[:, :S], b[:, S + n :]], -1), atol=1e-5)
        assert torch.allclose(old.reward(a), new.reward(b), atol=1e-5)
        # the new fields are the prior's alone: its step of them, whatever the learned parts hold
        stepped = new.physical_state(b)[:, S:]
        prior = new.physics(new.physical_state(widened), new.action_physical(action))[:, S:]
        assert torch.allclose(stepped, prior, atol=1e-4)
        # read off a frame, they are 0; through more frames, the prior steps them, as no frame tells them
        frames = torch.randint(0, 255, (2, 32, 32, 3), dtype=torch.uint8)
        assert torch.allclose(new.physical_state(new.encode(frames))[:, S:], torch.zeros(2, n), atol=1e-6)
        assert new.config.carried_fields == carried
        clip, actions = torch.randint(0, 255, (2, 3, 32, 32, 3), dtype=torch.uint8), torch.rand(2, 2, 3)
        seen = new.physical_state(
            new.unroll_posterior(new.encoder(new.frames_in(clip).flatten(0, 1)).view(2, 3, -1), actions)[0][:, 1]
        )
        first = new.physical_state(new.encode(clip[:, 0]))
        stepped = new.physics(first, actions[:, 0])
        assert torch.allclose(seen[:, S:], stepped[:, S:], atol=1e-4) and not torch.allclose(seen[:, S:], first[:, S:])
    with pytest.raises(ValueError, match=r"\['score'\] already in the state"):
        add_fields(weights, options, ["score"])
    assert json.loads(json.dumps(options))["state_fields"][-n:] == carried


def test_carried_fields_are_scaled_by_their_recorded_size_and_nothing_else_is():
    from worldsim.model.carried_fields import field_scales, scale_fields

    # root mean square, at least 1: a score in the hundreds is scaled down, a rare flag is not blown up
    values = torch.tensor([[300.0, 0.0, 0.5], [-400.0, 1.0, -0.5], [0.0, 0.0, 0.5], [0.0, 0.0, -0.5]])
    assert field_scales(values).tolist() == pytest.approx([250.0, 1.0, 1.0])
    model = {"state_fields": ["x", "score", "wheel0_omega"], "carried_fields": ["score", "wheel0_omega"]}
    weights = {"state_std": torch.tensor([3.0, 1.0, 1.0]), "state_mean": torch.zeros(3)}
    scaled = scale_fields(weights, model, {"score": 250.0})
    assert scaled["state_std"].tolist() == [3.0, 250.0, 1.0] and weights["state_std"].tolist() == [3.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"\['x'\] are not carried fields"):
        scale_fields(weights, model, {"x": 2.0})
    with pytest.raises(ValueError, match="positive numbers"):
        scale_fields(weights, model, {"score": 0.0})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"window": [1000]}, "window must be"),
        ({"box": [0, 700, 900, 800]}, "box must be"),
        ({"colour": [0, 0]}, "colour must be"),
        ({"bars": [{"field": "speed"}]}, "bars are dicts of"),
        ({"grows": "down"}, "grows up or right"),
        ({"reach": 0}, "reach a positive integer"),
        ({"field": "rpm"}, "'rpm' is not a state field"),
    ],
)
def test_bad_dashboard_is_named(change, message):
    from worldsim.model.painted_dashboard import check_dashboard
    from worldsim.sources.games import DASHBOARD

    bar = DASHBOARD["bars"][0]
    spec = {**DASHBOARD, **{k: v for k, v in change.items() if k in DASHBOARD}}
    if set(change) & set(bar):
        spec["bars"] = [{**bar, **change}]
    with pytest.raises(ValueError, match=message):
        check_dashboard(spec, NAMES)
