"""Gymnasium environments over learned world models."""

from worldsim.envs.real_env import RealWorldEnv
from worldsim.envs.world_sim_env import WorldSimEnv

__all__ = ["RealWorldEnv", "WorldSimEnv"]
