"""A real `worldsim collect` process, killed with SIGKILL mid-run, then resumed by the same command."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from worldsim.data import CollectRequest, Dataset, Episode, collect


def test_sigkill_then_resume(tmp_path):
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "worldsim.cli",
        "collect",
        "--domain",
        "robotics",
        "--episodes",
        "24",
        "--max-steps",
        "60",
        "--workers",
        "2",
        "--seed",
        "3",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    proc = subprocess.Popen(command, start_new_session=True, env=env, stdout=subprocess.DEVNULL)
    episodes = out / "episodes"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(episodes.glob("*.npz"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job, workers included, as `kill -9` on a shell job
    proc.wait()
    finished = sorted(episodes.glob("*.npz"))
    assert 2 <= len(finished) < 24, "the kill must land mid-collection"
    for path in finished:  # whatever is visible is complete
        assert len(Episode.load(path)) > 0

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    data = Dataset(out)
    assert sorted(data.episode_paths) == list(range(24))
    assert not (out / ".scratch").exists()

    # The resumed dataset equals one collected without interruption.
    clean = tmp_path / "clean"
    collect(CollectRequest(domain="robotics", out=str(clean), episodes=24, max_steps=60, seed=3), progress=False)
    for i in range(24):
        a, b = data.episode(i), Dataset(clean).episode(i)
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.states, b.states)
