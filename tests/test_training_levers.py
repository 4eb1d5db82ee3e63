"""World model v2's training options: the dream's own burn-in, motion-weighted pixels, the frame
reader and its consistency term, noisy conditioning frames, fine-tuning from a checkpoint."""

import json

import numpy as np
import pytest
import torch
from tiny_models import TINY

from worldsim.data import CollectRequest, Dataset, WindowSampler, collect
from worldsim.model.checkpoint import CheckpointError, load_model
from worldsim.model.config import FORMAT_VERSION
from worldsim.model.objective import LossWeights, _changed, first_frames, pixel_weight, to_tensors, world_model_loss
from worldsim.model.train import TrainConfig, model_config_for, train
from worldsim.model.world_model import WorldModel

LEVERS = {"motion": 10.0, "consistency": 1.0, "conditioning_noise": 0.02}


@pytest.fixture(scope="module")
def pusht(tmp_path_factory):
    out = tmp_path_factory.mktemp("levers") / "pusht"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=4, max_steps=24, seed=1), progress=False)
    return out


def config(data, out, **kw):
    base = dict(
        data=str(data), out=str(out), steps=4, batch_size=4, context=3, horizon=4, checkpoint_every=2, log_every=2,
        video_every=1000, val_batches=1, model=TINY,
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def lever_run(pusht, tmp_path_factory):
    out = tmp_path_factory.mktemp("levers") / "run"
    result = train(config(pusht, out, burn_in=5, weights=LEVERS), progress=False)
    return out, result


def tiny_model(sampler, **overrides) -> WorldModel:
    model = WorldModel(model_config_for(sampler.dataset, {**TINY, **overrides}))
    model.fit_state_normalisation(torch.from_numpy(sampler.states))
    return model


def test_a_run_with_every_lever_trains_and_records_its_recipe(lever_run):
    out, result = lever_run
    parts = result["validation"]
    assert {"reader", "consistency", "recon_imag"} <= set(parts)
    assert all(np.isfinite(v) for v in parts.values())
    meta = json.loads((out / "config.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["model"]["frame_reader"] is True
    command = meta["recipe"]["command"]
    assert "--burn-in 5" in command and '"motion": 10.0' in command


def test_burn_in_scores_the_horizon_after_the_dreams_own_steps(pusht):
    sampler = WindowSampler(pusht, 3 + 5 + 4 - 1, "all")
    model = tiny_model(sampler)
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))
    g = torch.Generator().manual_seed(0)
    loss, parts = world_model_loss(model, batch, 3, LossWeights(), g, torch.ones(2), burn_in=5)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="burn_in 9 leaves no scored step"):
        world_model_loss(model, batch, 3, LossWeights(), g, torch.ones(2), burn_in=9)
    short = first_frames(batch, 7)
    assert short["frames"].shape[1] == 7 and short["states"].shape[1] == 7 and short["actions"].shape[1] == 6


def test_consistency_trains_the_decoder_not_its_judge(pusht):
    sampler = WindowSampler(pusht, 8, "all")
    model = tiny_model(sampler)
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))
    weights = LossWeights(consistency=1.0, reader=0.0, state=0.0, reward=0.0, termination=0.0, kl=0.0)
    plain = LossWeights(reader=0.0, state=0.0, reward=0.0, termination=0.0, kl=0.0)

    def grads(w):
        model.zero_grad()
        loss, _ = world_model_loss(model, batch, 3, w, torch.Generator().manual_seed(0), torch.ones(2))
        loss.backward()
        return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    with_term, without = grads(weights), grads(plain)
    # (The encoder does move: the decoder reads its maps of the previous frame. The reader is the
    # judge alone.)
    judge = [k for k in with_term if k.startswith("frame_reader.")]
    assert judge
    for k in judge:
        assert torch.equal(with_term[k], without[k]), k
    decoder = [k for k in with_term if k.startswith("decoder.")]
    assert any(not torch.allclose(with_term[k], without[k]) for k in decoder)


def test_motion_mask_marks_what_changed():
    before = torch.zeros(1, 3, 4, 4)
    after = before.clone()
    after[0, 2, 1, 1] = 0.5  # one pixel turned blue
    start = before.clone()
    start[0, 0, 3, 3] = 1.0  # one pixel was red when the dream started
    mask = _changed(after, before, start, threshold=0.05)
    assert mask.shape == (1, 1, 4, 4)
    assert mask[0, 0, 1, 1] == 1 and mask[0, 0, 3, 3] == 1 and mask.sum() == 2


def test_foreground_weighs_pixels_by_how_rare_they_are_at_their_place():
    frames = torch.ones(4, 3, 4, 4)  # a white table ...
    frames[0, :, 1, 1] = 0.0  # ... with a black object in one frame
    mean = frames.mean(0)
    assert pixel_weight(LossWeights(), frames, mean) is None
    weight = pixel_weight(LossWeights(foreground=10.0), frames, mean)
    assert weight.shape == (4, 1, 4, 4)
    assert weight[0, 0, 1, 1] == pytest.approx(1 + 10 * 3 * 0.75)  # 3 channels, each 0.75 off the mean
    assert weight[1, 0, 1, 1] == pytest.approx(1 + 10 * 3 * 0.25) and weight[0, 0, 0, 0] == 1.0
    both = pixel_weight(LossWeights(foreground=10.0, motion=5.0), frames[1:2], mean, frames[0:1])
    assert both[0, 0, 1, 1] == pytest.approx(1 + 5 + 10 * 3 * 0.25) and both[0, 0, 0, 0] == 1.0


def test_the_decoder_learns_at_its_own_rate_and_a_run_resumes_with_it(pusht, tmp_path):
    out = tmp_path / "rates"
    train(config(pusht, out, steps=2, decoder_lr=2e-3), progress=False)
    groups = json.loads((out / "checkpoint" / "training.json").read_text())["optimizer_groups"]
    model, _ = load_model(out)
    assert [g["lr"] for g in groups] == [6e-4, 2e-3]
    assert len(groups[1]["params"]) == len(list(model.decoder.parameters()))
    assert "--decoder-lr 0.002" in json.loads((out / "config.json").read_text())["recipe"]["command"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train(config(pusht, out, steps=3, decoder_lr=2e-3), progress=False, resume=True)
    after, _ = load_model(out)
    assert any(not torch.equal(before[k], v) for k, v in after.decoder.state_dict(prefix="decoder.").items())
    with pytest.raises(ValueError, match="--decoder-lr at least 0"):
        train(config(pusht, tmp_path / "bad", decoder_lr=-1.0), progress=False)


def test_bad_training_options_are_named(pusht, tmp_path):
    with pytest.raises(ValueError, match="unknown loss weights: motoin"):
        train(config(pusht, tmp_path / "a", weights={"motoin": 1.0}), progress=False)
    with pytest.raises(ValueError, match="--burn-in must be at least 0"):
        train(config(pusht, tmp_path / "b", burn_in=-1), progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_non_finite_gradient_stops_the_run_before_it_reaches_the_weights(pusht, tmp_path, monkeypatch):
    from worldsim.model import distributed

    real = distributed.world_model_loss
    calls = []

    def poisoned(model, *args, **kwargs):  # finite for two steps, then a NaN in the loss
        loss, parts = real(model, *args, **kwargs)
        calls.append(1)
        return (loss * float("nan") if len(calls) > 2 else loss), parts

    monkeypatch.setattr(distributed, "world_model_loss", poisoned)
    with pytest.raises(FloatingPointError, match="step 3: the gradient is not finite"):
        train(config(pusht, tmp_path / "run"), progress=False)
    saved, _ = load_model(tmp_path / "run" / "checkpoint")  # the step-2 checkpoint, untouched by the NaN
    assert all(torch.isfinite(p).all() for p in saved.parameters())


def test_a_decoder_that_draws_from_the_latent_alone_ignores_the_previous_frame(pusht):
    sampler = WindowSampler(pusht, 3 + 2 + 4 - 1, "all")
    model = WorldModel(model_config_for(sampler.dataset, {**TINY, "draws_on_previous": False}))
    model.fit_state_normalisation(torch.from_numpy(sampler.states))
    latent = torch.randn(2, model.config.latent_dim)
    black, white = torch.zeros(2, 3, 64, 64), torch.ones(2, 3, 64, 64)
    assert torch.equal(model.draw(latent, black), model.draw(latent, white))
    drawing = WorldModel(model_config_for(sampler.dataset, TINY))  # the default draws on top of it
    assert not torch.equal(drawing.draw(latent, black), drawing.draw(latent, white))
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))
    loss, parts = world_model_loss(model, batch, 3, LossWeights(), torch.Generator().manual_seed(0), torch.ones(2), burn_in=2)
    assert torch.isfinite(loss) and np.isfinite(parts["recon_imag"])


@pytest.mark.parametrize("decoder", ["broadcast", "field"])
def test_latent_only_decoders_draw_from_the_latent_alone_and_need_no_previous_frame(pusht, decoder):
    sampler = WindowSampler(pusht, 3 + 4 - 1, "all")
    with pytest.raises(ValueError, match="set draws_on_previous to false"):
        model_config_for(sampler.dataset, {**TINY, "decoder": decoder})
    with pytest.raises(ValueError, match="decoder is one of upsample, broadcast, field"):
        model_config_for(sampler.dataset, {**TINY, "decoder": "pixelshuffle"})
    model = tiny_model(sampler, draws_on_previous=False, decoder=decoder)
    latent = torch.randn(2, model.config.latent_dim)
    frame = model.draw(latent, torch.zeros(2, 3, 64, 64))
    assert frame.shape == (2, 3, 64, 64) and torch.equal(frame, model.draw(latent, torch.ones(2, 3, 64, 64)))
    assert not torch.allclose(frame[0], frame[1])  # the latent, and only it, decides the frame
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))
    loss, _ = world_model_loss(model, batch, 3, LossWeights(), torch.Generator().manual_seed(0), torch.ones(2))
    loss.backward()
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_fine_tuning_into_a_coordinate_encoder_keeps_what_the_encoder_computed(pusht, lever_run, tmp_path):
    source, _ = lever_run
    out = tmp_path / "coords"
    train(config(pusht, out, steps=0, init=str(source), model={**TINY, "encoder_coordinates": True}), progress=False)
    before, _ = load_model(source)
    after, _ = load_model(out)
    assert after.encoder.stages[0][0].weight.shape[1] == 5 and after.config.encoder_coordinates
    frames = torch.rand(3, 3, 64, 64)
    assert torch.allclose(before.encoder(frames), after.encoder(frames), atol=1e-5)


def test_wrapped_angles_are_kept_wrapped_and_their_errors_measured_around_the_circle(pusht):
    sampler = WindowSampler(pusht, 3 + 4 - 1, "all")
    model = tiny_model(sampler, angle_coding="wrapped")
    assert model.config.angle_fields == ["block_angle"]  # the data's one field in radians
    assert model.config.state_code_dim == model.config.state_dim
    k = model.config.state_fields.index("block_angle")
    near_pi = torch.zeros(2, model.config.state_dim)
    near_pi[0, k], near_pi[1, k] = np.radians(179), np.radians(-179)
    a, b = model.normalise_state(near_pi)
    assert float(model.state_error(a, b)) < float(model.state_error(a, model.normalise_state(torch.zeros_like(near_pi))[0]))
    beyond = model.normalise_state(torch.full((1, model.config.state_dim), 4.0))
    wrapped = model.denormalise_state(model.wrap_state(beyond))
    assert float(wrapped[0, k]) == pytest.approx(4.0 - 2 * np.pi, abs=1e-5)
    assert torch.allclose(wrapped[0, :k], torch.full((k,), 4.0))  # other fields untouched
    latent = torch.randn(3, model.config.latent_dim) * 5
    stepped = model.physical_state(model.step(latent, torch.zeros(3, 2)))
    assert stepped[:, k].abs().max() <= np.pi + 1e-5


def test_angles_are_held_as_cos_and_sin_by_default(pusht):
    sampler = WindowSampler(pusht, 3 + 4 - 1, "all")
    model = tiny_model(sampler)
    c = model.config
    assert c.angle_coding == "cos_sin" and c.state_code_dim == c.state_dim + 1
    assert c.latent_dim == c.state_code_dim + c.deter_dim + c.stoch_dim
    k = c.state_fields.index("block_angle")
    states = torch.from_numpy(sampler.states[:50]).float()
    code = model.normalise_state(states)
    assert code.shape == (50, c.state_dim + 1)
    assert torch.allclose(code[:, k], states[:, k].cos()) and torch.allclose(code[:, -1], states[:, k].sin())
    others = [i for i in range(c.state_dim) if i != k]
    assert torch.allclose(code[:, others], ((states - model.state_mean) / model.state_std)[:, others])
    assert torch.allclose(model.denormalise_state(code), states, atol=1e-4)  # a round trip
    # +179 and -179 degrees are neighbours in the code, as they are on the table
    near_pi = torch.zeros(2, c.state_dim)
    near_pi[0, k], near_pi[1, k] = np.radians(179), np.radians(-179)
    a, b = model.normalise_state(near_pi)
    assert float(model.state_error(a, b)) < 0.01
    # the learned dynamics keep the pair on the unit circle, however far a step moves it
    latent = torch.randn(3, c.latent_dim) * 5
    s = model.split(model.step(latent, torch.zeros(3, 2)))[0]
    assert torch.allclose(s[:, k] ** 2 + s[:, -1] ** 2, torch.ones(3), atol=1e-5)
    assert model.physical_state(latent).shape == (3, c.state_dim)


def test_fine_tuning_starts_from_the_checkpoint(pusht, lever_run, tmp_path):
    source, _ = lever_run
    out = tmp_path / "ft"
    train(config(pusht, out, steps=0, init=str(source)), progress=False)
    a, _ = load_model(source)
    b, _ = load_model(out)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), f"{k} changed in a zero-step fine-tune"
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        train(config(pusht, tmp_path / "none", init=str(tmp_path / "missing")), progress=False)


def test_format_2_models_load_without_a_frame_reader(lever_run, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    source, _ = lever_run
    old = tmp_path / "v2"
    shutil.copytree(source, old, ignore=shutil.ignore_patterns("checkpoint", "tb", "videos"))
    meta = json.loads((old / "config.json").read_text())
    meta["format_version"] = 2
    del meta["model"]["frame_reader"]
    (old / "config.json").write_text(json.dumps(meta))
    tensors = {k: v for k, v in load_file(str(old / "model.safetensors")).items() if not k.startswith("frame_reader.")}
    save_file(tensors, str(old / "model.safetensors"))
    model, _ = load_model(old)
    assert model.frame_reader is None
    with pytest.raises(ValueError, match="no frame reader"):
        model.read_frames(torch.zeros(1, 3, 64, 64))
    meta["format_version"] = 1
    (old / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format_version 1, this WorldSim reads versions 2, 3"):
        load_model(old)


def test_the_ensemble_agrees_where_it_learned_and_not_elsewhere(pusht):
    sampler = WindowSampler(pusht, 8, "all")
    torch.manual_seed(0)
    model = WorldModel(model_config_for(sampler.dataset, {**TINY, "ensemble": 3}))
    model.fit_state_normalisation(torch.from_numpy(sampler.states))
    batch = to_tensors(sampler.sample(4, np.random.default_rng(0)))
    steps = batch["actions"].shape[1]

    @torch.no_grad()
    def disagreement(latents):  # mean over the window's transitions
        actions = model.action_features(batch["actions"])
        return float(
            torch.stack([model.uncertainty(latents[:, t], latents[:, t + 1], actions[:, t]) for t in range(steps)]).mean()
        )

    with torch.no_grad():
        embed = model.encoder(model.frames_in(batch["frames"]).flatten(0, 1)).view(4, steps + 1, -1)
        seen = model.unroll_posterior(embed, batch["actions"])[0]
    elsewhere = torch.randn(seen.shape, generator=torch.Generator().manual_seed(1)) * 3
    before = disagreement(seen)
    heads = torch.optim.Adam(model.dynamics_ensemble.parameters(), lr=3e-3)
    only = LossWeights(kl=0, reader=0, reward=0, termination=0)
    for i in range(120):  # each step its own bootstrap halves
        loss, parts = world_model_loss(model, batch, 3, only, torch.Generator().manual_seed(i), torch.ones(4))
        heads.zero_grad()
        loss.backward()
        heads.step()
    assert "ensemble" in parts
    after = disagreement(seen)
    assert after < 0.5 * before and disagreement(elsewhere) > 2 * after


def test_envs_report_the_ensembles_uncertainty(pusht, tmp_path):
    from worldsim.envs import WorldSimEnv
    from worldsim.envs.vector_env import WorldSimVectorEnv

    out = tmp_path / "ensemble"
    train(config(pusht, out, steps=2, model={**TINY, "ensemble": 2}), progress=False)
    assert "uncertainty" not in WorldSimEnv(checkpoint=out, obs_type="latent").reset(seed=0)[1]  # opt-in: it costs
    env = WorldSimEnv(checkpoint=out, obs_type="latent", uncertainty=True)
    _, info = env.reset(seed=0)
    assert info["uncertainty"] == 0.0
    _, _, _, _, info = env.step(env.action_space.sample())
    assert isinstance(info["uncertainty"], float) and info["uncertainty"] >= 0
    venv = WorldSimVectorEnv(3, checkpoint=out, obs_type="latent", uncertainty=True)
    venv.reset(seed=0)
    info = venv.step(np.stack([venv.single_action_space.sample() for _ in range(3)]))[-1]
    assert info["uncertainty"].shape == (3,)
    with pytest.raises(ValueError, match="ensemble is 0"):
        model_config_for(Dataset(pusht), {"ensemble": 1})


def test_models_without_an_ensemble_report_no_uncertainty(lever_run):
    from worldsim.envs import WorldSimEnv

    out, _ = lever_run
    assert "uncertainty" not in WorldSimEnv(checkpoint=out, obs_type="latent").reset(seed=0)[1]
    with pytest.raises(ValueError, match="needs a model with a dynamics ensemble"):
        WorldSimEnv(checkpoint=out, obs_type="latent", uncertainty=True)


def test_state_forcing_draws_posterior_frames_from_the_true_state(pusht):
    sampler = WindowSampler(pusht, 3 + 4 - 1, "all")
    batch = to_tensors(sampler.sample(3, np.random.default_rng(0)))
    model = tiny_model(sampler, draws_on_previous=False)  # the frame is then the latent's alone
    with torch.no_grad():  # a decoder that looks at the state slot (an untrained one barely does)
        model.decoder.inp.weight[:, : model.config.state_code_dim].normal_(0, 3)

    def recon(share: float) -> float:
        weights = LossWeights(state_forcing=share)
        _, parts = world_model_loss(model, batch, 3, weights, torch.Generator().manual_seed(0), torch.ones(3))
        return float(parts["recon_post"])

    before = {share: recon(share) for share in (0.0, 1.0)}
    with torch.no_grad():  # another filter: a different state slot in every posterior latent
        model.state_net[-1].bias.add_(3.0)
    assert recon(1.0) == before[1.0]  # drawn from the true state alone: the filter's state is not looked at
    assert abs(recon(0.0) - before[0.0]) > 1e-3
    with pytest.raises(ValueError, match="state_forcing"):
        LossWeights(state_forcing=1.5)


def test_true_start_dreams_from_the_simulators_state(pusht, monkeypatch):
    sampler = WindowSampler(pusht, 3 + 4 - 1, "all")
    batch = to_tensors(sampler.sample(3, np.random.default_rng(0)))
    model = tiny_model(sampler)
    S, starts = model.config.state_code_dim, []
    imagine = model.imagine
    monkeypatch.setattr(model, "imagine", lambda latent, *a, **k: starts.append(latent.detach()) or imagine(latent, *a, **k))
    truth = model.normalise_state(batch["states"][:, 2])  # the last context frame's state
    for share in (0.0, 1.0):
        world_model_loss(model, batch, 3, LossWeights(true_start=share), torch.Generator().manual_seed(0), torch.ones(3))
    filtered, forced = starts
    torch.testing.assert_close(forced[:, :S], truth)
    assert not torch.allclose(filtered[:, :S], truth, atol=1e-2)  # an untrained filter's state is not the truth
    torch.testing.assert_close(forced[:, S:], filtered[:, S:])  # the rest of the latent as filtered
    with pytest.raises(ValueError, match="true_start"):
        LossWeights(true_start=-0.1)


def test_format_3_models_load_with_wrapped_angles(pusht, tmp_path):
    out = tmp_path / "v3"
    train(config(pusht, out, steps=2, model={**TINY, "angle_coding": "wrapped"}), progress=False)
    meta = json.loads((out / "config.json").read_text())
    meta["format_version"] = 3  # written before angle_coding existed: no such field
    del meta["model"]["angle_coding"]
    (out / "config.json").write_text(json.dumps(meta))
    model, _ = load_model(out)
    assert model.config.angle_coding == "wrapped" and model.config.state_code_dim == model.config.state_dim


def test_the_first_step_from_a_filtered_latent_is_scored_in_every_batch(pusht):
    sampler = WindowSampler(pusht, 3 + 5 + 4 - 1, "all")
    model = tiny_model(sampler)
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))

    def parts(first_step, burn_in=5):
        weights = LossWeights(first_step=first_step)
        return world_model_loss(model, batch, 3, weights, torch.Generator().manual_seed(0), torch.ones(2), burn_in=burn_in)[1]

    assert np.isfinite(parts(1.0)["first_step"]) and parts(1.0)["first_step"] > 0
    assert "first_step" not in parts(0.0)  # off by default: recorded recipes train as they did
    assert "first_step" not in parts(1.0, burn_in=0)  # without a burn-in that step is scored anyway


def test_the_first_step_teaches_the_dynamics_and_leaves_the_encoder_alone(pusht):
    """Weighted twice as much, the first-step term changes the dynamics' gradients and not the
    encoder's: the step learns to continue from what the encoder gives, not the other way round."""
    sampler = WindowSampler(pusht, 3 + 5 + 4 - 1, "all")
    model = tiny_model(sampler)
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))

    def grads(first_step):
        model.zero_grad()
        weights = LossWeights(first_step=first_step)
        loss = world_model_loss(model, batch, 3, weights, torch.Generator().manual_seed(0), torch.ones(2), burn_in=5)[0]
        loss.backward()
        return {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    once, twice = grads(1.0), grads(2.0)
    moved = {k for k in once if not torch.allclose(once[k], twice[k], rtol=1e-5, atol=1e-8)}
    assert any(k.startswith("gru") for k in moved)
    assert not any(k.startswith(("encoder.", "posterior_net.", "state_net.")) for k in moved), sorted(moved)


def test_fresh_starts_put_a_share_of_batches_right_after_the_filtered_latent():
    from worldsim.model.train import TrainConfig, draw_burn_in, train

    # without fresh starts the draws are those of earlier releases, one integers call each
    rng, reference = np.random.default_rng(3), np.random.default_rng(3)
    assert [draw_burn_in(rng, 24) for _ in range(500)] == [int(reference.integers(0, 25)) for _ in range(500)]
    rng = np.random.default_rng(0)
    fresh = np.array([draw_burn_in(rng, 24, 0.5) for _ in range(4000)])
    assert abs((fresh == 0).mean() - (0.5 + 0.5 / 25)) < 0.03 and fresh.max() == 24
    assert draw_burn_in(rng, 0, 1.0) == 0
    with pytest.raises(ValueError, match="--fresh-starts must lie in"):
        train(TrainConfig(data="unused", out="unused", fresh_starts=1.5), progress=False)


def test_fine_tuning_into_dynamics_that_read_the_age_keeps_their_step(pusht, lever_run, tmp_path):
    """The age's inputs start at zero weight: the grown model steps as its source did, at every age,
    until training gives the age a say."""
    source, _ = lever_run
    out = tmp_path / "aged"
    train(config(pusht, out, steps=0, init=str(source), model={**TINY, "dynamics_age": 3}), progress=False)
    before, _ = load_model(source)
    after, _ = load_model(out)
    assert after.config.dynamics_age == 3 and after.state_delta[0].weight.shape[1] == before.state_delta[0].weight.shape[1] + 3
    latent, actions = 0.3 * torch.randn(4, after.config.latent_dim), torch.rand(4, 5, 2) * 512

    def dream(model, age=0):
        return model.imagine(latent, actions, generator=torch.Generator().manual_seed(0), age=age).latents

    with torch.no_grad():
        old = dream(before)
        for age in (0, 1, torch.tensor([0, 2, 7, 40])):
            torch.testing.assert_close(dream(after, age), old)
        after.state_delta[0].weight[:, -3:].normal_()
        fresh, late, later = (dream(after, age) for age in (0, 2, 9))
    assert not torch.allclose(fresh[:, 0], late[:, 0])  # age 0 against the last bucket
    torch.testing.assert_close(late, later)  # the last bucket holds every later step


def test_the_scored_steps_follow_the_burn_in_at_its_age(pusht, monkeypatch):
    """Dynamics reading the age are stepped from 0 in the burn-in and from the burn-in's length on
    the scored horizon, as a dream that has taken those steps; the first-step term from 0."""
    sampler = WindowSampler(pusht, 3 + 5 + 4 - 1, "all")
    model = tiny_model(sampler, dynamics_age=4)
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))
    seen, step = [], model.imagine_step

    def recorded(*args, **kw):
        seen.append(int(args[5] if len(args) > 5 else kw["age"]))
        return step(*args, **kw)

    monkeypatch.setattr(model, "imagine_step", recorded)
    world_model_loss(model, batch, 3, LossWeights(first_step=1.0), torch.Generator().manual_seed(0), torch.ones(2), burn_in=5)
    assert seen == [0] + [0, 1, 2, 3, 4] + [5, 6, 7, 8]


def test_bad_dynamics_ages_are_named(pusht):
    sampler = WindowSampler(pusht, 4, "all")
    with pytest.raises(ValueError, match="dynamics_age is 0 .off. or at least 2 buckets, got 1"):
        model_config_for(sampler.dataset, {**TINY, "dynamics_age": 1})


def test_envs_count_each_dreams_steps_since_its_start(pusht, lever_run, tmp_path):
    from worldsim.envs.world_sim_env import WorldSimEnv

    out = tmp_path / "aged-env"
    train(config(pusht, out, steps=0, init=str(lever_run[0]), model={**TINY, "dynamics_age": 3}), progress=False)
    env = WorldSimEnv(checkpoint=str(out), obs_type="latent")
    env.reset(seed=0)
    assert env.dream.age.tolist() == [0]
    for _ in range(4):
        env.step(env.action_space.sample())
    assert env.dream.age.tolist() == [4]
    env.reset(seed=1)
    assert env.dream.age.tolist() == [0]
    plain = WorldSimEnv(checkpoint=str(lever_run[0]), obs_type="latent")  # dynamics that read no age count none
    plain.reset(seed=0)
    plain.step(plain.action_space.sample())
    assert plain.dream.age.tolist() == [0]


def test_train_only_changes_the_named_parts_and_holds_the_rest(pusht, lever_run, tmp_path):
    source, _ = lever_run
    out = tmp_path / "dynamics-only"
    train(config(pusht, out, steps=3, init=str(source), decoder_lr=2e-3, train_only=["state_delta"]), progress=False)
    before, after = load_model(source)[0].state_dict(), load_model(out)[0].state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("state_delta.") for k in moved), sorted(moved)
    recorded = json.loads((out / "config.json").read_text())
    assert "--train-only state_delta" in json.dumps(recorded)
    with pytest.raises(ValueError, match=r"--train-only dynamics: no parameter is named so .*state_delta"):
        train(config(pusht, tmp_path / "bad", steps=1, init=str(source), train_only=["dynamics"]), progress=False)


def test_dynamics_reading_the_state_alone_step_the_same_state_alike_whatever_the_memory(pusht):
    sampler = WindowSampler(pusht, 4, "all")
    model = tiny_model(sampler, dynamics_reads="state").eval()
    S, latent = model.config.state_code_dim, 0.3 * torch.randn(2, model.config.latent_dim)
    other = torch.cat([latent[:, :S], torch.randn(2, model.config.latent_dim - S)], -1)  # same state, other memory
    action = model.action_features(torch.rand(2, 2) * 512)
    with torch.no_grad():
        a, b = (model.imagine_step(x, action, None, 1.0)[:, :S] for x in (latent, other))
        reading = tiny_model(sampler).eval()
        c, d = (reading.imagine_step(x, action, None, 1.0)[:, :S] for x in (latent, other))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(c, d)  # the default dynamics read the memory too
    with pytest.raises(ValueError, match="dynamics_reads is one of latent, state, got 'frames'"):
        model_config_for(sampler.dataset, {**TINY, "dynamics_reads": "frames"})
