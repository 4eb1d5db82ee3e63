"""Gymnasium ids, registered on `import worldsim`.

`WorldSim-v0` (driving) and `WorldSim-<domain>-v0` observe pixels; `WorldSim-<domain>-latent-v0` and
`WorldSim-<domain>-state-v0` observe flat vectors, for scripts that take nothing but an id (CleanRL,
RL Zoo, SB3's `make_vec_env`) and build an MLP over the observation.

Gymnasium has no plugin hook that registers ids in a fresh interpreter: a worker process that
makes its env from an id string (SB3's `SubprocVecEnv` under spawn or forkserver) knows these ids
only if it imports worldsim, which `gym.make("worldsim:<id>")` does.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from worldsim import domains

ENTRY_POINT = "worldsim.envs.world_sim_env:WorldSimEnv"
VECTOR_ENTRY_POINT = "worldsim.envs.vector_env:WorldSimVectorEnv"
# Observation variants besides pixels, each with its own id per domain.
FLAT_OBS_TYPES = ("latent", "state")
IDS = {
    "WorldSim-v0": {},
    **{f"WorldSim-{name}-v0": {"domain": name} for name in domains.names()},
    **{
        f"WorldSim-{name}-{obs_type}-v0": {"domain": name, "obs_type": obs_type}
        for name in domains.names()
        for obs_type in FLAT_OBS_TYPES
    },
}


def register_envs() -> None:
    for env_id, kwargs in IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, kwargs=kwargs)
