import json

import numpy as np
import pytest
from tiny_models import TINY

from worldsim.cli import main
from worldsim.data import CollectRequest, Dataset, DatasetUnion, WindowSampler, collect, open_dataset


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Two PushT recordings of one source (5 and 4 episodes) and a CarRacing one."""
    root = tmp_path_factory.mktemp("union")
    for name, domain, episodes, seed in (("a", "robotics", 5, 1), ("b", "robotics", 4, 2), ("car", "games", 2, 3)):
        collect(CollectRequest(domain=domain, out=str(root / name), episodes=episodes, max_steps=6, seed=seed), progress=False)
    return root


def test_one_directory_opens_as_a_dataset_and_several_as_their_union(recordings):
    a, b = recordings / "a", recordings / "b"
    assert isinstance(open_dataset(str(a)), Dataset)
    union = open_dataset(f"{a}, {b}")
    assert isinstance(union, DatasetUnion) and len(union) == 9
    assert union.indices() == list(range(9))
    # episode 5 of the union is episode 0 of the second directory, frame for frame
    np.testing.assert_array_equal(union.episode(5).frames, Dataset(b).episode(0).frames)
    # each member keeps its own split
    assert union.indices("val", 0.3) == Dataset(a).indices("val", 0.3) + [5 + i for i in Dataset(b).indices("val", 0.3)]
    with pytest.raises(KeyError, match="no episode 9"):
        union.episode(9)


def test_the_unions_summary_adds_up_its_members(recordings):
    union = open_dataset(f"{recordings / 'a'},{recordings / 'b'}")
    summary = union.summary()
    parts = [Dataset(recordings / name).summary() for name in ("a", "b")]
    assert summary["episodes"] == 9 and summary["transitions"] == sum(p["transitions"] for p in parts)
    assert summary["split"]["train"] + summary["split"]["val"] == 9
    returns = [r for name in ("a", "b") for r in _returns(Dataset(recordings / name))]
    assert summary["episode_return"]["mean"] == pytest.approx(np.mean(returns))
    assert summary["episode_return"]["std"] == pytest.approx(np.std(returns), abs=1e-9)
    assert [m["path"] for m in summary["members"]] == [str(recordings / "a"), str(recordings / "b")]


def _returns(dataset):
    return [float(e.rewards.sum()) for e in dataset.episodes()]


def test_recordings_of_other_sources_are_refused_by_name(recordings):
    with pytest.raises(ValueError, match=r"car and .*a cannot be trained on together: their domain differ"):
        open_dataset(f"{recordings / 'a'},{recordings / 'car'}")
    with pytest.raises(ValueError, match="named twice"):
        open_dataset(f"{recordings / 'a'},{recordings / 'a'}")
    with pytest.raises(ValueError, match="empty directory name"):
        open_dataset(f"{recordings / 'a'},")


def test_shares_set_how_often_each_directory_is_drawn(recordings):
    union = open_dataset(f"{recordings / 'a'},{recordings / 'b'}")
    natural = WindowSampler(union, 3, "all")
    shared = WindowSampler(union, 3, "all", shares=[1, 3])
    member = np.searchsorted(union.offsets, shared.episode_ids, side="right") - 1
    assert np.bincount(member, natural.weights) == pytest.approx([5 / 9, 4 / 9])  # equal lengths: by episodes
    assert np.bincount(member, shared.weights) == pytest.approx([0.25, 0.75])
    drawn = shared.sample(4000, np.random.default_rng(0)).episodes
    assert np.mean(drawn >= 5) == pytest.approx(0.75, abs=0.03)
    with pytest.raises(ValueError, match="2 data shares for 1 dataset"):
        WindowSampler(recordings / "a", 3, "all", shares=[1, 1])
    with pytest.raises(ValueError, match="one share per --data directory"):
        WindowSampler(union, 3, "all", shares=[1])
    with pytest.raises(ValueError, match="must be positive"):
        WindowSampler(union, 3, "all", shares=[1, 0])


def test_train_takes_several_directories_and_records_them(recordings, tmp_path, capsys):
    data = f"{recordings / 'a'},{recordings / 'b'}"
    args = ["train", "--data", data, "--data-shares", "1,2", "--out", str(tmp_path / "run"), "--steps", "2"]
    args += ["--batch-size", "2", "--context", "3", "--horizon", "2", "--checkpoint-every", "2", "--video-every", "100"]
    assert main([*args, "--model", json.dumps(TINY), "--quiet", "--json"]) == 0
    capsys.readouterr()
    recipe = json.loads((tmp_path / "run" / "config.json").read_text())["recipe"]
    assert recipe["dataset"]["episodes"] == 9 and len(recipe["dataset"]["members"]) == 2
    assert f"--data {data} " in recipe["command"] and "--data-shares 1,2" in recipe["command"]
    assert recipe["train"]["data_shares"] == [1.0, 2.0]
    assert main([*args[:4], "x,1", *args[5:]]) == 2
    assert "--data-shares 'x,1': expected comma-separated numbers" in capsys.readouterr().err
