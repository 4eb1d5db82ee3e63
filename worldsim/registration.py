"""Gymnasium ids: `WorldSim-v0` (driving) and one per domain, registered on `import worldsim`."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from worldsim import domains

ENTRY_POINT = "worldsim.envs.world_sim_env:WorldSimEnv"
VECTOR_ENTRY_POINT = "worldsim.envs.vector_env:WorldSimVectorEnv"
# `WorldSim-v0` serves the default domain; each built-in domain has its own id.
IDS = {"WorldSim-v0": {}, **{f"WorldSim-{name}-v0": {"domain": name} for name in domains.names()}}


def register_envs() -> None:
    for env_id, kwargs in IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT, kwargs=kwargs)
