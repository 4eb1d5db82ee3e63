import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_models import TINY

from worldsim import domains
from worldsim.data import CollectRequest, WindowSampler, collect
from worldsim.model.checkpoint import CheckpointError, load_model, save_model
from worldsim.model.config import FORMAT_VERSION, ModelConfig
from worldsim.model.objective import LossWeights, to_tensors, world_model_loss
from worldsim.model.train import TrainConfig, train
from worldsim.model.world_model import WorldModel
from worldsim.sources.driving import driving_state_fields
from worldsim.sources.track_view import field_names


@pytest.fixture(scope="module")
def pusht_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("wm") / "pusht"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=6, max_steps=16, seed=1), progress=False)
    return out


def tiny_config(pusht_data, out, steps, **kw):
    return TrainConfig(
        data=str(pusht_data),
        out=str(out),
        steps=steps,
        batch_size=4,
        context=3,
        horizon=4,
        lr=3e-3,
        checkpoint_every=5,
        log_every=5,
        video_every=1000,
        val_batches=1,
        model=TINY,
        **kw,
    )


@pytest.fixture(scope="module")
def trained(pusht_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny"
    train(tiny_config(pusht_data, out, steps=20), progress=False)
    return out


def driving_model() -> WorldModel:
    fields = [f.name for f in driving_state_fields(4)]
    config = ModelConfig(domain="driving", frame_size=64, action_space={"type": "discrete", "n": 5}, state_fields=fields, **TINY)
    return WorldModel(config).eval()


def test_loss_falls(pusht_data):
    torch.manual_seed(0)
    sampler = WindowSampler(pusht_data, 6, "all")
    batch = to_tensors(sampler.sample(4, np.random.default_rng(0)))
    config = tiny_config(pusht_data, "unused", 1)
    from worldsim.model.train import model_config_for

    model = WorldModel(model_config_for(sampler.dataset, config.model))
    model.fit_state_normalisation(torch.from_numpy(sampler.states))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss, _ = world_model_loss(model, batch, 3, LossWeights(), torch.Generator().manual_seed(0), torch.ones(4))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_training_writes_checkpoint_and_logs(trained):
    assert (trained / "model.safetensors").is_file() and (trained / "config.json").is_file()
    meta = json.loads((trained / "config.json").read_text())
    assert meta["model"]["domain"] == "robotics" and meta["format_version"] == FORMAT_VERSION
    assert meta["recipe"]["train"]["steps"] == 20 and meta["recipe"]["command"].startswith("worldsim train")
    assert "psnr_imag" in meta["metrics"]["validation"]
    assert list((trained / "tb").glob("events.out.tfevents*"))
    assert list((trained / "videos").glob("*.mp4"))
    from worldsim.model.start_bank import load_start_bank

    bank = load_start_bank(trained)
    n = len(bank["frames"])
    assert bank["frames"].shape == (n, 3, 64, 64, 3) and bank["actions"].shape == (n, 2, 2)
    assert bank["states"].shape == (n, 3, 8) and 1 <= n <= 6


def test_save_load_round_trip_is_exact(trained, tmp_path):
    model, _ = load_model(trained)
    save_model(model, tmp_path / "copy")
    again, _ = load_model(tmp_path / "copy", domain="robotics")
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def test_resume_continues_exactly(pusht_data, trained, tmp_path):
    out = tmp_path / "resumed"
    train(tiny_config(pusht_data, out, steps=10), progress=False)
    train(tiny_config(pusht_data, out, steps=20), progress=False, resume=True)
    a, _ = load_model(trained)
    b, _ = load_model(out)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), f"{k} differs after resume"


def test_existing_run_needs_resume(pusht_data, trained):
    with pytest.raises(ValueError, match="--resume"):
        train(tiny_config(pusht_data, trained, steps=20), progress=False)
    with pytest.raises(ValueError, match="other lr"):
        train(replace(tiny_config(pusht_data, trained, steps=30), lr=1e-3), progress=False, resume=True)


def test_same_seed_same_rollout(trained):
    model, _ = load_model(trained)
    frames = torch.randint(0, 255, (2, 3, 64, 64, 3), dtype=torch.uint8)
    actions = torch.rand(2, 2, 2) * 512

    def rollout(seed):
        latent = model.encode(frames, actions)
        generator = torch.Generator().manual_seed(seed)
        out = []
        for _ in range(10):
            latent = model.step(latent, torch.full((2, 2), 256.0), generator)
            out.append(latent)
        return torch.stack(out)

    assert torch.equal(rollout(3), rollout(3))
    assert not torch.equal(rollout(3), rollout(4))


def test_physics_blend_zero_follows_prior():
    model = driving_model()
    latent = model.encode(torch.randint(0, 255, (3, 64, 64, 3), dtype=torch.uint8))
    # Put a plausible physical state into the latent: ego in lane 1 at 25 m/s, one car ahead.
    state = torch.zeros(3, model.config.state_dim)
    state[:, 1], state[:, 2], state[:, 5], state[:, 6], state[:, 8] = 4.0, 25.0, 1.0, 20.0, 22.0
    latent[:, : model.config.state_code_dim] = model.normalise_state(state)
    action = torch.tensor([0, 3, 4])
    prior = domains.get("driving").load("prior")(model.config.state_fields)
    expected = prior(state, F.one_hot(action, 5).float())
    nxt = model.step(latent, action, torch.Generator().manual_seed(0), physics_blend=0.0)
    torch.testing.assert_close(model.physical_state(nxt), expected, atol=1e-4, rtol=1e-5)
    assert expected[1, 0] > 24.0  # the ego moved ~25 m along the road in 1 s
    assert expected[0, 1] < 4.0  # LANE_LEFT steers towards lane 0
    # α = 1 is the learned dynamics alone, which an untrained model does not match.
    learned = model.step(latent, action, torch.Generator().manual_seed(0), physics_blend=1.0)
    assert not torch.allclose(model.physical_state(learned), expected, atol=1e-2)


def test_prior_dynamics_correct_the_prior_by_the_learned_step():
    fields = [f.name for f in driving_state_fields(4)]
    space = {"type": "discrete", "n": 5}
    options = {"dynamics": "prior", "ensemble": 2, **TINY}
    config = ModelConfig(domain="driving", frame_size=64, action_space=space, state_fields=fields, **options)
    torch.manual_seed(0)
    model = WorldModel(config).eval()
    latent = model.encode(torch.randint(0, 255, (3, 64, 64, 3), dtype=torch.uint8))
    state = torch.zeros(3, model.config.state_dim)
    state[:, 1], state[:, 2], state[:, 5], state[:, 6], state[:, 8] = 4.0, 25.0, 1.0, 20.0, 22.0
    latent[:, : model.config.state_code_dim] = model.normalise_state(state)
    action = torch.tensor([0, 3, 4])
    expected = domains.get("driving").load("prior")(fields)(state, F.one_hot(action, 5).float())

    def step(alpha):
        return model.physical_state(model.step(latent, action, torch.Generator().manual_seed(0), physics_blend=alpha))

    # α = 0 is the prior; α = 1 adds the whole learned correction, and α = 1/2 half of it
    torch.testing.assert_close(step(0.0), expected, atol=1e-4, rtol=1e-5)
    assert not torch.allclose(step(1.0), expected, atol=1e-2)
    torch.testing.assert_close(step(0.5) - expected, (step(1.0) - expected) / 2, atol=1e-3, rtol=1e-3)
    # with the correction zeroed, the learned step is the prior's
    torch.nn.init.zeros_(model.state_delta[-1].weight)
    torch.nn.init.zeros_(model.state_delta[-1].bias)
    torch.testing.assert_close(step(1.0), expected, atol=1e-4, rtol=1e-5)
    # the uncertainty is the heads' spread around the prior's step, which it need not take
    nxt = model.step(latent, action, torch.Generator().manual_seed(0))
    heads = model.ensemble_states(latent, nxt, model.action_features(action))
    spread = (heads - heads[:1]).std(0).mean(-1)
    assert (spread > 0).all()
    torch.testing.assert_close(model.uncertainty(latent, nxt, model.action_features(action)), spread, atol=1e-5, rtol=1e-5)
    # the ensemble's heads correct the prior too
    for head in model.dynamics_ensemble:
        torch.nn.init.zeros_(head[-1].weight)
        torch.nn.init.zeros_(head[-1].bias)
    nxt = model.step(latent, action, torch.Generator().manual_seed(0))
    heads = model.ensemble_states(latent, nxt, model.action_features(action))
    torch.testing.assert_close(model.denormalise_state(heads), expected.expand(2, -1, -1), atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match="dynamics is one of delta, prior"):
        ModelConfig.from_json({**config.to_json(), "dynamics": "physics"})
    with pytest.raises(ValueError, match="needs a physical state"):
        ModelConfig(domain="driving", frame_size=64, action_space={"type": "discrete", "n": 5}, dynamics="prior")


def games_kinematic(**options) -> tuple[ModelConfig, list[str]]:
    """A tiny CarRacing model config with "kinematic" dynamics (and `options`), and its state fields."""
    from worldsim.sources.games import STATE_FIELDS

    fields = [f.name for f in STATE_FIELDS]
    space = {"type": "box", "shape": [3], "low": [-1.0, 0.0, 0.0], "high": [1.0, 1.0, 1.0], "dtype": "float32"}
    angles = ["heading", "steering", "grass_x_phase", "grass_y_phase"]
    config = ModelConfig(
        domain="games", frame_size=64, action_space=space, state_fields=fields, angle_fields=angles, dynamics="kinematic",
        **TINY, **options,
    )  # fmt: skip
    return config, fields


def test_kinematic_dynamics_leave_the_priors_exact_fields_to_it():
    config, fields = games_kinematic()
    torch.manual_seed(0)
    model = WorldModel(config).eval()
    latent = model.encode(torch.randint(0, 255, (2, 64, 64, 3), dtype=torch.uint8))
    state = model.physical_state(latent)
    state[:, 2], state[:, 4] = 30.0, 2.0  # 30 u/s, turning left at 2 rad/s
    latent[:, : config.state_code_dim] = model.normalise_state(state)
    action = torch.tensor([[-1.0, 0.3, 0.0], [1.0, 0.0, 0.5]])
    prior = domains.get("games").load("prior")(fields)(state, action)
    after = model.physical_state(model.step(latent, action, torch.Generator().manual_seed(0)))
    names = ("x", "y", "heading", "grass_x_phase", "grass_y_phase", "road-4_right", "road+0_right", "road+10_ahead")
    exact = [fields.index(f) for f in names]
    torch.testing.assert_close(after[:, exact], prior[:, exact], atol=1e-4, rtol=1e-4)
    # the farthest road sample is what a bend brings into view: learned
    assert not torch.allclose(after[:, fields.index("road+12_right")], prior[:, fields.index("road+12_right")], atol=1e-3)
    # kinematic_fields hand more fields to the prior alone
    more = WorldModel(ModelConfig.from_json({**config.to_json(), "kinematic_fields": ["steering", "angular_velocity"]})).eval()
    more.load_state_dict(model.state_dict())
    held = [fields.index(f) for f in ("steering", "angular_velocity")]
    stepped = more.physical_state(more.step(latent, action, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(stepped[:, held], prior[:, held], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(after[:, held], prior[:, held], atol=1e-3)
    with pytest.raises(ValueError, match="kinematic_fields need dynamics 'kinematic'"):
        ModelConfig.from_json({**config.to_json(), "dynamics": "prior", "kinematic_fields": ["steering"]})
    with pytest.raises(ValueError, match=r"kinematic_fields \['wheel'\] are not state fields"):
        ModelConfig.from_json({**config.to_json(), "kinematic_fields": ["wheel"]})
    # the rest is the prior corrected by the (untrained) learned step, within the prior's bounds
    assert not torch.allclose(after[:, fields.index("speed")], prior[:, fields.index("speed")], atol=1e-2)
    stopped = state.clone()
    stopped[:, 2] = 0.0  # standing, braking: any learned push below 0 is bounded
    latent[:, : config.state_code_dim] = model.normalise_state(stopped)
    braking = torch.tensor([[0.0, 0.0, 1.0]] * 2)
    for seed in range(4):
        bounded = model.physical_state(model.step(latent, braking, torch.Generator().manual_seed(seed)))
        assert (bounded[:, 2] >= -1e-4).all() and (bounded[:, 5] >= -1e-4).all() and (bounded[:, 5] <= 4 + 1e-4).all()
        road = bounded[:, [fields.index(f) for f in field_names()]].reshape(2, -1, 2)
        torch.testing.assert_close((road[:, -1] - road[:, -2]).norm(dim=-1), torch.full((2,), 7.0), atol=1e-3, rtol=0)
    # a prior that names no exact fields cannot serve "kinematic"
    driving = [f.name for f in driving_state_fields(4)]
    bad = ModelConfig(
        domain="driving",
        frame_size=64,
        action_space={"type": "discrete", "n": 5},
        state_fields=driving,
        dynamics="kinematic",
        **TINY,
    )
    with pytest.raises(ValueError, match="names no kinematic fields"):
        WorldModel(bad)


def test_prior_noise_lays_what_no_action_causes():
    from worldsim.model.physics.games import chord_turns

    config, fields = games_kinematic()
    torch.manual_seed(0)
    learned = WorldModel(config).eval()
    laid = WorldModel(ModelConfig.from_json({**config.to_json(), "prior_noise": True})).eval()
    laid.load_state_dict(learned.state_dict())
    # the prior's standard normal draws per step (NOISE_DIM), after the stochastic latent's
    assert laid.noise(3).shape == (3, learned.noise(3).shape[1] + laid.physics.NOISE_DIM)
    draws = laid.noise(2, [torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)])
    torch.testing.assert_close(draws[0], draws[1])
    latent = learned.encode(torch.randint(0, 255, (1, 64, 64, 3), dtype=torch.uint8)).expand(2, -1).clone()
    state = learned.physical_state(latent)
    state[:, 2] = 40.0
    straight = torch.stack([torch.zeros(9), 7.0 * torch.arange(9) - 14.0], -1)  # the road ahead, 7 u apart
    road = [fields.index(f) for f in field_names()]
    state[:, road] = straight.flatten()
    latent[:, : config.state_code_dim] = learned.normalise_state(state)
    left_right = torch.tensor([[-1.0, 0.5, 0.0], [1.0, 0.5, 0.0]])

    class ReadsTheWheel(torch.nn.Module):
        """A learned correction that moves the farthest sample to the right as the wheel turns right."""

        def forward(self, inputs):
            out = torch.zeros(len(inputs), config.state_code_dim)
            out[:, fields.index("road+12_right")] = inputs[:, -3]  # the steering feature
            return out

    def farthest_turns(model):
        model.state_delta = ReadsTheWheel()
        same_draws = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)]
        after = model.physical_state(model.step(latent, left_right, same_draws))
        return chord_turns(after[:, road].reshape(2, -1, 2))[:, -1]

    # learned, the farthest sample reads the wheel; laid by the prior, left and right see one road
    learned_turns, laid_turns = farthest_turns(learned), farthest_turns(laid)
    assert learned_turns[0] - learned_turns[1] > 0.05, learned_turns
    assert (laid_turns[0] - laid_turns[1]).abs() < 1e-3, laid_turns
    with pytest.raises(ValueError, match="prior_noise draws the physics prior's random part"):
        ModelConfig.from_json({**config.to_json(), "prior_noise": True, "dynamics": "delta"})
    driving = [f.name for f in driving_state_fields(4)]
    no_noise = ModelConfig(
        domain="driving",
        frame_size=64,
        action_space={"type": "discrete", "n": 5},
        state_fields=driving,
        dynamics="prior",
        prior_noise=True,
        **TINY,
    )
    with pytest.raises(ValueError, match="draws no random part"):
        WorldModel(no_noise)


def test_prior_reward_pays_what_the_prior_reads_off_each_step():
    config, _ = games_kinematic(prior_reward=True)
    torch.manual_seed(0)
    model = WorldModel(config).eval()
    start = model.encode(torch.randint(0, 255, (2, 64, 64, 3), dtype=torch.uint8))
    actions = torch.tensor([[[0.0, 1.0, 0.0]] * 4, [[0.5, 0.0, 1.0]] * 4])
    rollout = model.imagine(start, actions, generator=torch.Generator().manual_seed(0))
    states = model.physical_state(torch.cat([start[:, None], rollout.latents], 1))
    expected = torch.stack([model.physics.reward(states[:, k], states[:, k + 1]) for k in range(4)], 1)
    torch.testing.assert_close(rollout.rewards, expected)
    assert not torch.allclose(rollout.rewards, model.reward(rollout.latents))  # not the head's
    with pytest.raises(ValueError, match="reads no reward off a step"):
        robotics = ModelConfig(
            domain="robotics",
            frame_size=64,
            action_space={"type": "box", "shape": [2], "low": [0, 0], "high": [512, 512]},
            state_fields=["agent_x", "agent_y", "agent_vx", "agent_vy"],
            dynamics="prior",
            prior_reward=True,
            **TINY,
        )
        WorldModel(robotics)
    with pytest.raises(ValueError, match="prior_reward reads the reward off the physical state"):
        ModelConfig(domain="driving", frame_size=64, action_space={"type": "discrete", "n": 5}, prior_reward=True)


def test_long_rollouts_stay_finite(trained):
    model, _ = load_model(trained)
    generator = torch.Generator().manual_seed(0)
    start = torch.randint(0, 255, (4, 64, 64, 3), dtype=torch.uint8)
    latent = model.encode(start)
    actions = torch.rand(10_000, 4, 2, generator=generator) * 512
    for t in range(10_000):
        latent = model.step(latent, actions[t], generator, physics_blend=0.5 if t % 2 else 1.0)
    assert torch.isfinite(latent).all()
    frame = model.frames_in(start)
    for t in range(200):  # frames drawn on top of the previous output, as the environment does
        latent = model.step(latent, actions[t], generator)
        frame = model.decode(latent, frame)
    assert torch.isfinite(frame).all()
    frames = model.to_uint8(frame)
    assert frames.shape == (4, 64, 64, 3) and frames.dtype == torch.uint8


def test_bad_checkpoints_are_named(trained, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained, bad, ignore=shutil.ignore_patterns("checkpoint", "tb", "videos"))
    with pytest.raises(CheckpointError, match="not 'driving'"):
        load_model(bad, domain="driving")
    (bad / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="model.safetensors: unreadable or corrupt"):
        load_model(bad)
    meta = json.loads((trained / "config.json").read_text())
    meta["format_version"] = 99
    (bad / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_model(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        load_model(bad)
    shutil.copy(trained / "config.json", bad / "config.json")
    meta["format_version"] = FORMAT_VERSION
    meta["model"]["deter_dim"] = 99
    (bad / "config.json").write_text(json.dumps(meta))
    shutil.copy(trained / "model.safetensors", bad / "model.safetensors")
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(bad)


def test_eval_reports_every_k_and_alpha(trained, pusht_data, capsys):
    from worldsim.cli import main

    args = [
        "eval",
        "--checkpoint",
        str(trained),
        "--data",
        str(pusht_data),
        "--ood",
        str(pusht_data),
        "--ks",
        "1,3,20",
        "--windows",
        "6",
        "--json",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["domain"] == "robotics" and set(report["splits"]) == {"held_out", "ood"}
    held = report["splits"]["held_out"]
    assert set(held["model"]) == {"0", "0.5", "1"}
    k1 = held["model"]["1"]["k"]["1"]
    assert k1["n"] > 0 and 0 < k1["psnr"] < 100 and -1 <= k1["ssim"] <= 1
    assert set(k1["state_error"]) == {
        "agent_x",
        "agent_y",
        "agent_vx",
        "agent_vy",
        "block_x",
        "block_y",
        "block_angle",
        "coverage",
    }
    # 16-step episodes cannot reach k = 20 from a 4-frame context: counted as zero windows, not faked.
    assert held["copy_last"]["k"]["20"]["n"] == 0 and held["copy_last"]["k"]["20"]["psnr"] is None
    # At α = 0 the agent follows the exact PD prior, so its position error is far below α = 1's.
    assert held["model"]["0"]["k"]["3"]["state_error"]["agent_x"] < held["model"]["1"]["k"]["3"]["state_error"]["agent_x"]
    assert main(["eval", "--checkpoint", "games", "--data", str(pusht_data)]) == 2


def test_export_writes_weights_and_model_card(trained, pusht_data, tmp_path, capsys):
    from worldsim.cli import main
    from worldsim.envs import WorldSimEnv

    assert main(["eval", "--checkpoint", str(trained), "--data", str(pusht_data), "--ks", "1,3", "--windows", "4", "--json"]) == 0
    report = tmp_path / "eval.json"
    report.write_text(capsys.readouterr().out)
    out = tmp_path / "weights" / "robotics"
    assert main(["export", "--checkpoint", str(trained), "--eval", str(report), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "MODEL_CARD.md",
        "config.json",
        "eval.json",
        "model.safetensors",
        "start_frames.npz",
    ]
    card = (out / "MODEL_CARD.md").read_text()
    assert "worldsim train --domain robotics --data" in card and "| 3 |" in card and "pooled PSNR" in card
    env = WorldSimEnv(checkpoint=out)  # the exported directory is a working checkpoint
    env.reset(seed=0)
    games_report = tmp_path / "games.json"
    games_report.write_text(report.read_text().replace('"domain": "robotics"', '"domain": "games"'))
    assert main(["export", "--checkpoint", str(trained), "--eval", str(games_report), "--out", str(out)]) == 2
    assert "games" in capsys.readouterr().err and (out / "model.safetensors").is_file()  # nothing lost


def test_weights_exported_again_keep_the_stages_that_retrain_them(trained, pusht_data, tmp_path, capsys):
    """The shipped weights are re-exported where the runs that made them are gone (a new text model
    beside them): the card keeps the stages found at the first export, and a changed recipe (a
    derivation copies the config) is walked again."""
    import json
    import shutil

    from worldsim.cli import main

    assert main(["eval", "--checkpoint", str(trained), "--data", str(pusht_data), "--ks", "1", "--windows", "2", "--json"]) == 0
    report = tmp_path / "eval.json"
    report.write_text(capsys.readouterr().out)
    base, tuned = shutil.copytree(trained, tmp_path / "base"), shutil.copytree(trained, tmp_path / "tuned")
    config = json.loads((tuned / "config.json").read_text())
    config["recipe"]["train"]["init"] = str(base)
    (tuned / "config.json").write_text(json.dumps(config))

    def export(source, out):
        assert main(["export", "--checkpoint", str(source), "--eval", str(report), "--out", str(out)]) == 0
        return (out / "MODEL_CARD.md").read_text()

    first = export(tuned, tmp_path / "shipped")
    assert "Wall-clock of the 2 stages" in first and "not found at export" not in first
    shutil.rmtree(base)
    again = export(tmp_path / "shipped", tmp_path / "again")
    assert again.split("## Evaluation")[0] == first.split("## Evaluation")[0]
    derived = json.loads((tmp_path / "again" / "config.json").read_text())
    derived["recipe"]["derived"] = {"from": str(tuned), "options": {}}
    (tmp_path / "again" / "config.json").write_text(json.dumps(derived))
    assert f"python scripts/derive_checkpoint.py {tuned}" in export(tmp_path / "again", tmp_path / "third")
    # derived from the shipped copy, whose own runs are gone: the stages before come from its record
    rederived = shutil.copytree(tmp_path / "shipped", tmp_path / "rederived")
    config = json.loads((rederived / "config.json").read_text())
    config["recipe"]["derived"] = {"from": str(tmp_path / "shipped"), "options": {"termination_threshold": 1.0}}
    config["model"]["termination_threshold"] = 1.0
    (rederived / "config.json").write_text(json.dumps(config))
    card = export(rederived, tmp_path / "fourth")
    assert "Wall-clock of the 2 stages" in card and "not found at export" not in card
    assert f"python scripts/derive_checkpoint.py {tmp_path / 'shipped'} " in card


def test_metrics_identity_and_order():
    from worldsim.model.metrics import psnr, ssim

    a = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(a, a), torch.ones(2))
    assert (psnr(a, a) == 100).all()
    noisy, noisier = (a + 0.05 * torch.randn_like(a)).clamp(0, 1), (a + 0.2 * torch.randn_like(a)).clamp(0, 1)
    assert (psnr(noisy, a) > psnr(noisier, a)).all() and (ssim(noisy, a) > ssim(noisier, a)).all()


def test_palette_snapping():
    from worldsim.model.palette import UNKNOWN, colour_table, palette_from_frames, snap

    frames = np.zeros((2, 8, 8, 3), np.uint8)
    frames[..., :] = (100, 100, 100)  # road
    frames[:, 2:4, 2:5] = (50, 200, 0)  # a car
    frames[0, 7, 7] = (255, 0, 255)  # one stray pixel: below min_share, not a palette colour
    palette = palette_from_frames(frames, min_share=0.01)
    assert palette.shape == (2, 3) and torch.allclose(palette[0], torch.tensor([100.0, 100.0, 100.0]) / 255)
    real = torch.from_numpy(frames[1]).permute(2, 0, 1)[None].float() / 255
    assert torch.equal(snap(real, palette), real)  # real colours stay
    noisy = (real + 0.03 * torch.randn(real.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert torch.equal(snap(noisy, palette), real)  # small drift snaps back
    # scored a chunk of pixels at a time (the vector env's batches), the same answer as all at once
    batch = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    many = palette_from_frames((np.random.default_rng(0).random((4, 8, 8, 3)) * 255).astype(np.uint8), min_share=0)
    assert torch.equal(snap(batch, many, chunk=7), snap(batch, many, chunk=None))
    # the colour table: a second pass answers from it, to the same colours as scoring every pixel
    assert torch.equal(snap(batch, many), snap(batch, many, chunk=None))
    table = colour_table(many)
    assert (table != UNKNOWN).sum() == len(
        torch.unique((batch * 255).round().reshape(5, 3, -1).movedim(1, -1).reshape(-1, 3), dim=0)
    )
    assert torch.equal(snap(batch, many), snap(batch, many, chunk=None))
    # a pixel is snapped as its 8-bit colour: values that round alike snap alike
    levels = (batch * 255).round() / 255
    assert torch.equal(snap(levels + 0.4 / 255 * (torch.rand(batch.shape) - 0.5), many), snap(levels, many))
    # too many colours for a byte's index: every pixel is scored
    wide = torch.rand(300, 3, generator=torch.Generator().manual_seed(2))
    assert colour_table(wide) is None
    assert torch.equal(snap(batch, wide), snap(batch, wide, chunk=None))
