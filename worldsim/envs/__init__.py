"""Gymnasium environments over learned world models."""

from worldsim.envs.world_sim_env import WorldSimEnv

__all__ = ["WorldSimEnv"]
