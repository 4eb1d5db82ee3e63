"""Gymnasium ids: `WorldSim-v0` (driving) and one per domain, registered on `import worldsim`."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENTRY_POINT = "worldsim.envs.world_sim_env:WorldSimEnv"
VECTOR_ENTRY_POINT = "worldsim.envs.vector_env:WorldSimVectorEnv"
IDS = {
    "WorldSim-v0": {},
    "WorldSim-driving-v0": {"domain": "driving"},
    "WorldSim-robotics-v0": {"domain": "robotics"},
    "WorldSim-games-v0": {"domain": "games"},
}


def register_envs() -> None:
    for env_id, kwargs in IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, kwargs=kwargs)
