"""Agents trained in WorldSim dreams and scored on the real simulators: the library behind the
`agents/` scripts, which are its command lines.

Modules, bottom to top (each imports only those below it): `envs` (dream and real VecEnvs in the
units agents act in), `play` (real episodes kept whole), `callbacks`, `training` (one agent, and
reusing a finished run), `correct` (refitting a dream's heads on an agent's real episodes),
`transfer` (the dream against real experiment). `diagnose` measures why an agent falls short; it
is imported by name (`worldsim.agents.diagnose`), not from here.
"""

from worldsim.agents.callbacks import ProgressBar, TimedEvalCallback
from worldsim.agents.correct import CorrectionConfig, correct_heads
from worldsim.agents.envs import (
    RescaledActions,
    dream_of,
    dream_venv,
    for_agents,
    needs_rescaling,
    real_venv,
    to_env_action,
)
from worldsim.agents.play import PlayedEpisode, RandomAgent, play_real
from worldsim.agents.training import ALGOS, AgentConfig, evaluate, finished, load_agent, make_agent, train_agent
from worldsim.agents.transfer import TransferConfig, run_transfer

__all__ = [
    "ALGOS",
    "AgentConfig",
    "CorrectionConfig",
    "PlayedEpisode",
    "ProgressBar",
    "RandomAgent",
    "RescaledActions",
    "TimedEvalCallback",
    "TransferConfig",
    "correct_heads",
    "dream_of",
    "dream_venv",
    "evaluate",
    "finished",
    "for_agents",
    "load_agent",
    "make_agent",
    "needs_rescaling",
    "play_real",
    "real_venv",
    "run_transfer",
    "to_env_action",
    "train_agent",
]
