"""scripts/derive_checkpoint.py: one run's weights under other dreaming options, and with the decoder of
another run that draws the same state."""

import json
import sys
from pathlib import Path

import pytest
import torch
from script_modules import load_script
from test_model import games_kinematic

from worldsim.model.checkpoint import load_model, save_model
from worldsim.model.world_model import WorldModel

DRAWS_STATE = {"draws_on_previous": False, "decoder": "field", "decoder_input": "state"}


def derive(monkeypatch, *args: str) -> None:
    script = load_script("scripts/derive_checkpoint.py")
    monkeypatch.setattr(sys, "argv", ["derive_checkpoint.py", *map(str, args)])
    script.main()


def saved(tmp_path, name: str, seed: int, **options) -> Path:
    torch.manual_seed(seed)
    config, _ = games_kinematic(**DRAWS_STATE, **options)
    return save_model(WorldModel(config), tmp_path / name)


def test_a_derived_run_dreams_with_the_options_set_and_draws_with_the_decoder_it_took(tmp_path, monkeypatch):
    source = saved(tmp_path, "speed", seed=0)
    donor = saved(tmp_path, "track", seed=1, decoder_static=True)
    out = tmp_path / "games"
    derive(monkeypatch, source, out, '{"prior_noise": true}', "--decoder-from", donor)
    model, meta = load_model(out)
    theirs, _ = load_model(donor)
    ours, _ = load_model(source)
    assert meta["model"]["prior_noise"] and meta["model"]["decoder_static"]
    assert meta["recipe"]["derived"] == {"from": str(source), "options": {"prior_noise": True}, "decoder_from": str(donor)}
    for name, tensor in model.state_dict().items():
        origin = theirs if name.startswith("decoder.") else ours
        assert torch.equal(tensor, origin.state_dict()[name]), name
    code = torch.randn(2, model.config.state_code_dim)
    with torch.no_grad():
        assert torch.equal(model.draw_state(code), theirs.draw_state(code))
    with pytest.raises(SystemExit):  # the directory is never overwritten
        derive(monkeypatch, source, out, '{"prior_noise": true}')


def test_a_decoder_that_draws_another_standardised_state_is_refused(tmp_path, monkeypatch, capsys):
    source = saved(tmp_path, "speed", seed=0)
    donor = saved(tmp_path, "other-data", seed=1)
    config = json.loads((donor / "config.json").read_text())
    model, _ = load_model(donor)
    with torch.no_grad():
        model.state_mean += 1.0  # as trained on other data
    save_model(model, donor, recipe=config.get("recipe"))
    with pytest.raises(SystemExit):
        derive(monkeypatch, source, tmp_path / "games", "{}", "--decoder-from", donor)
    assert "standardises the state otherwise (state_mean differs)" in capsys.readouterr().err
    assert not (tmp_path / "games").exists()
    with pytest.raises(SystemExit):  # neither options nor a decoder: nothing to derive
        derive(monkeypatch, source, tmp_path / "games", "{}")
    assert "non-empty unless --decoder-from" in capsys.readouterr().err


def test_what_is_bound_to_kept_weights_goes_with_them(tmp_path, monkeypatch):
    source = saved(tmp_path, "speed", seed=0)
    companions = ("text.json", "text.safetensors", "reflect.json", "reflect.safetensors", "decoder-distilled.json")
    for name in companions:
        (source / name).write_text(f"{name} bound to these weights")
    derive(monkeypatch, source, tmp_path / "kept", '{"prior_noise": true}')
    assert all((tmp_path / "kept" / n).read_text() == (source / n).read_text() for n in companions)
    derive(monkeypatch, source, tmp_path / "grafted", "{}", "--decoder-from", saved(tmp_path, "track", seed=1))
    assert not any((tmp_path / "grafted" / n).exists() for n in companions)  # another decoder: not the same model


def test_the_domain_cameras_paint_is_set_on_the_view_and_the_weights_kept(tmp_path, monkeypatch, capsys):
    from worldsim.sources.games import PAINT_WITH_FIELDS, camera

    source = saved(tmp_path, "speed", seed=0, decoder_view=camera(paint=False))
    out = tmp_path / "painted"
    derive(monkeypatch, source, out, '{"paint": "camera"}')
    model, meta = load_model(out)
    ours, _ = load_model(source)
    assert meta["model"]["decoder_view"] == json.loads(json.dumps(camera()))
    assert meta["recipe"]["derived"]["options"] == {"paint": json.loads(json.dumps(PAINT_WITH_FIELDS))}
    assert all(torch.equal(t, ours.state_dict()[n]) for n, t in model.state_dict().items())
    code = torch.randn(2, model.config.state_code_dim)
    with torch.no_grad():
        assert not torch.equal(model.draw_state(code), ours.draw_state(code))
    with pytest.raises(SystemExit):  # no camera to paint over
        derive(monkeypatch, saved(tmp_path, "plain", seed=0), tmp_path / "nothing", '{"paint": "camera"}')
    assert "paint needs a model whose decoder reads a camera's view" in capsys.readouterr().err


def test_fields_only_the_painting_reads_are_carried_into_a_trained_model(tmp_path, monkeypatch, capsys):
    import numpy as np

    from worldsim.model.start_bank import START_BANK
    from worldsim.sources.games import PAINT_FIELDS, camera

    torch.manual_seed(0)
    config, fields = games_kinematic(**DRAWS_STATE, decoder_view=camera(paint=False))
    config.state_fields = [f for f in fields if f not in PAINT_FIELDS]
    source = save_model(WorldModel(config), tmp_path / "speed")
    states = np.ones((2, 4, config.state_dim), np.float32)
    np.savez(source / START_BANK, frames=np.zeros((2, 4, 64, 64, 3), np.uint8), states=states)
    out = tmp_path / "carried"
    derive(monkeypatch, source, out, '{"carry": "paint", "paint": "camera"}')
    model, meta = load_model(out)
    assert model.config.state_fields == [*config.state_fields, *PAINT_FIELDS]
    assert meta["recipe"]["derived"]["options"]["carry"] == list(PAINT_FIELDS)
    with np.load(out / START_BANK) as bank:
        assert bank["states"].shape == (2, 4, len(fields)) and (bank["states"][..., -len(PAINT_FIELDS) :] == 0).all()
    with pytest.raises(SystemExit):  # the painting reads fields the state lacks
        derive(monkeypatch, source, tmp_path / "unpainted", '{"paint": "camera"}')
    with pytest.raises(SystemExit):
        derive(monkeypatch, out, tmp_path / "twice", '{"carry": ["score"]}')
    assert "['score'] already in the state" in capsys.readouterr().err


def test_a_frame_fit_is_set_with_the_start_banks_fits_stored(tmp_path, monkeypatch, capsys):
    import numpy as np

    from worldsim.model.start_bank import START_BANK, fitted_starts, load_start_bank
    from worldsim.sources.games import camera

    torch.manual_seed(0)
    config, fields = games_kinematic(**DRAWS_STATE, decoder_view=camera())
    source = save_model(WorldModel(config), tmp_path / "painted")
    frames = np.random.default_rng(0).integers(0, 256, (2, 4, 64, 64, 3), dtype=np.uint8)
    np.savez(
        source / START_BANK,
        frames=frames,
        actions=np.zeros((2, 3, 3), np.float32),
        states=np.zeros((2, 4, len(fields)), np.float32),
    )
    out = tmp_path / "fitted"
    derive(monkeypatch, source, out, '{"frame_fit": {"anchor": 2, "iterations": 1, "population": 4, "elite": 2}}')
    assert "fitting the 2 starts of the bank" in capsys.readouterr().out
    model, meta = load_model(out)
    assert model.config.frame_fit["anchor"] == 2 and meta["recipe"]["derived"]["options"]["frame_fit"]["population"] == 4
    bank = load_start_bank(out)
    fitted = fitted_starts(bank, model)
    assert fitted is not None and fitted.shape == (2, len(fields))
    assert np.array_equal(bank["frames"], frames)
    assert fitted_starts(bank, load_model(source)[0]) is None  # the source fits nothing


def test_the_start_bank_takes_the_carried_fields_from_a_recording_of_its_episodes(tmp_path, monkeypatch, capsys):
    import numpy as np

    from worldsim.data import CollectRequest, Dataset, collect
    from worldsim.model.start_bank import START_BANK
    from worldsim.sources.games import PAINT_FIELDS, camera

    monkeypatch.delenv("SDL_VIDEODRIVER", raising=False)
    data_dir = tmp_path / "games"
    collect(CollectRequest(domain="games", out=str(data_dir), episodes=2, max_steps=4, seed=3), workers=1, progress=False)
    data = Dataset(data_dir)
    names = [f["name"] for f in data.source["state_fields"]]
    torch.manual_seed(0)
    config, fields = games_kinematic(**DRAWS_STATE, decoder_view=camera(paint=False))
    config.state_fields = [f for f in fields if f not in PAINT_FIELDS]
    source = save_model(WorldModel(config), tmp_path / "speed")
    kept = [names.index(f) for f in config.state_fields]
    episodes = [data.episode(1), data.episode(0)]
    np.savez(
        source / START_BANK,
        frames=np.stack([e.frames[:4] for e in episodes]),
        states=np.stack([e.states[:4, kept] for e in episodes]),
    )
    out = tmp_path / "carried"
    derive(monkeypatch, source, out, '{"carry": "paint", "paint": "camera"}', "--carry-from", str(data_dir))
    carried = [names.index(f) for f in PAINT_FIELDS]
    with np.load(out / START_BANK) as bank:
        for entry, episode in zip(bank["states"], episodes, strict=True):
            assert np.array_equal(entry[:, -len(PAINT_FIELDS) :], episode.states[:4, carried])
    np.savez(source / START_BANK, frames=np.zeros((1, 4, 64, 64, 3), np.uint8), states=np.zeros((1, 4, config.state_dim)))
    with pytest.raises(SystemExit):
        derive(monkeypatch, source, tmp_path / "unmatched", '{"carry": "paint"}', "--carry-from", str(data_dir))
    assert "no episode starts with the frames of the start bank's contexts [0]" in capsys.readouterr().err
    # Scaled by the recording: the score's code is its value over its scale there; a field that
    # stays within a unit (a touched flag) keeps scale 1; nothing the model dreams changes.
    scaled = tmp_path / "scaled"
    derive(monkeypatch, out, scaled, "{}", "--scale-carried", str(data_dir))
    (before, _), (after, meta) = load_model(out), load_model(scaled)
    recorded = np.concatenate([data.episode(i).states for i in range(len(data))])
    score, touched = recorded[:, names.index("score")], recorded[:, names.index("tile+0_touched")]
    state_std = dict(zip(after.config.state_fields, after.state_std.tolist(), strict=True))
    assert state_std["score"] == pytest.approx(max(float(np.sqrt((score.astype(np.float64) ** 2).mean())), 1.0), rel=1e-4)
    assert state_std["tile+0_touched"] == 1.0 and abs(touched).max() <= 1
    assert meta["recipe"]["derived"]["scale_carried"] == str(data_dir)
    assert meta["recipe"]["derived"]["carried_scales"]["score"] == pytest.approx(state_std["score"], abs=1e-3)
    latent = before.encode(torch.from_numpy(episodes[0].frames[:1]))
    physical = before.physical_state(latent)
    physical[:, after.config.state_fields.index("score")] = 300.0
    rest = latent[:, before.config.state_code_dim :]
    latent = torch.cat([before.normalise_state(physical), rest], -1)
    relabelled = torch.cat([after.normalise_state(physical), rest], -1)
    assert relabelled[0, after.config.state_fields.index("score")] == pytest.approx(300.0 / state_std["score"])
    action = before.action_features(torch.tensor([[0.2, 0.5, 0.0]]))
    with torch.no_grad():
        a = before.imagine_step(latent, action, None, 1.0)
        b = after.imagine_step(relabelled, action, None, 1.0)
    assert torch.allclose(before.physical_state(a), after.physical_state(b), atol=1e-3)
    with pytest.raises(SystemExit):
        derive(monkeypatch, source, tmp_path / "nothing-carried", "{}", "--scale-carried", str(data_dir))
    assert "the model carries no fields" in capsys.readouterr().err
