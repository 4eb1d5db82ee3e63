"""Data-parallel training: 2 gloo ranks on the CPU average gradients into those of the whole batch,
only rank 0 writes, and a killed run resumes on any number of ranks."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from tiny_models import TINY

from worldsim.data import CollectRequest, WindowSampler, collect
from worldsim.model import distributed
from worldsim.model.objective import LossWeights, to_tensors, world_model_loss
from worldsim.model.train import model_config_for
from worldsim.model.world_model import WorldModel


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pusht(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "pusht"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=4, max_steps=24, seed=1), progress=False)
    return out


def tiny_model(sampler) -> WorldModel:
    torch.manual_seed(0)
    model = WorldModel(model_config_for(sampler.dataset, TINY))
    model.fit_state_normalisation(torch.from_numpy(sampler.states))
    return model


def shard_loss(model, batch, rank):
    """The loss of one rank's half of the batch, its noise from a rank-seeded generator."""
    half = {k: v[2 * rank : 2 * rank + 2] for k, v in batch.items()}
    return world_model_loss(model, half, 3, LossWeights(), torch.Generator().manual_seed(rank), torch.ones(2))[0]


def _rank(rank, port, data, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    ranks = distributed.from_environment()
    distributed.start(ranks, torch.device("cpu"))
    sampler = WindowSampler(data, 7, "all")
    model = tiny_model(sampler)
    batch = to_tensors(sampler.sample(4, np.random.default_rng(0)))
    loss = distributed.loss_function(model, ranks)
    half = {k: v[2 * rank : 2 * rank + 2] for k, v in batch.items()}
    value, _ = loss(half, 3, LossWeights(), torch.Generator().manual_seed(rank), torch.ones(2))
    value.backward()
    if rank == 0:
        np.savez(out, **{k: p.grad.numpy() for k, p in model.named_parameters() if p.grad is not None})
    distributed.stop(ranks)


def kill_tree(pid: int) -> None:
    """SIGKILL `pid` and every process below it (torchrun starts its ranks in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    tree, queue = [], [pid]
    while queue:
        tree.append(queue.pop())
        queue += children.get(tree[-1], [])
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_two_ranks_average_gradients_into_the_whole_batchs(pusht, tmp_path):
    out = tmp_path / "grads.npz"
    torch.multiprocessing.spawn(_rank, args=(free_port(), str(pusht), str(out)), nprocs=2)
    sampler = WindowSampler(pusht, 7, "all")
    model = tiny_model(sampler)
    batch = to_tensors(sampler.sample(4, np.random.default_rng(0)))
    # One process, the whole batch: its loss is the mean of the two halves' (every window is
    # full-length, so each half's means weigh the same), each half's noise as its rank drew it.
    ((shard_loss(model, batch, 0) + shard_loss(model, batch, 1)) / 2).backward()
    ddp = np.load(out)
    grads = {k: p.grad.numpy() for k, p in model.named_parameters() if p.grad is not None}
    assert set(ddp.files) == set(grads)
    for k, g in grads.items():
        # float32 sums in another order: equal to a millionth of the tensor's largest entry
        np.testing.assert_allclose(ddp[k], g, rtol=1e-4, atol=1e-6 * np.abs(g).max(), err_msg=k)


def torchrun(pusht, out, steps, *extra, nproc=2):
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", f"--master-port={free_port()}"]
    command += ["-m", "worldsim", "train", "--data", str(pusht), "--out", str(out), "--steps", str(steps), "--batch-size", "4"]
    command += ["--context", "3", "--horizon", "3", "--checkpoint-every", "2", "--video-every", "1000", "--threads", "1"]
    command += ["--model", json.dumps(TINY), "--quiet", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_torchrun_trains_and_only_rank_0_writes(pusht, tmp_path):
    out = tmp_path / "run"
    job = torchrun(pusht, out, 4)
    log, _ = job.communicate(timeout=240)
    assert job.returncode == 0, log
    meta = json.loads((out / "config.json").read_text())
    assert meta["recipe"]["distributed"] == {"ranks": 2, "global_batch": 4, "per_rank_batch": 2}
    assert sorted(p.name for p in out.iterdir()) == [
        ".lock", "checkpoint", "config.json", "model.safetensors", "start_frames.npz", "tb", "videos"
    ]  # fmt: skip
    assert len(list((out / "tb").glob("events.out.tfevents*"))) == 1  # one writer, rank 0's


def test_a_killed_ddp_run_resumes_on_any_number_of_ranks(pusht, tmp_path):
    out = tmp_path / "run"
    job = torchrun(pusht, out, 400)
    deadline = time.time() + 240
    while not (out / "checkpoint" / "training.json").exists():
        assert job.poll() is None and time.time() < deadline, job.stdout.read() if job.poll() is not None else "timeout"
        time.sleep(0.5)
    kill_tree(job.pid)  # the launcher and its ranks at once, as a lost machine would
    job.wait()
    step = json.loads((out / "checkpoint" / "training.json").read_text())["step"]
    again = torchrun(pusht, out, step + 2, "--resume")
    log, _ = again.communicate(timeout=240)
    assert again.returncode == 0, log
    assert json.loads((out / "checkpoint" / "training.json").read_text())["step"] == step + 2
    from worldsim.cli import main  # and once more on a single process

    args = ["train", "--data", str(pusht), "--out", str(out), "--steps", str(step + 4), "--batch-size", "4"]
    args += ["--context", "3", "--horizon", "3", "--checkpoint-every", "2", "--video-every", "1000"]
    assert main(args + ["--model", json.dumps(TINY), "--quiet", "--resume"]) == 0
    assert json.loads((out / "checkpoint" / "training.json").read_text())["step"] == step + 4


def test_the_global_batch_must_split_over_the_ranks(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ValueError, match="does not split evenly over 3 ranks"):
        distributed.per_rank_batch(16, distributed.from_environment())
