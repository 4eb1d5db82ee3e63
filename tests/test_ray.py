"""Ray: collection writes the same dataset, byte for byte, as the local backend, and a worker killed
mid-episode is retried and leaves nothing partial behind; fanned-out jobs (transfer seeds,
counterfactual scenarios) give what they give locally."""

import hashlib

import pytest

from worldsim.data import CollectRequest, Dataset, collect
from worldsim.data.collect import KILL_ONCE

pytest.importorskip("ray")


def digests(root):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "episodes").glob("*.npz"))}


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "data"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=4, max_steps=6, seed=5), progress=False)
    return out


def test_ray_collection_equals_the_local_one(local, tmp_path):
    out = tmp_path / "ray"
    result = collect(
        CollectRequest(domain="robotics", out=str(out), episodes=4, max_steps=6, seed=5), workers=2, progress=False, backend="ray"
    )
    assert result["recorded"] == 4
    assert digests(out) == digests(local) and len(digests(out)) == 4
    assert (out / "dataset.json").read_text() == (local / "dataset.json").read_text()


def test_a_killed_task_is_retried_and_nothing_partial_appears(local, tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv(KILL_ONCE, str(marks))  # every episode's first attempt dies mid-task
    out = tmp_path / "ray"
    request = CollectRequest(domain="robotics", out=str(out), episodes=4, max_steps=6, seed=5)
    collect(request, workers=2, progress=False, backend="ray")
    assert sorted(p.name for p in marks.iterdir()) == [f"killed_{i}" for i in range(4)]
    assert digests(out) == digests(local)
    assert not (out / ".scratch").exists() and len(Dataset(out)) == 4


def test_backend_options_are_checked(tmp_path):
    request = CollectRequest(domain="robotics", out=str(tmp_path / "x"), episodes=1, max_steps=2)
    with pytest.raises(ValueError, match="unknown backend 'spark'"):
        collect(request, backend="spark", progress=False)
    with pytest.raises(ValueError, match="needs --backend ray"):
        collect(request, address="ray://head:10001", progress=False)


def test_jobs_on_ray_return_what_they_return_locally():
    from posixpath import join

    from worldsim.fanout import run_jobs

    jobs = [("a", "b"), ("c", "d", "e"), ("f",)]
    assert run_jobs(join, jobs, "ray", cpus=2) == run_jobs(join, jobs) == ["a/b", "c/d/e", "f"]
    with pytest.raises(ValueError, match="needs --backend ray"):
        run_jobs(join, jobs, address="ray://head:10001")


def test_the_counterfactual_suite_on_ray_equals_the_local_one(tiny_run):
    from worldsim.counterfactual.suite import run_suite

    options = dict(checkpoint=str(tiny_run("driving")), ats=(2,), hold=2, progress=False, scenarios=["cut_in"])
    assert run_suite(**options, backend="ray") == run_suite(**options)


def test_transfer_seeds_fan_out_on_ray(tiny_run, tmp_path):
    from worldsim.agents.transfer import TransferConfig, run_transfer

    options = dict(
        domain="robotics", checkpoint=str(tiny_run("robotics")), steps=32, seeds=(0, 1), num_envs=2, episode_steps=5,
        eval_episodes=1, agents=("dream",), out=str(tmp_path), quiet=True, threads=1,
    )  # fmt: skip
    on_ray = run_transfer(TransferConfig(**options, backend="ray"))
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")}
    assert len(stamps) == 2  # each seed's agent, written by its Ray task
    local = run_transfer(TransferConfig(**options))  # finds them all finished: trains nothing
    assert stamps == {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/result.json")}
    assert local["summary"] == on_ray["summary"] and "--backend" not in local["command"]
