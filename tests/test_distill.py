"""The distilled decoder: it learns the teacher's frames, resumes a stopped run exactly, belongs to
the weights it was distilled from, and changes what an env draws only where asked."""

import shutil

import numpy as np
import pytest
import torch

from worldsim.data import Dataset
from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.model.checkpoint import load_model, save_model
from worldsim.model.config import ModelConfig
from worldsim.model.distill import (
    META,
    PARTIAL,
    WEIGHTS,
    DistillConfig,
    distill,
    distill_for,
    pixel_weights,
    pruned_student,
    student_for,
    with_decoder,
)
from worldsim.model.start_bank import START_BANK
from worldsim.model.world_model import WorldModel


@pytest.fixture(scope="module")
def drawing_run(tiny_run, tmp_path_factory):
    """A tiny driving model whose field decoder draws the physical state, saved with its start bank."""
    run = tiny_run("driving")
    model, _ = load_model(run)
    config = ModelConfig.from_json(
        {**model.config.to_json(), "draws_on_previous": False, "decoder": "field", "decoder_input": "state"}
    )
    torch.manual_seed(0)
    drawing = WorldModel(config)
    drawing.fit_state_normalisation(torch.from_numpy(np.concatenate([e.states for e in Dataset(run.parent / "data").episodes()])))
    out = tmp_path_factory.mktemp("drawing") / "model"
    save_model(drawing, out)
    shutil.copy(run / START_BANK, out / START_BANK)
    return out, run.parent / "data"


@pytest.fixture
def model_dir(drawing_run, tmp_path):
    """A fresh copy of the model, for tests that write a student beside it."""
    shutil.copytree(drawing_run[0], tmp_path / "model")
    return tmp_path / "model"


def test_the_student_learns_the_teachers_frames(model_dir, drawing_run):
    report = distill_for(str(model_dir), str(drawing_run[1]), DistillConfig(channels=2, steps=200, lr=1e-2), progress=False)
    assert (model_dir / META).is_file() and (model_dir / WEIGHTS).is_file() and not (model_dir / PARTIAL).exists()
    assert report["loss"]["last"] < 0.5 * report["loss"]["first"]
    assert report["parameters"]["student"] < report["parameters"]["teacher"]
    assert set(report["held_out"]) == {"psnr_db", "pixels_differing", "states"}
    teacher, _ = load_model(model_dir)
    fast = with_decoder(teacher, model_dir, "distilled")
    assert fast.decoder is not teacher.decoder and fast.encoder is teacher.encoder
    assert teacher.decoder.cells[0].out_channels == 4 * teacher.config.channels  # the teacher keeps its own
    assert fast.decoder.cells[0].out_channels == 4 * 2
    assert with_decoder(teacher, model_dir, "exact") is teacher


def test_pruning_keeps_the_strongest_channels_with_their_weights(drawing_run):
    model, _ = load_model(drawing_run[0])
    codes = model.normalise_state(torch.randn(16, model.config.state_dim))
    with torch.no_grad():
        whole = pruned_student(model, model.config.channels, codes)  # every channel kept: the teacher itself
        torch.testing.assert_close(model.draw_state(codes, whole), model.draw_state(codes), rtol=0, atol=1e-6)
        half = pruned_student(model, model.config.channels // 2, codes)
        assert half.cells[0].out_channels == 2 * model.config.channels
        torch.manual_seed(0)
        fresh = student_for(model, model.config.channels // 2)
        fresh_error = ((model.draw_state(codes, fresh) - model.draw_state(codes)) ** 2).mean()
        pruned_error = ((model.draw_state(codes, half) - model.draw_state(codes)) ** 2).mean()
    assert pruned_error < fresh_error
    with pytest.raises(ValueError, match="at most the teacher's width"):
        pruned_student(model, model.config.channels + 1, codes)


def test_a_stopped_run_resumes_where_it_stood(drawing_run, tmp_path):
    model, _ = load_model(drawing_run[0])
    codes = model.normalise_state(torch.randn(40, model.config.state_dim))
    config = DistillConfig(channels=2, steps=12, save_every=6)
    whole, losses = distill(model, codes, config, progress=False, resume_from=tmp_path)
    assert (tmp_path / PARTIAL).is_file()  # written at step 6 (what a run killed after it leaves)
    resumed, resumed_losses = distill(model, codes, config, progress=False, resume_from=tmp_path)
    assert resumed_losses == losses
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="other settings"):
        distill(model, codes, DistillConfig(channels=2, steps=12, save_every=6, lr=1e-4), progress=False, resume_from=tmp_path)


def test_a_student_belongs_to_its_teacher(model_dir, drawing_run, tiny_run):
    with pytest.raises(ValueError, match="no distilled decoder"):
        with_decoder(load_model(model_dir)[0], model_dir, "distilled")
    with pytest.raises(ValueError, match="decoder must be one of"):
        with_decoder(load_model(model_dir)[0], model_dir, "int8")
    distill_for(str(model_dir), str(drawing_run[1]), DistillConfig(channels=2, steps=2), progress=False)
    other, _ = load_model(model_dir)
    with torch.no_grad():
        other.decoder.mix.bias.add_(1.0)  # retrained weights
    with pytest.raises(ValueError, match="other weights"):
        with_decoder(other, model_dir, "distilled")
    with pytest.raises(ValueError, match="draw from the physical state"):  # an upsampling decoder has no student
        distill_for(str(tiny_run("driving")), str(drawing_run[1]), DistillConfig(steps=2), progress=False)
    with pytest.raises(ValueError, match="steps must be a positive"):
        DistillConfig(steps=0)


def test_envs_draw_with_the_student_only_where_asked(model_dir, drawing_run):
    distill_for(str(model_dir), str(drawing_run[1]), DistillConfig(channels=2, steps=2), progress=False)
    runs = {}
    for decoder in ("exact", "distilled"):
        env = WorldSimEnv(checkpoint=model_dir, decoder=decoder)
        obs, info = env.reset(seed=3)
        frames, states = [obs], [info["state"]]
        for _ in range(4):
            obs, _, terminated, truncated, info = env.step(env.action_space.sample() * 0)
            frames.append(obs)
            states.append(info["state"])
        runs[decoder] = np.stack(frames[1:]), np.stack(states)
    # the decoder draws; the dream's states (and so rewards, ends) do not depend on it
    np.testing.assert_array_equal(runs["exact"][1], runs["distilled"][1])
    assert not np.array_equal(runs["exact"][0], runs["distilled"][0])
    vector = WorldSimVectorEnv(num_envs=2, checkpoint=model_dir, decoder="distilled")
    obs, _ = vector.reset(seed=0)
    assert obs.shape == (2, *vector.single_observation_space.shape) and obs.dtype == np.uint8
    with pytest.raises(ValueError, match="decoder must be one of"):
        WorldSimEnv(checkpoint=model_dir, decoder="fast")


def test_eval_and_export_carry_the_student(model_dir, drawing_run, tmp_path, capsys):
    import json

    from worldsim.cli import main

    data = str(drawing_run[1])
    assert main(["distill", "--checkpoint", str(model_dir), "--data", data, "--channels", "2", "--steps", "2", "--quiet"]) == 0
    assert "held-out states" in capsys.readouterr().out
    evaluated = f"eval --checkpoint {model_dir} --data {data} --split all --ks 1 --windows 2 --context 2 --json".split()
    assert main([*evaluated, "--decoder", "distilled"]) == 0
    assert json.loads(capsys.readouterr().out)["decoder"] == "distilled"
    assert main(evaluated) == 0
    report = tmp_path / "eval.json"
    report.write_text(capsys.readouterr().out)
    out = tmp_path / "weights"
    assert main(["export", "--checkpoint", str(model_dir), "--eval", str(report), "--out", str(out)]) == 0
    assert {META, WEIGHTS} <= {p.name for p in out.iterdir()}
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Distilled decoder" in card and f"worldsim distill --checkpoint RUN --data {data} --channels 2" in card
    assert with_decoder(load_model(out)[0], out, "distilled").decoder.cells[0].out_channels == 8


def test_dreams_add_the_models_own_states(model_dir, drawing_run):
    report = distill_for(str(model_dir), str(drawing_run[1]), DistillConfig(channels=2, steps=2, dreams=True), progress=False)
    assert report["train_states"] > report["recorded_states"] > 0
    assert report["config"]["dreams"] is True


def test_edges_weigh_outlines_that_stand_still_where_foreground_weighs_what_moves():
    frames = torch.zeros(2, 3, 8, 8)
    frames[:, :, :, 4:] = 1.0  # a still edge between columns 3 and 4, in both frames
    frames[1, :, 0, 0] = 1.0  # a dot in one frame only
    plain = pixel_weights(frames, foreground=0.0, edges=0.0)
    assert torch.equal(plain, torch.ones(2, 1, 8, 8))
    moving = pixel_weights(frames, foreground=1.0, edges=0.0)
    assert moving[1, 0, 0, 0] > 1 and moving[0, 0, 5, 3] == 1 and moving[0, 0, 5, 4] == 1  # the still edge: no weight
    outlined = pixel_weights(frames, foreground=0.0, edges=1.0)
    assert outlined[0, 0, 5, 3] > 1 and outlined[0, 0, 5, 4] > 1  # both sides of the edge
    assert outlined[0, 0, 5, 0] == 1 and outlined[0, 0, 5, 7] == 1  # flat colour away from it
