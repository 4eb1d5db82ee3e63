"""The model, its loss and the dreams put every tensor they make on the model's device.

CI has no GPU, so the test makes any implicit allocation fail instead: torch's default device is
set to "meta" while the model lives on the CPU. A tensor created without `device=` (the habit that
keeps a model CPU-only) then lands on "meta" and the first operation mixing it with the model's
tensors raises. A run on a real GPU is still checked by hand (`--device cuda`, `device="cuda"`).
"""

import numpy as np
import pytest
import torch

from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.model.checkpoint import load_model, resolve_checkpoint
from worldsim.model.device import resolve_device
from worldsim.model.objective import LossWeights, world_model_loss
from worldsim.model.start_bank import load_start_bank


def _batch(model, bank, rng, B=2, T=6):
    frames = np.concatenate([bank["frames"][:B], bank["frames"][B : 2 * B]], 1)[:, :T]
    if model.config.discrete:
        actions = rng.integers(0, model.config.action_dim, (B, T - 1))
    else:
        actions = rng.uniform(0, 1, (B, T - 1, model.config.action_dim)).astype(np.float32)
    arrays = {
        "frames": frames,
        "actions": actions,
        "rewards": rng.random((B, T - 1)).astype(np.float32),
        "terminated": np.zeros((B, T - 1), np.float32),
        "states": rng.normal(size=(B, T, model.config.state_dim)).astype(np.float32),
        "mask": np.ones((B, T - 1), np.float32),
    }
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


@pytest.mark.parametrize("domain", ["driving", "robotics"])
def test_loss_and_imagination_allocate_on_the_model_device(domain):
    path = resolve_checkpoint(domain)
    model, _ = load_model(path)
    model.train()
    bank = load_start_bank(path)
    batch = _batch(model, bank, np.random.default_rng(0))
    alpha = torch.from_numpy(np.array([1.0, 0.5], np.float32))
    with torch.device("meta"):
        loss, _ = world_model_loss(model, batch, 3, LossWeights(), torch.Generator(device="cpu").manual_seed(0), alpha)
        loss.backward()
        with torch.no_grad():
            latent = model.encode(batch["frames"][:, :3], batch["actions"][:, :2])
            rollout = model.imagine(
                latent,
                batch["actions"][:, 2:],
                previous=model.frames_in(batch["frames"][:, 2]),
                generator=[torch.Generator(device="cpu") for _ in range(2)],
                crash_rule=domain == "driving",
            )
            assert rollout.pixels().device.type == "cpu" and rollout.terminations.device.type == "cpu"
    assert all(p.grad is None or p.grad.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("domain", ["driving", "games"])
def test_envs_allocate_on_the_model_device(domain):
    env = WorldSimEnv(domain=domain, render_mode="rgb_array")
    venv = WorldSimVectorEnv(num_envs=3, domain=domain, obs_type="latent")
    env.action_space.seed(0)
    venv.action_space.seed(0)
    with torch.device("meta"):
        env.reset(seed=0)
        venv.reset(seed=0)
        for _ in range(3):
            obs, *_ = env.step(env.action_space.sample())
            batch, *_ = venv.step(venv.action_space.sample())
    assert env.observation_space.contains(obs) and venv.observation_space.contains(batch)


def test_a_device_this_machine_lacks_is_a_clear_error():
    with pytest.raises(ValueError, match="not a torch device"):
        WorldSimEnv(domain="driving", device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
