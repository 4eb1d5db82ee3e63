"""Counter-based noise streams: a dream's noise depends on its seed and step only, and is noise."""

import numpy as np
import pytest
import torch
from test_model import games_kinematic
from tiny_models import TINY

from worldsim.model.config import ModelConfig
from worldsim.model.noise_streams import NoiseStreams
from worldsim.model.world_model import WorldModel


def test_a_stream_alone_draws_what_it_draws_in_a_batch_whatever_its_neighbours_do():
    alone = NoiseStreams(1)
    alone.seed([0], [2**40 + 7])
    batch = NoiseStreams(5)
    batch.seed(np.arange(5), [1, 2, 2**40 + 7, 3, 4])
    for step in range(6):
        if step == 3:
            batch.seed([0, 4], [11, 12])  # the neighbours start over; stream 2 carries on
        np.testing.assert_array_equal(alone.next(3, 8)[0], batch.next(3, 8)[2])


def test_computing_steps_ahead_changes_no_draw():
    streams = [NoiseStreams(3, block=b) for b in (1, 5, 16)]
    for s in streams:
        s.seed(np.arange(3), [7, 8, 9])
    for step in range(23):
        if step == 7:
            for s in streams:
                s.seed([1], [70])  # a reseed mid-block
        width = (4, 6) if step < 15 else (0, 3)  # another layout drops what was computed ahead
        first, *others = (s.next(*width) for s in streams)
        for other in others:
            torch.testing.assert_close(other, first, rtol=0, atol=0)


def test_a_seed_restarts_its_stream_and_other_seeds_give_other_noise():
    streams = NoiseStreams(3)
    streams.seed(np.arange(3), [5, 6, 5 + 2**32])  # the third differs from the first in the high word only
    first = [streams.next(0, 16) for _ in range(3)]
    streams.seed([0], [5])
    again = streams.next(0, 16)
    torch.testing.assert_close(again[0], first[0][0], rtol=0, atol=0)
    assert not torch.equal(first[0][0], first[1][0])  # steps differ
    assert not torch.equal(first[0][0], first[0][1]) and not torch.equal(first[0][0], first[0][2])


def test_uniforms_and_normals_have_the_moments_they_should_and_no_correlation():
    streams = NoiseStreams(512)
    streams.seed(np.arange(512), np.arange(512) * 3 + 1)
    draws = torch.stack([streams.next(16, 16) for _ in range(64)], 1)  # (stream, step, 32)
    u, z = draws[..., :16], draws[..., 16:]
    assert u.min() > 0 and u.max() < 1  # a logarithm of each is finite (Gumbel-max, Box-Muller)
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01 and abs((z**4).mean() - 3) < 0.1

    def corr(a, b):
        return torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1].abs()

    # 262,144 pairs each: chance correlation has a std of about 0.002
    assert corr(z[:, :-1], z[:, 1:]) < 0.01  # one step and the next
    assert corr(z[:-1], z[1:]) < 0.01  # neighbouring seeds
    assert corr(z[..., :-1], z[..., 1:]) < 0.01  # neighbouring entries


def test_the_model_lays_out_each_kind_of_noise_from_streams():
    config, _ = games_kinematic(prior_noise=True)
    model = WorldModel(config).eval()
    streams = NoiseStreams(2)
    streams.seed([0, 1], [1, 2])
    noise = model.noise(2, streams)
    assert noise.shape == (2, model.stochastic.noise_dim + model.prior_noise_dim)
    space = {"type": "discrete", "n": 4}
    categorical = WorldModel(ModelConfig(domain="robotics", frame_size=64, action_space=space, **{**TINY, "stoch_classes": 4}))
    noise = categorical.noise(2, streams)
    assert noise.shape == (2, categorical.stochastic.noise_dim) and noise.min() > 0 and noise.max() < 1  # uniforms
    with pytest.raises(ValueError, match="2 noise streams for a batch of 3"):
        model.noise(3, streams)
