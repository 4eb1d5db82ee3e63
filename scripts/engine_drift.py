"""How far a dream on engine="onnx" drifts from the same dream on engine="torch" (BENCHMARKS.md,
"Inference paths"): each shipped model as a single pixel env, 3 seeds, the same random actions on
both engines, the share of pixels of another colour at steps 1, 10, 50, 100 and 200 (an episode
that ends on either engine ends the comparison).

    python scripts/engine_drift.py [DOMAIN ...]   (default: driving robotics games)
"""

import sys

import numpy as np

from worldsim.envs.world_sim_env import WorldSimEnv

STEPS = (1, 10, 50, 100, 200)
for domain in sys.argv[1:] or ["driving", "robotics", "games"]:
    envs = [WorldSimEnv(domain=domain, obs_type="pixels", engine=e, episode_steps=max(STEPS)) for e in ("torch", "onnx")]
    differing: dict[int, list[float]] = {}
    for seed in range(3):
        for env in envs:
            env.reset(seed=seed)
        envs[0].action_space.seed(seed)
        for t in range(1, max(STEPS) + 1):
            action = envs[0].action_space.sample()
            (a, _, end_a, *_), (b, _, end_b, *_) = (env.step(action) for env in envs)
            if t in STEPS:
                differing.setdefault(t, []).append(float((a != b).any(-1).mean()))
            if end_a or end_b:
                break
    shares = ", ".join(f"step {t}: {100 * np.mean(v):.2f} % ({len(v)} seeds)" for t, v in differing.items())
    print(f"{domain}: pixels differing {shares}")
