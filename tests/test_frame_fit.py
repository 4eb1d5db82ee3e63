"""What a painted camera shows fitted to the frame a dream starts from: the path's shape and back,
a misread bend of CarRacing's road, its heading, tiles and score found again on the simulator's own
frame, a model's encoding moving those fields alone and staying deterministic, the painting's
decoder skipped where it would not show, and bad specs named."""

import dataclasses

import numpy as np
import pytest
import torch

from worldsim.model.frame_fit import FrameFit, check_frame_fit
from worldsim.model.painted_ground import PaintedGround
from worldsim.sources.games import STATE_FIELDS, camera
from worldsim.sources.track_view import OFFSETS

FIELDS = [f.name for f in STATE_FIELDS]
ANCHOR = OFFSETS.index(0)  # road+0: the car's place on the line


def fitter(**spec) -> FrameFit:
    return FrameFit({"anchor": ANCHOR, **spec}, PaintedGround(camera(), FIELDS, 64), FIELDS)


def test_a_shape_gives_back_its_path():
    fit = fitter()
    # the anchor beside the car, the chord ahead turned a little left, a bend tightening to the right
    shape = torch.tensor([[1.5, 0.2, 1.7, -0.05, -0.1, -0.15, -0.2, -0.25]])
    lengths = torch.full((1, len(OFFSETS) - 1), 7.0)
    points = fit.points(shape, lengths)
    assert points.shape == (1, len(OFFSETS), 2)
    assert torch.allclose((points[:, 1:] - points[:, :-1]).norm(dim=-1), lengths)  # each chord as long as given
    assert torch.allclose(points[0, ANCHOR], shape[0, :2])
    assert torch.allclose(fit.shape(points), shape, atol=1e-5)
    # behind the anchor the road turns as at its first turn ahead
    chords = points[0, 1:] - points[0, :-1]
    angles = torch.atan2(chords[:, 1], chords[:, 0])
    assert torch.allclose(angles[1] - angles[0], shape[0, 3], atol=1e-5)
    assert torch.allclose(angles[2] - angles[1], shape[0, 3], atol=1e-5)


@pytest.fixture(scope="module")
def simulator_step():
    """CarRacing's state and frame (1, 3, 64, 64) in [0, 1] after 60 steps of its default driver."""
    from worldsim.behaviour import default_policy
    from worldsim.sources import make_source

    source, policy = make_source("games"), default_policy("games")
    obs = source.reset(seed=3)
    policy.reset(np.random.default_rng(3), source)
    for _ in range(60):
        obs = source.step(policy.act(source, obs))
    truth = torch.from_numpy(obs.state)[None].float()
    return truth, torch.from_numpy(np.array(obs.frame)).permute(2, 0, 1)[None].float() / 255


def test_a_misread_bend_is_found_again_on_the_simulators_frame(simulator_step):
    truth, frame = simulator_step
    fit = fitter(parts=["path"])
    points = truth[:, fit.columns].unflatten(1, (-1, 2))
    lengths = (points[:, 1:] - points[:, :-1]).norm(dim=-1)
    misread = fit.shape(points)
    misread[:, 0] += 0.8  # the anchor 0.8 u to the right, and every turn ahead 0.04 rad to the right
    misread[:, 3:] -= 0.04
    read = truth.index_copy(1, torch.tensor(fit.columns), fit.points(misread, lengths).flatten(1))
    fitted = fit(read, frame)

    def farthest_error(state):
        return float((state[0, fit.columns[-2:]] - truth[0, fit.columns[-2:]]).norm())

    before, after = farthest_error(read), farthest_error(fitted)
    assert before > 4.0 and after < min(1.0, before / 4), (before, after)
    assert painted_error(fit, fitted, frame) < painted_error(fit, read, frame)
    others = [i for i in range(len(FIELDS)) if i not in fit.columns]
    assert torch.equal(fitted[:, others], read[:, others])  # nothing but the path moved
    assert torch.equal(fit(read, frame), fitted)  # seeded: the same fit again


def painted_error(fit: FrameFit, state: torch.Tensor, frame: torch.Tensor) -> float:
    return float((fit.painted(torch.zeros_like(frame), state) - frame).abs().mean())


def test_the_heading_tiles_and_score_no_frame_tells_the_filter_are_found_again(simulator_step):
    truth, frame = simulator_step
    index = FIELDS.index
    touched = [index(f) for f in FIELDS if f.endswith("_touched")]
    kerbs = [index(f) for f in FIELDS if f.endswith("_kerb")]
    assert truth[0, touched].sum() > 0 and truth[0, kerbs].abs().sum() > 0, "the drive should show touched tiles and kerbs"
    read = truth.clone()
    read[:, index("heading")] += 0.1  # the squares turned
    read[:, [index("tile_phase"), index("score"), *touched, *kerbs]] = 0.0  # as the filter starts them
    fit = fitter(parts=["ground", "tiles", "score"])
    fitted = fit(read, frame)
    assert abs(float(fitted[0, index("heading")] - truth[0, index("heading")])) < 0.02
    assert torch.equal(torch.round(fitted[0, index("score")] + 0.1), torch.round(truth[0, index("score")] + 0.1))
    # the tiles the frame shows: those ahead of the car, not under it or the dashboard
    ahead = [index(f"tile{j:+d}_kerb") for j in range(1, 9)]
    assert torch.equal(fitted[0, ahead], truth[0, ahead]), (fitted[0, ahead], truth[0, ahead])
    seen = [index(f"tile{j:+d}_touched") for j in range(0, 4)]
    assert torch.equal(fitted[0, seen], truth[0, seen]), (fitted[0, seen], truth[0, seen])
    assert painted_error(fit, fitted, frame) < 0.3 * painted_error(fit, read, frame)


def tiny_fitting_model(**spec):
    from test_ego_view import tiny_games_config

    from worldsim.model.world_model import WorldModel

    config = dataclasses.replace(
        tiny_games_config(camera()), frame_fit={"anchor": ANCHOR, "iterations": 2, "population": 4, "elite": 2, **spec}
    )
    torch.manual_seed(0)
    return WorldModel(config).eval()


def test_encoding_fits_the_painted_fields_alone_and_stays_deterministic():
    model = tiny_fitting_model()
    frames = torch.randint(0, 256, (2, 3, 32, 32, 3), dtype=torch.uint8)
    actions = torch.rand(2, 2, 3)
    read = model.encode(frames, actions, fit=False)
    fitted = model.encode(frames, actions)
    assert torch.equal(model.encode(frames, actions), fitted)
    moved = (fitted != read).any(0).nonzero()[:, 0].tolist()
    fitted_fields = model.frame_fit.fields
    # a field's slot of the code, and the sines of the fitted angles (the heading, the phases) after the fields
    sines = [model.config.state_dim + i for i, a in enumerate(model.angle_index.tolist()) if a in fitted_fields]
    assert moved and set(moved) <= set(fitted_fields) | set(sines)
    assert set(model.frame_fit.columns) & set(moved)
    assert torch.equal(model.fit_frame(read, frames[:, -1]), fitted)
    plain = dataclasses.replace(model.config, frame_fit={})
    from worldsim.model.world_model import WorldModel

    with pytest.raises(ValueError, match="no frame_fit"):
        WorldModel(plain).fit_frame(read, frames[:, -1])


def test_a_camera_that_paints_every_pixel_draws_without_its_decoder_at_inference():
    model = tiny_fitting_model()
    codes = model.normalise_state(torch.randn(3, len(FIELDS)))
    with torch.no_grad():
        skipped = model.draw_state(codes)
    with torch.enable_grad():
        drawn = model.draw_state(codes)  # as in training: through the decoder, then painted over
    assert model.painted_ground.covers_frame
    assert torch.allclose(skipped, drawn.detach(), atol=1e-6)


@pytest.mark.parametrize(
    "spec, view, message",
    [
        ({"iterations": 3}, camera(), "dict of anchor"),
        ({"anchor": 2, "rounds": 3}, camera(), "dict of anchor"),
        ({"anchor": 8}, camera(), "anchor must index"),
        ({"anchor": 2}, camera(paint=False), "needs a decoder_view with a path and paint"),
        ({"anchor": 2}, None, "needs a decoder_view"),
        ({"anchor": 2, "population": 0}, camera(), "population must be a whole number"),
        ({"anchor": 2, "population": 4, "elite": 8}, camera(), "elite cannot exceed"),
        ({"anchor": 2, "spread": [1.0, 0.05, 0.05]}, camera(), "spread is"),
        ({"anchor": 2, "parts": ["road"]}, camera(), "parts is a non-empty list"),
        ({"anchor": 2, "parts": ["score"]}, camera(fields=False), "paints no score"),
        ({"anchor": 2, "phases": 0}, camera(), "phases must be a whole number"),
        ({"anchor": 2, "bars": ["score"]}, camera(), "bars is a list of the fields the dashboard"),
        ({"anchor": 2, "parts": ["bars"], "bars": ["speed"]}, camera(fields=False), "paints no dashboard"),
    ],
)
def test_bad_frame_fit_is_named(spec, view, message):
    with pytest.raises(ValueError, match=message):
        check_frame_fit(spec, view)


def test_a_model_config_refuses_a_frame_fit_without_a_painted_path():
    from test_ego_view import tiny_games_config

    with pytest.raises(ValueError, match="frame_fit fits what a camera paints"):
        dataclasses.replace(tiny_games_config(camera(paint=False)), frame_fit={"anchor": ANCHOR})


def test_the_start_banks_fits_are_stored_and_given_back_to_the_model_that_made_them(tmp_path):
    from worldsim.model.start_bank import START_BANK, fitted_starts, load_start_bank, write_fitted_starts
    from worldsim.model.world_model import WorldModel

    model = tiny_fitting_model()
    frames = torch.randint(0, 256, (3, 4, 32, 32, 3), dtype=torch.uint8)
    actions, states = torch.rand(3, 3, 3), torch.zeros(3, 4, len(FIELDS))
    np.savez_compressed(tmp_path / START_BANK, frames=frames.numpy(), actions=actions.numpy(), states=states.numpy())
    assert fitted_starts(load_start_bank(tmp_path), model) is None  # none stored yet
    assert write_fitted_starts(tmp_path, model) == 3
    bank = load_start_bank(tmp_path)
    assert np.array_equal(bank["frames"], frames.numpy())  # the bank itself kept
    fitted = fitted_starts(bank, model)
    read = model.encode(frames, actions, fit=False)
    full = model.encode(frames, actions)
    assert torch.allclose(model.with_fitted_fields(read, fitted), full, atol=1e-5)
    # another fit (or other weights) does not take them
    other = WorldModel(dataclasses.replace(model.config, frame_fit={**model.config.frame_fit, "iterations": 3}))
    other.load_state_dict(model.state_dict())
    assert fitted_starts(bank, other) is None
    plain = WorldModel(dataclasses.replace(model.config, frame_fit={}))
    assert fitted_starts(bank, plain) is None
    with pytest.raises(ValueError, match="no frame_fit"):
        write_fitted_starts(tmp_path, plain)


def test_a_tile_the_frame_does_not_show_keeps_its_flag(simulator_step):
    truth, frame = simulator_step
    index = FIELDS.index
    read = truth.clone()
    hidden = index("tile-4_touched")  # behind the view's bottom edge
    plain = index("tile-1_touched")  # this tile's shade is the plain road's: touched or not, it looks alike
    shown = index("tile+1_touched")
    for field in (hidden, plain, shown):
        read[:, field] = 1 - read[:, field]
    fitted = fitter(parts=["tiles"])(read, frame)
    assert fitted[0, hidden] == read[0, hidden] and fitted[0, plain] == read[0, plain]
    assert fitted[0, shown] == truth[0, shown]


def test_the_wheels_spin_rates_are_read_off_the_dashboards_bars(simulator_step):
    truth, frame = simulator_step
    omegas = [FIELDS.index(f"wheel{i}_omega") for i in range(4)]
    read = truth.clone()
    read[:, omegas] = 0.0  # as the filter starts them
    fit = fitter(parts=["bars"], bars=[FIELDS[i] for i in omegas])
    assert fit.fields == omegas
    fitted = fit(read, frame)
    # to a window pixel of a bar: 5 rad/s (the rolling wheels spin at ~45-50 here)
    assert (fitted[0, omegas] - truth[0, omegas]).abs().max() <= 5.5, (fitted[0, omegas], truth[0, omegas])
    others = [i for i in range(len(FIELDS)) if i not in omegas]
    assert torch.equal(fitted[:, others], read[:, others])
