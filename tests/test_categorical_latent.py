"""Categorical (one-hot) stochastic latents: sampling, KL, and a tiny model trained, saved and
dreamed with them."""

import json

import numpy as np
import pytest
import torch
from tiny_models import TINY as TINY_SIZES

from worldsim.data import CollectRequest, Dataset, collect
from worldsim.model.checkpoint import load_model
from worldsim.model.stochastic import CategoricalLatent, GaussianLatent
from worldsim.model.train import TrainConfig, model_config_for, train

TINY = {**TINY_SIZES, "stoch_dim": 3, "stoch_classes": 5}


def test_gumbel_draws_follow_the_probabilities_and_the_mode_needs_no_noise():
    kind = CategoricalLatent(variables=2, classes=4)
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.0, 0.0, 3.0, 0.0]])
    log_probs = kind.params(logits)
    probs = log_probs.exp()[0]
    assert torch.allclose(probs.sum(-1), torch.ones(2))
    assert probs.min() >= 0.01 / 4 - 1e-7  # the uniform mix: no class is impossible
    g = torch.Generator().manual_seed(0)
    n = 20000
    draws = kind.sample(log_probs.expand(n, -1, -1), kind.draw_noise((n, kind.noise_dim), g, "cpu"))
    assert draws.shape == (n, 8)
    one_hot = draws.detach().view(n, 2, 4)
    assert torch.equal(one_hot.sum(-1), torch.ones(n, 2))
    assert torch.allclose(one_hot.mean(0), probs, atol=0.015)
    mode = kind.sample(log_probs, None).detach().view(2, 4)
    assert mode.argmax(-1).tolist() == [0, 2]


def test_the_categorical_kl_is_zero_only_between_equal_distributions_and_passes_gradients():
    kind = CategoricalLatent(variables=3, classes=4)
    stats = torch.randn(5, 12, requires_grad=True)
    a, b = kind.params(stats), kind.params(torch.randn(5, 12))
    assert torch.allclose(kind.kl(a, a), torch.zeros(5), atol=1e-6)
    assert (kind.kl(a, b) > 0).all()
    kind.kl(a, kind.detach(b)).sum().backward()
    assert stats.grad.abs().sum() > 0
    # draws pass the probabilities' gradient straight through to the statistics
    stats.grad = None
    (kind.sample(kind.params(stats), torch.rand(5, 12)) * torch.randn(12)).sum().backward()
    assert stats.grad.abs().sum() > 0


def test_gaussian_latents_are_unchanged_by_the_refactor():
    kind = GaussianLatent(3, min_std=0.1)
    mean, std = kind.params(torch.zeros(2, 6))
    assert torch.equal(mean, torch.zeros(2, 3)) and torch.all(std > 0.1)
    noise = torch.randn(2, 3)
    assert torch.equal(kind.sample((mean, std), noise), mean + std * noise)
    assert torch.equal(kind.sample((mean, std), None), mean)


@pytest.fixture(scope="module")
def categorical_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("categorical")
    collect(CollectRequest(domain="robotics", out=str(root / "data"), episodes=3, max_steps=20, seed=3), progress=False)
    out = root / "run"
    config = TrainConfig(
        data=str(root / "data"), out=str(out), steps=3, batch_size=4, context=3, horizon=4, checkpoint_every=3,
        log_every=1, video_every=1000, val_batches=1, model=TINY,
    )  # fmt: skip
    return out, train(config, progress=False)


def test_a_categorical_model_trains_saves_and_dreams_one_hot_latents(categorical_run):
    out, result = categorical_run
    assert np.isfinite(result["validation"]["kl"])
    meta = json.loads((out / "config.json").read_text())
    assert meta["model"]["stoch_classes"] == 5
    model, _ = load_model(out)
    c = model.config
    assert c.latent_dim == c.state_code_dim + c.deter_dim + 3 * 5
    start = model.initial(2)
    with torch.no_grad():  # as the envs dream: exactly one-hot (training adds straight-through gradients)
        rollout = model.imagine(start, torch.rand(2, 4, 2) * 512, generator=torch.Generator().manual_seed(1))
    stoch = model.split(rollout.latents)[2].view(2, 4, 3, 5)
    assert torch.equal(stoch.sum(-1), torch.ones(2, 4, 3)) and set(stoch.unique().tolist()) == {0.0, 1.0}


def test_generated_latents_are_settled_onto_one_hot_variables(categorical_run):
    model, _ = load_model(categorical_run[0])
    made = torch.randn(4, model.config.latent_dim)  # as a prompt's scene generator writes them
    settled = model.settle(made)
    s, h, z = model.split(settled)
    assert torch.equal(s, model.split(made)[0]) and torch.equal(h, model.split(made)[1])
    assert torch.equal(z.view(4, 3, 5).sum(-1), torch.ones(4, 3))
    assert torch.equal(z.view(4, 3, 5).argmax(-1), model.split(made)[2].view(4, 3, 5).argmax(-1))


def test_a_categorical_dream_repeats_under_its_seed(categorical_run):
    from worldsim.envs import WorldSimEnv

    out, _ = categorical_run

    def frames(seed):
        env = WorldSimEnv(checkpoint=out, obs_type="pixels")
        env.action_space.seed(0)
        obs = [env.reset(seed=seed)[0]]
        obs += [env.step(env.action_space.sample())[0] for _ in range(3)]
        return np.stack(obs)

    assert np.array_equal(frames(4), frames(4))


def test_one_class_is_refused(tmp_path):
    collect(CollectRequest(domain="robotics", out=str(tmp_path / "d"), episodes=1, max_steps=6, seed=0), progress=False)
    with pytest.raises(ValueError, match="stoch_classes is 0 \\(Gaussian\\) or at least 2 classes, got 1"):
        model_config_for(Dataset(tmp_path / "d"), {"stoch_classes": 1})
