"""SB3 callbacks for training agents in a dream and scoring them on the real simulator."""

from __future__ import annotations

import time

from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from tqdm import tqdm


class TimedEvalCallback(EvalCallback):
    """SB3's EvalCallback that also counts the seconds it spends evaluating, so the training
    wall-clock reported for dream and real agents is training alone (real-simulator evaluation
    episodes cost the same for both and would hide the dream's speed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds = 0.0

    def _on_step(self) -> bool:
        start = time.perf_counter()
        keep_going = super()._on_step()
        self.seconds += time.perf_counter() - start
        return keep_going


class ProgressBar(BaseCallback):
    """A tqdm bar over environment steps (SB3's own bar needs `rich`)."""

    def __init__(self, total: int, desc: str, disable: bool = False):
        super().__init__()
        self.bar = tqdm(total=total, unit="step", desc=desc, disable=disable)

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()
