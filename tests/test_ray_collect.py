"""Collection on Ray: the same dataset, byte for byte, as the local backend; a worker killed
mid-episode is retried and leaves nothing partial behind."""

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
