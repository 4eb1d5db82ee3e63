"""WorldSim: learned generative world models of real simulators, served as Gymnasium environments."""

from worldsim.registration import register_envs

__version__ = "0.1.0"

register_envs()
