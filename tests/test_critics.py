"""The frame critics of the long-horizon evaluation on synthetic frames: no simulator, no world model.

Frames are 16x16 noise, some with a bright square; recipes are cut to tens of steps so the file
runs in seconds on one CPU thread.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from worldsim.model.critics import ProbeRecipe, RealismRecipe, StateProbe, realism_accuracy, realism_control, split_groups

QUICK = RealismRecipe(steps=60, batch_size=32)
PROBE = ProbeRecipe(steps=200, batch_size=32, hidden=64)


def noise(rng: np.random.Generator, n: int, height: int = 16, width: int = 16) -> np.ndarray:
    return rng.integers(0, 120, (n, height, width, 3), dtype=np.uint8)


def with_square(frames: np.ndarray, rng: np.random.Generator, side: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The frames with a white square at a random place, and each square's (x, y)."""
    out = frames.copy()
    xy = rng.integers(0, frames.shape[1] - side + 1, (len(frames), 2))
    for frame, (x, y) in zip(out, xy):
        frame[y : y + side, x : x + side] = 255
    return out, xy.astype(np.float32)


def test_realism_tells_clearly_different_sets_apart():
    rng = np.random.default_rng(0)
    real, _ = with_square(noise(rng, 240), rng)
    dream = noise(rng, 240)
    groups = np.repeat(np.arange(24), 10)
    result = realism_accuracy(real, dream, groups, groups, QUICK, seed=0)
    assert result["accuracy"] > 0.9
    assert result["recipe"]["steps"] == 60


def test_realism_on_one_distribution_is_near_chance_and_balanced():
    rng = np.random.default_rng(1)
    # 20 frames per real episode, 10 per dream one: balancing keeps 10 of each class per test group.
    groups_real, groups_dream = np.repeat(np.arange(24), 20), np.repeat(np.arange(24), 10)
    real, _ = with_square(noise(rng, len(groups_real)), rng)
    dream, _ = with_square(noise(rng, len(groups_dream)), rng)
    result = realism_accuracy(real, dream, groups_real, groups_dream, QUICK, seed=0)
    assert 0.35 <= result["accuracy"] <= 0.65
    assert result["n_test"] == 2 * 10 * len(result["test_groups"])
    assert result["n_train"] == 2 * 10 * len(result["train_groups"])
    assert len(result["test_groups"]) == round(0.3 * 24)


def test_realism_groups_never_straddle_train_and_test():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(12), 10)
    result = realism_accuracy(noise(rng, 120), noise(rng, 120), groups, groups, RealismRecipe(steps=2), seed=3)
    assert not set(result["train_groups"]) & set(result["test_groups"])
    assert set(result["train_groups"]) | set(result["test_groups"]) == set(range(12))

    # Shared ids (a dream of each recorded episode), disjoint ids (the control) and a mix: both classes
    # always on both sides, no group on both.
    cases = [(range(10), range(10)), (range(5), range(5, 10)), ([0, 1], [1, 2]), ([0, 1, 2], [2, 3]), (range(2), range(2))]
    for groups_real, groups_dream in cases:
        for seed in range(20):
            train, test = split_groups(np.array(groups_real), np.array(groups_dream), 0.3, seed)
            assert not set(train) & set(test)
            assert set(train) | set(test) == set(groups_real) | set(groups_dream)
            for groups in (set(groups_real), set(groups_dream)):
                assert groups & set(train) and groups & set(test), (groups_real, groups_dream, seed, train, test)


def test_realism_control_on_real_frames_is_near_chance():
    rng = np.random.default_rng(3)
    real, _ = with_square(noise(rng, 480), rng)
    groups = np.repeat(np.arange(48), 10)
    result = realism_control(real, groups, QUICK, seed=0)
    assert 0.35 <= result["accuracy"] <= 0.65
    assert len(result["other_groups"]) == 24
    assert set(result["train_groups"]) | set(result["test_groups"]) == set(range(48))


def test_realism_is_repeatable_and_leaves_the_global_rng_alone():
    rng = np.random.default_rng(4)
    real, dream = noise(rng, 80), noise(rng, 80)
    groups = np.repeat(np.arange(8), 10)
    before = torch.random.get_rng_state()
    first = realism_accuracy(real, dream, groups, groups, RealismRecipe(steps=5), seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert realism_accuracy(real, dream, groups, groups, RealismRecipe(steps=5), seed=7) == first


def test_too_few_groups_is_a_clear_error():
    rng = np.random.default_rng(5)
    frames = noise(rng, 20)
    with pytest.raises(ValueError, match="at least 2 groups.*got 1 real and 2 dream"):
        realism_accuracy(frames, frames, np.zeros(20), np.repeat([0, 1], 10))
    with pytest.raises(ValueError, match="at least 4 groups.*got 3"):
        realism_control(frames[:15], np.repeat([0, 1, 2], 5))
    with pytest.raises(ValueError, match="one group per frame"):
        realism_accuracy(frames, frames, np.arange(19), np.arange(20))


def test_frame_sizes_are_any_multiple_of_16():
    rng = np.random.default_rng(6)
    groups = np.repeat(np.arange(4), 2)
    for height, width in ((64, 64), (32, 48)):
        frames = noise(rng, 8, height, width)
        assert realism_accuracy(frames, frames, groups, groups, RealismRecipe(steps=1), seed=0)["n_test"] > 0
        probe = StateProbe.fit(frames, np.ones((8, 2)), ProbeRecipe(steps=1), seed=0)
        assert probe.predict(frames).shape == (8, 2)
    with pytest.raises(ValueError, match="multiples of 16"):
        realism_accuracy(noise(rng, 8, 20, 20), noise(rng, 8, 20, 20), groups, groups)
    with pytest.raises(ValueError, match="fitted on"):
        probe.predict(noise(rng, 2, 64, 64))


def test_probe_reads_a_position_off_the_frame_and_repeats_itself():
    rng = np.random.default_rng(7)
    frames, xy = with_square(noise(rng, 400), rng)
    # A constant field (a "present" flag always on) passes through with std 1.
    states = np.concatenate([xy, np.ones((400, 1), np.float32)], axis=1)
    before = torch.random.get_rng_state()
    probe = StateProbe.fit(frames[:300], states[:300], PROBE, seed=0)
    assert torch.equal(torch.random.get_rng_state(), before)

    error = probe.error(frames[300:], states[300:])
    assert error.shape == (3,)
    assert (error[:2] < 0.25 * xy.std(0)).all(), (error, xy.std(0))
    assert error[2] < 0.1

    predicted = probe.predict(frames[300:])
    assert predicted.dtype == np.float32 and predicted.shape == (100, 3)
    np.testing.assert_array_equal(probe.predict(frames[300:]), predicted)
    np.testing.assert_array_equal(StateProbe.fit(frames[:300], states[:300], PROBE, seed=0).predict(frames[300:]), predicted)
    assert probe.errors(frames[300:], states[300:]).shape == (100, 3)


def test_angle_errors_are_measured_around_the_circle():
    from worldsim.model.critics import absolute_difference

    a = np.array([[np.radians(179), 10.0]])
    b = np.array([[np.radians(-179), 4.0]])
    assert np.allclose(absolute_difference(a, b, np.array([True, False])), [[np.radians(2), 6.0]], atol=1e-6)
    assert np.allclose(absolute_difference(a, b), [[np.radians(358), 6.0]], atol=1e-5)  # unmarked: plain


def test_probe_reads_angles_as_cos_and_sin():
    rng = np.random.default_rng(8)
    n = 400
    theta = rng.uniform(-np.pi, np.pi, n).astype(np.float32)  # half of them within 90 degrees of the wrap
    frames = np.zeros((n, 16, 16, 3), np.uint8)
    for frame, t in zip(frames, theta):  # a hand from the centre pointing at theta
        for r in np.linspace(0, 7, 15):
            frame[int(round(8 + r * np.sin(t))) % 16, int(round(8 + r * np.cos(t))) % 16] = 255
    states = np.stack([theta, rng.normal(0, 1, n).astype(np.float32)], 1)
    angles = np.array([True, False])
    probe = StateProbe.fit(frames[:300], states[:300], PROBE, seed=0, angles=angles)
    assert probe.net.head[-1].out_features == 3  # the angle as two outputs, the other field as one
    read = probe.predict(frames[300:])
    assert np.abs(read[:, 0]).max() <= np.pi + 1e-5  # an angle comes back as an angle
    assert probe.error(frames[300:], states[300:], angles)[0] < 0.5  # chance: pi / 2
    with pytest.raises(ValueError, match="mark each of the 2"):
        StateProbe.fit(frames, states, PROBE, angles=np.array([True]))
