"""Per-dream noise streams, counter-based: every dream's step noise drawn in one batched call.

Dream i must dream the same whether it runs alone or in a batch of 64, so each dream owns a seeded
stream. With a torch.Generator per dream, one step of 64 dreams was 64 small draws (7-12 % of a
64-env latent step, in a Python loop that grows with the batch, on a GPU too). Here a stream is a
key (its seed) and a counter (steps since the seed); entry j of step t is a hash of (key, t, j), in
the manner of counter-based generators (Philox, JAX's threefry keys): all dreams' noise is a
handful of array operations, whatever the batch, and what a dream gets depends only on its seed
and its step, never on its neighbours.

The hash is numpy uint32 arithmetic (Chris Wellons' "lowbias32" mixer, a few rounds), about a
microsecond an operation where torch's int64 operations cost several; uniforms keep its top 23
bits, in (0, 1), and normals come from pairs of them by Box-Muller. It runs on the CPU, so a seed
gives the same noise on every device. Not for cryptography: for a dream's noise, checked for its
moments and for correlation between entries, steps and neighbouring seeds
(tests/test_noise_streams.py)."""

from __future__ import annotations

import math

import numpy as np
import torch

GOLDEN = np.uint32(0x9E3779B9)  # spreads a step's or an entry's index over all 32 bits before mixing
FOLD = np.uint32(0x85EBCA6B)  # keeps a stream's second word from being a copy of its first


def mix32(x: np.ndarray) -> np.ndarray:
    """A bijective mixer of uint32 arrays ("lowbias32"): nearby inputs give unrelated outputs.
    numpy's uint32 products wrap modulo 2**32, which is the arithmetic the mixer wants."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


class NoiseStreams:
    """`num` seeded, counter-based noise streams (see the module's docstring).

    Step t of a stream is a function of its seed and t alone, so a stream can compute `block` steps
    ahead in one call and hand them out one at a time: a single env pays the batched call once
    every `block` steps, not on every one. A reseed drops what was computed ahead."""

    def __init__(self, num: int, block: int = 16):
        if block < 1:
            raise ValueError(f"block must be a positive number of steps, got {block}")
        self.num, self.block = num, block
        self.key = np.zeros((num, 2), dtype=np.uint32)  # a seed's low and high 32 bits
        self.counter = np.zeros(num, dtype=np.uint32)  # steps drawn since the seed
        self.ahead: np.ndarray | None = None  # (num, block, width): steps computed ahead
        self.first = np.zeros(num, dtype=np.uint32)  # the step in `ahead`'s first slot
        self.valid = np.zeros(num, dtype=bool)  # whether `ahead` holds this stream's steps
        self.layout = (0, 0)  # (uniform, normal) widths `ahead` was computed for

    def seed(self, which, seeds) -> None:
        """Streams `which` start over from `seeds` (integers in [0, 2**64))."""
        seeds = np.asarray(seeds, dtype=np.uint64).reshape(-1)
        which = np.asarray(which, dtype=np.int64).reshape(-1)
        self.key[which, 0] = (seeds & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        self.key[which, 1] = (seeds >> np.uint64(32)).astype(np.uint32)
        self.counter[which] = 0
        self.valid[which] = False

    def next(self, uniform_width: int, normal_width: int) -> torch.Tensor:
        """(num, uniform_width + normal_width) float32 on the CPU: every stream's next step,
        uniforms in (0, 1) then standard normals."""
        if self.ahead is None or self.layout != (uniform_width, normal_width):
            self.ahead = np.empty((self.num, self.block, uniform_width + normal_width), np.float32)
            self.layout, self.valid[:] = (uniform_width, normal_width), False
        slot = (self.counter - self.first).astype(np.int64)  # wraps to a large number before `first`
        stale = np.flatnonzero(~self.valid | (slot >= self.block))
        if len(stale):
            steps = self.counter[stale, None] + np.arange(self.block, dtype=np.uint32)
            self.ahead[stale] = draw(self.key[stale], steps, uniform_width, normal_width)
            self.first[stale], self.valid[stale], slot[stale] = self.counter[stale], True, 0
        self.counter += np.uint32(1)
        return torch.from_numpy(self.ahead[np.arange(self.num), slot])


def bits(key: np.ndarray, steps: np.ndarray, width: int) -> np.ndarray:
    """(k, s, width) uint32 random bits: entry j of step `steps[i, t]` of the stream keyed `key[i]`.
    The (seed, step) pair is mixed into two words (64 bits: two streams meet on a step's noise
    with odds of 2**-64, not 2**-32), then each entry's index is mixed in with them."""
    low, high, step = key[:, None, :1], key[:, None, 1:], steps[..., None] * GOLDEN
    first = mix32(low ^ mix32(step + high))
    second = mix32(high ^ mix32(step ^ low ^ FOLD))
    index = np.arange(1, width + 1, dtype=np.uint32) * GOLDEN
    return mix32(mix32(first ^ index) + second)


def draw(key: np.ndarray, steps: np.ndarray, uniform_width: int, normal_width: int) -> np.ndarray:
    """(k, s, uniform_width + normal_width) float32: uniforms in (0, 1), then standard normals (each
    from two uniforms, by Box-Muller), of steps `steps` (k, s) of the streams keyed `key` (k, 2)."""
    raw = bits(key, steps, uniform_width + 2 * normal_width)
    # The top 23 bits and a half: in (0, 1) in float32, so that log(u) is finite.
    u = ((raw >> np.uint32(9)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-23)
    if not normal_width:
        return u
    a, b = u[..., uniform_width : uniform_width + normal_width], u[..., uniform_width + normal_width :]
    normal = np.sqrt(np.float32(-2) * np.log(a)) * np.cos(np.float32(2 * math.pi) * b)
    return np.concatenate([u[..., :uniform_width], normal], -1)
