"""WorldSim: learned generative world models of real simulators, served as Gymnasium environments."""

__version__ = "0.1.0"
