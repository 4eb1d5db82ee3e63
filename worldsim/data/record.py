"""Drive a source with a behaviour policy for one episode and keep everything it showed."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from worldsim.behaviour import BehaviourPolicy
from worldsim.data.episode import Episode
from worldsim.sources.base import Source


def episode_seeds(seed: int, index: int) -> tuple[int, np.random.Generator]:
    """The simulator seed and the policy's generator for episode `index` of a dataset seeded `seed`.

    Derived with a SeedSequence so episodes are independent, and each is reproducible on its own
    (a resumed collection records exactly the episodes an uninterrupted one would have).
    """
    env_seq, policy_seq = np.random.SeedSequence([seed, index]).spawn(2)
    return int(env_seq.generate_state(1)[0] & 0x7FFFFFFF), np.random.default_rng(policy_seq)


def record_episode(source: Source, policy: BehaviourPolicy, seed: int, index: int, max_steps: int) -> Episode:
    env_seed, rng = episode_seeds(seed, index)
    obs = source.reset(seed=env_seed)
    policy.reset(rng, source)
    frames, states, captions = [obs.frame], [obs.state], [obs.caption]
    actions, rewards, terminated, truncated, events = [], [], [], [], []
    for t in range(max_steps):
        action = policy.act(source, obs)
        obs = source.step(action)
        actions.append(action)
        rewards.append(obs.reward)
        terminated.append(obs.terminated)
        # Cutting an episode at max_steps is a truncation, like a TimeLimit.
        truncated.append(obs.truncated or (t == max_steps - 1 and not obs.terminated))
        frames.append(obs.frame)
        states.append(obs.state)
        captions.append(obs.caption)
        events += [f"{t}:{e}" for e in obs.info.get("events", [])]
        if obs.terminated or obs.truncated:
            break
    action_dtype = np.int64 if isinstance(source.action_space, gym.spaces.Discrete) else np.float32
    return Episode(
        frames=np.stack(frames),
        actions=np.asarray(actions, dtype=action_dtype),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminated=np.asarray(terminated, dtype=bool),
        truncated=np.asarray(truncated, dtype=bool),
        states=np.stack(states).astype(np.float32),
        captions=np.asarray(captions, dtype=str),
        meta={"index": index, "env_seed": env_seed, "style": policy.style, "events": events},
    )
