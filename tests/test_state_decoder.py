"""A decoder that draws from the latent's physical state alone (`decoder_input="state"`)."""

import numpy as np
import pytest
import torch
from tiny_models import TINY as TINY_SIZES

from worldsim.data import CollectRequest, Dataset, WindowSampler, collect
from worldsim.model.checkpoint import load_model
from worldsim.model.objective import LossWeights, to_tensors, world_model_loss
from worldsim.model.train import TrainConfig, model_config_for, train
from worldsim.model.world_model import WorldModel

TINY = {**TINY_SIZES, "draws_on_previous": False}
STATE = {**TINY, "decoder": "field", "decoder_input": "state"}


@pytest.fixture(scope="module")
def pusht(tmp_path_factory):
    out = tmp_path_factory.mktemp("state-decoder") / "pusht"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=3, max_steps=20, seed=5), progress=False)
    return out


def test_frames_follow_the_state_slot_and_nothing_else(pusht):
    model = WorldModel(model_config_for(Dataset(pusht), STATE)).eval()
    S, D = model.config.state_code_dim, model.config.deter_dim
    latent = torch.randn(2, model.config.latent_dim)
    other = latent.clone()
    other[:, S:] = torch.randn(2, model.config.latent_dim - S)  # a different memory and stochastic part
    moved = latent.clone()
    moved[:, 0] += 1.0  # the agent elsewhere
    with torch.no_grad():
        frame = model.draw(latent, None)
        assert torch.equal(frame, model.draw(other, None))
        assert not torch.equal(frame, model.draw(moved, None))
    assert model.decoder.film.in_features == S and D > 0


def test_pixels_do_not_train_the_state_the_decoder_reads(pusht):
    sampler = WindowSampler(pusht, 7, "all")
    model = WorldModel(model_config_for(sampler.dataset, STATE))
    model.fit_state_normalisation(torch.from_numpy(sampler.states))
    batch = to_tensors(sampler.sample(2, np.random.default_rng(0)))
    pixels_only = LossWeights(kl=0.0, state=0.0, reward=0.0, termination=0.0, reader=0.0)
    loss, _ = world_model_loss(model, batch, 3, pixels_only, torch.Generator().manual_seed(0), torch.ones(2))
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.state_net.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())


def test_fine_tuning_into_a_state_decoder_keeps_the_decoders_shape_layers(pusht, tmp_path):
    base = dict(
        data=str(pusht), steps=2, batch_size=2, context=3, horizon=3, checkpoint_every=2, log_every=1,
        video_every=1000, val_batches=1,
    )  # fmt: skip
    train(TrainConfig(out=str(tmp_path / "latent"), model={**TINY, "decoder": "field"}, **base), progress=False)
    before, _ = load_model(tmp_path / "latent")
    tuned = tmp_path / "state"
    train(TrainConfig(out=str(tuned), init=str(tmp_path / "latent"), model={"decoder_input": "state"}, **{**base, "steps": 1}),
          progress=False)  # fmt: skip
    after, _ = load_model(tuned)
    assert after.config.decoder_input == "state"
    assert after.decoder.film.in_features == after.config.state_code_dim  # fresh: it reads another input
    # the layers that draw the field carry over (one Adam step moves each weight by about the lr)
    assert torch.allclose(after.decoder.mix.weight, before.decoder.mix.weight, atol=0.01)


def test_a_state_decoder_needs_a_state_and_a_latent_only_decoder(pusht):
    data = Dataset(pusht)
    with pytest.raises(ValueError, match="decoder_input is one of latent, state"):
        model_config_for(data, {"decoder_input": "pose"})
    with pytest.raises(ValueError, match="decoder_input 'state' needs a decoder drawing from the latent alone"):
        model_config_for(data, {"decoder_input": "state"})  # draws on the previous frame by default


PERIODIC = {**STATE, "decoder_periods": {"agent_x": 100.0}}


def test_a_periodic_field_is_drawn_by_its_phase(pusht):
    model = WorldModel(model_config_for(Dataset(pusht), PERIODIC)).eval()
    model.fit_state_normalisation(torch.from_numpy(WindowSampler(pusht, 7, "all").states))
    S = model.config.state_code_dim
    assert model.decoder.film.in_features == S + 1  # the phase's sine is appended

    def shifted(latent, units):  # agent_x (slot 0) moved by `units` in the field's own unit
        out = latent.clone()
        out[:, 0] += units / model.state_std[0]
        return out

    latent = torch.randn(2, model.config.latent_dim)
    with torch.no_grad():
        frame = model.draw(latent, None)
        assert torch.allclose(frame, model.draw(shifted(latent, 100.0), None), atol=1e-5)  # a whole period on
        assert not torch.allclose(frame, model.draw(shifted(latent, 50.0), None), atol=1e-3)
        code = model.drawn_state(latent[:, :S])
        phase = 2 * torch.pi * model.denormalise_state(latent[:, :S])[:, 0] / 100.0
        assert torch.allclose(code[:, 0], phase.cos(), atol=1e-4) and torch.allclose(code[:, -1], phase.sin(), atol=1e-4)


def test_periods_survive_a_checkpoint(pusht, tmp_path):
    run = dict(data=str(pusht), steps=1, batch_size=2, context=3, horizon=3, log_every=1, video_every=1000, val_batches=1)
    train(TrainConfig(out=str(tmp_path / "run"), model=PERIODIC, **run), progress=False)
    model, _ = load_model(tmp_path / "run")
    assert model.config.decoder_periods == {"agent_x": 100.0}
    assert model.decoder.film.in_features == model.config.state_code_dim + 1


def test_bad_periods_are_named(pusht):
    data = Dataset(pusht)
    with pytest.raises(ValueError, match="decoder_periods need a decoder reading the state"):
        model_config_for(data, {**TINY, "decoder": "field", "decoder_periods": {"agent_x": 100.0}})
    with pytest.raises(ValueError, match=r"decoder_periods \['lane'\] are not state fields"):
        model_config_for(data, {**STATE, "decoder_periods": {"lane": 4.0}})
    with pytest.raises(ValueError, match="decoder_periods must be positive numbers"):
        model_config_for(data, {**STATE, "decoder_periods": {"agent_x": 0}})
    with pytest.raises(ValueError, match="an angle field is already read"):
        model_config_for(data, {**STATE, "decoder_periods": {"block_angle": 3.0}})


def test_a_static_layer_draws_what_every_frame_shows_in_one_place(pusht):
    """A pixel that shows the same colour in every frame is learned by the static layer: fitted to
    frames whose corner is one red, that corner comes out red whatever the state says."""
    model = WorldModel(model_config_for(Dataset(pusht), {**STATE, "decoder_static": True}))
    optimiser = torch.optim.Adam(model.decoder.parameters(), lr=0.05)
    red = torch.tensor([0.8, 0.0, 0.0])[:, None, None]
    for _ in range(60):
        states = torch.randn(8, model.config.state_code_dim)
        target = torch.rand(8, 3, 64, 64)
        target[:, :, :8, :8] = red
        loss = ((model.draw_state(states) - target)[:, :, :8, :8] ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        corner = model.draw_state(torch.randn(4, model.config.state_code_dim))[:, :, :8, :8]
        opacity = torch.sigmoid(model.decoder.static_opacity)
    assert (corner - red).abs().max() < 0.1
    # the layer grew opaque there (from 2 %), and stayed untouched elsewhere
    assert opacity[..., :8, :8].min() > 0.1 and opacity[..., 32:, 32:].max() < 0.02
    with pytest.raises(ValueError, match="decoder_static is a layer of the field decoder"):
        model_config_for(Dataset(pusht), {**TINY, "decoder": "broadcast", "decoder_static": True})
