"""Test-time training: only the named correction changes, each scene its own, and the envs use it."""

import json

import numpy as np
import pytest
import torch
from tiny_models import TINY

from worldsim.data import Dataset
from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.model.adapt import AdaptConfig, SceneAdapter, adapt, filter_trust
from worldsim.model.adapt_eval import AdaptEvalConfig, evaluate_adaptation, format_adapt_report
from worldsim.model.checkpoint import load_model
from worldsim.model.start_bank import load_start_bank
from worldsim.model.train import model_config_for
from worldsim.model.world_model import WorldModel


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run("robotics", steps=4)


@pytest.fixture(scope="module")
def model_and_bank(run):
    model, _ = load_model(run / "checkpoint")
    bank = {k: torch.from_numpy(v) for k, v in load_start_bank(run / "checkpoint").items()}
    return model, bank


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_unchanged(model, before):
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "test-time training wrote the model's weights"


@pytest.mark.parametrize("weights", ["last_layer", "bias"])
def test_adapt_lowers_its_loss_and_leaves_the_model_alone(model_and_bank, weights):
    model, bank = model_and_bank
    before = snapshot(model)
    grads = [p.requires_grad for p in model.parameters()]
    config = AdaptConfig(weights=weights, steps=15, lr=0.05, holdout=0)
    adapter, report = adapt(model, bank["frames"][:2], bank["actions"][:2], config)
    assert_unchanged(model, before)
    assert [p.requires_grad for p in model.parameters()] == grads  # put back as it was
    assert len(adapter) == 2 and not adapter.bias.requires_grad
    assert (adapter.weight is None) == (weights == "bias")
    assert all(a < b for a, b in zip(report["loss_after"], report["loss_before"], strict=True))
    assert report["parameters"] == config.parameters(model) and report["ms"] > 0


def test_scenes_adapt_apart(model_and_bank):
    """Adapting two scenes in one batch gives each the correction it gets alone."""
    model, bank = model_and_bank
    config = AdaptConfig(weights="last_layer", steps=5, holdout=0)
    both, _ = adapt(model, bank["frames"][:2], bank["actions"][:2], config)
    for j in range(2):
        alone, _ = adapt(model, bank["frames"][j : j + 1], bank["actions"][j : j + 1], config)
        torch.testing.assert_close(both.weight[j], alone.weight[0], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(both.bias[j], alone.bias[0], rtol=1e-4, atol=1e-6)


def test_adapter_rows_and_trust(model_and_bank):
    model, bank = model_and_bank
    adapter = SceneAdapter.zeros(model, 3, "last_layer")
    assert not adapter.active()
    other = SceneAdapter(torch.ones(1, *adapter.weight.shape[1:]), torch.ones(1, adapter.bias.shape[1]))
    adapter.put(np.array([1]), other)
    assert adapter.active() and adapter.bias[0].abs().sum() == 0 and adapter.bias[2].abs().sum() == 0
    features = torch.randn(3, adapter.weight.shape[1])
    out = adapter(features)
    assert out[0].abs().sum() == 0 and out[1].abs().sum() > 0
    adapter.put(np.array([1]), None)
    assert not adapter.active()
    trust = filter_trust(model, bank["frames"], bank["actions"], bank["states"])
    assert trust.shape == (model.config.state_code_dim,) and torch.isclose(trust.mean(), torch.tensor(1.0))


def test_a_frames_target_fits_the_drawn_dream_to_the_real_frames(run, model_and_bank):
    _, bank = model_and_bank
    torch.manual_seed(0)
    draws_state = {**TINY, "draws_on_previous": False, "decoder": "field", "decoder_input": "state"}
    model = WorldModel(model_config_for(Dataset(run.parent / "data"), draws_state))
    before = snapshot(model)
    config = AdaptConfig(weights="bias", steps=10, lr=0.05, holdout=0, target="frames")
    adapter, report = adapt(model, bank["frames"][:2], bank["actions"][:2], config)
    assert_unchanged(model, before)
    assert adapter.active() and report["target"] == "frames"
    assert all(a < b for a, b in zip(report["loss_after"], report["loss_before"], strict=True))
    # the pixel loss is not the state loss: the same fit against the filter's reading ends elsewhere
    other, _ = adapt(model, bank["frames"][:2], bank["actions"][:2], AdaptConfig(weights="bias", steps=10, lr=0.05, holdout=0))
    assert not torch.allclose(adapter.bias, other.bias)


def test_a_frames_target_needs_a_decoder_that_draws_the_state(model_and_bank):
    model, bank = model_and_bank
    assert model.config.decoder_input != "state"
    with pytest.raises(ValueError, match="decoder reads"):
        adapt(model, bank["frames"][:1], bank["actions"][:1], AdaptConfig(target="frames"))
    with pytest.raises(ValueError, match="target"):
        AdaptConfig(target="pixels")


def test_holdout_drops_a_correction_that_does_not_carry(model_and_bank):
    model, bank = model_and_bank
    config = AdaptConfig(steps=3, holdout=1, lr=0.05)
    adapter, report = adapt(model, bank["frames"][:2], bank["actions"][:2], config)
    assert report["holdout"] == 1 and len(report["kept"]) == 2
    for j, kept in enumerate(report["kept"]):
        assert kept == (report["holdout_after"][j] < report["holdout_before"][j])
        assert bool(adapter.bias[j].any()) == kept


def test_bad_adapt_settings():
    with pytest.raises(ValueError, match="weights"):
        AdaptConfig(weights="everything")
    with pytest.raises(ValueError, match="steps"):
        AdaptConfig(steps=-1)
    with pytest.raises(ValueError, match="lr"):
        AdaptConfig(lr=float("nan"))
    with pytest.raises(ValueError, match="unknown"):
        AdaptConfig.from_options({"rank": 4})
    with pytest.raises(TypeError, match="adapt"):
        AdaptConfig.from_options("yes")
    assert AdaptConfig.from_options(True, physics_blend=0.5).physics_blend == 0.5


def test_single_env_adapts_to_its_context(run):
    env = WorldSimEnv(checkpoint=run, obs_type="state")
    before = snapshot(env.model)
    frames, actions = env.dream.bank["frames"][0].numpy(), env.dream.bank["actions"][0].numpy()
    context = {"frames": frames, "actions": actions}
    _, info = env.reset(seed=3, options={"context": context, "adapt": {"steps": 8, "lr": 0.05, "holdout": 0}})
    assert info["adapt"]["steps"] == 8 and info["adapt"]["kept"] is True
    adapted = [env.step(env.action_space.sample() * 0)[0] for _ in range(4)]
    _, info = env.reset(seed=3, options={"context": context})
    assert "adapt" not in info
    plain = [env.step(env.action_space.sample() * 0)[0] for _ in range(4)]
    assert not np.allclose(adapted, plain)  # the correction acted on the adapted episode only
    assert_unchanged(env.model, before)
    with pytest.raises(ValueError, match="context"):
        env.reset(options={"adapt": True})


def test_vector_env_adapts_each_env_apart(run):
    env = WorldSimVectorEnv(num_envs=2, checkpoint=run, obs_type="state", episode_steps=2)
    before = snapshot(env.model)
    frames, actions = env.dream.bank["frames"][0].numpy(), env.dream.bank["actions"][0].numpy()
    mask = np.array([True, False])
    env.reset(seed=0)
    context = {"frames": frames, "actions": actions}
    first, infos = env.reset(options={"context": context, "adapt": {"holdout": 0, "lr": 0.05}, "reset_mask": mask})
    assert infos["_adapt"].tolist() == [True, False] and infos["adapt"][0]["kept"]
    assert env.dream.adapted.tolist() == [True, False]
    assert env.dream.adapter.bias[1].abs().sum() == 0  # env 1's dynamics stay the model's
    for _ in range(4):  # within two steps the episode ends; the next step restarts env 0 at its context
        obs, *_, infos = env.step(np.zeros((2, *env.single_action_space.shape), np.float32))
        if infos["step"][0] == 0:
            break
    assert infos["step"][0] == 0
    np.testing.assert_allclose(obs[0], first[0])
    assert env.dream.adapted.tolist() == [True, False]  # its correction is kept across autoresets
    env.reset(options={"reset_mask": mask})  # a reset without a context lets go of it
    assert not env.dream.adapted.any() and not env.dream.held
    assert_unchanged(env.model, before)
    with pytest.raises(ValueError, match="3 envs|2 envs"):
        env.reset(options={"context": {"frames": np.stack([frames] * 3), "actions": np.stack([actions] * 3)}})


def test_adapt_eval_report(run, tiny_run):
    from worldsim.data import Dataset

    model, _ = load_model(run / "checkpoint")
    data = Dataset(run.parent / "data")
    config = AdaptEvalConfig(context=3, horizon=3, steps=(0, 2), adapt=AdaptConfig(holdout=0))
    report = evaluate_adaptation(model, data, config)
    assert set(report["steps"]) == {"0", "2"} and report["steps"]["0"]["gain"] == 0
    assert "ms_per_reset" in report["steps"]["2"] and "ms_per_reset" not in report["steps"]["0"]
    assert "steps" in format_adapt_report(report)
    with pytest.raises(ValueError, match="no episode"):
        evaluate_adaptation(model, data, AdaptEvalConfig(context=3, horizon=500))


def test_adapt_command(run, capsys):
    from worldsim.cli import main

    data = str(run.parent / "data")
    argv = ["adapt", "--checkpoint", str(run), "--data", data, "--context", "3", "--horizon", "3", "--steps", "0,1,2,3"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["steps"]) == {"0", "1", "2", "3"} and report["fit"]["ks"] == [1, 2, 3]
    assert report["trust"] is not None  # weighed by the filter's accuracy on the start bank
    assert main([*argv, "--no-trust"]) == 0 and "ms/reset" in capsys.readouterr().out
    assert main([*argv[:-1], "0,x"]) == 2 and "--steps" in capsys.readouterr().err
