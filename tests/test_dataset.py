import json

import numpy as np
import pytest

from worldsim.cli import main
from worldsim.data import CollectRequest, Dataset, Episode, EpisodeError, WindowSampler, collect
from worldsim.data.collect import episode_path
from worldsim.data.dataset import is_validation


@pytest.fixture(scope="module")
def pusht_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "pusht"
    request = CollectRequest(domain="robotics", out=str(out), episodes=6, max_steps=12, seed=5)
    collect(request, workers=1, progress=False)
    return out


def test_round_trip(pusht_dataset):
    data = Dataset(pusht_dataset)
    assert len(data) == 6
    ep = data.episode(2)
    assert len(ep) == 12
    assert ep.frames.shape == (13, 64, 64, 3) and ep.frames.dtype == np.uint8
    assert ep.actions.shape == (12, 2) and ep.actions.dtype == np.float32
    assert ep.states.shape == (13, 8)
    assert ep.truncated[-1] and not ep.truncated[:-1].any()  # cut at max_steps
    assert ep.captions[0].startswith("agent at")
    assert ep.meta["index"] == 2 and ep.meta["style"]


def test_a_dataset_read_through_some_of_its_fields(pusht_dataset):
    data = Dataset(pusht_dataset)
    names = [f["name"] for f in data.source["state_fields"]]
    view = data.with_fields([names[3], names[0]])  # a model of an older recording: fewer fields, its order
    assert [f["name"] for f in view.source["state_fields"]] == [names[3], names[0]]
    assert np.array_equal(view.episode(1).states, data.episode(1).states[:, [3, 0]])
    assert view.angles.tolist() == data.angles[[3, 0]].tolist() and len(view) == len(data)
    assert np.array_equal(view.with_fields([names[0]]).episode(1).states, data.episode(1).states[:, [0]])
    assert data.with_fields(names) is data
    with pytest.raises(ValueError, match=r"\['speed'\] are not in the data's"):
        data.with_fields([names[0], "speed"])


def test_summary(pusht_dataset):
    summary = Dataset(pusht_dataset).summary()
    assert summary["episodes"] == 6 and summary["transitions"] == 72
    assert summary["frame_shape"] == [64, 64, 3]
    assert summary["action_space"]["type"] == "box" and summary["action_space"]["shape"] == [2]
    assert summary["state_fields"][:2] == ["agent_x", "agent_y"]
    assert summary["episode_length"]["mean"] == 12
    assert summary["split"]["train"] + summary["split"]["val"] == 6
    assert 0.0 <= summary["reward"]["min"] <= summary["reward"]["max"] <= 1.0


def test_dataset_command_json(pusht_dataset, capsys):
    assert main(["dataset", str(pusht_dataset), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["transitions"] == 72


def test_collection_is_deterministic(pusht_dataset, tmp_path):
    again = tmp_path / "again"
    collect(CollectRequest(domain="robotics", out=str(again), episodes=2, max_steps=12, seed=5), progress=False)
    a, b = Dataset(pusht_dataset).episode(1), Dataset(again).episode(1)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.actions, b.actions)


def test_resume_with_other_options_is_refused(pusht_dataset):
    request = CollectRequest(domain="robotics", out=str(pusht_dataset), episodes=6, max_steps=12, seed=6)
    with pytest.raises(ValueError, match="seed=5"):
        collect(request, progress=False)


def test_refuses_foreign_directory(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="refusing"):
        collect(CollectRequest(domain="robotics", out=str(tmp_path), episodes=1, max_steps=2), progress=False)


def test_corrupt_episode_named(pusht_dataset, tmp_path):
    bad = tmp_path / "episode_000000.npz"
    bad.write_bytes(episode_path(pusht_dataset, 0).read_bytes()[:500])
    with pytest.raises(EpisodeError, match="episode_000000.npz"):
        Episode.load(bad)


def test_split_is_disjoint_and_stable(pusht_dataset):
    data = Dataset(pusht_dataset)
    train, val = set(data.indices("train")), set(data.indices("val"))
    assert train and val and not train & val and train | val == set(range(6))
    fractions = np.mean([is_validation(i, 0.1) for i in range(1000)])
    assert abs(fractions - 0.1) < 0.01


def test_windows(pusht_dataset):
    sampler = WindowSampler(pusht_dataset, length=8, split="train")
    batch = sampler.sample(16, np.random.default_rng(0))
    assert batch.frames.shape == (16, 9, 64, 64, 3)
    assert batch.actions.shape == (16, 8, 2)
    assert batch.states.shape == (16, 9, 8)
    assert batch.mask.all()  # 12-step episodes hold every 8-step window
    assert set(batch.episodes) <= set(Dataset(pusht_dataset).indices("train"))
    # A window is exactly the episode's slice.
    ep = Dataset(pusht_dataset).episode(int(batch.episodes[0]))
    t = int(batch.starts[0])
    np.testing.assert_array_equal(batch.frames[0], ep.frames[t : t + 9])
    np.testing.assert_array_equal(batch.actions[0], ep.actions[t : t + 8])


def test_short_episodes_are_padded_and_masked(pusht_dataset):
    sampler = WindowSampler(pusht_dataset, length=20, split="all")
    batch = sampler.sample(4, np.random.default_rng(1))
    assert batch.frames.shape[1] == 21
    assert batch.mask[:, :12].all() and not batch.mask[:, 12:].any()
    np.testing.assert_array_equal(batch.frames[:, 12], batch.frames[:, 20])  # padding repeats the last frame
    assert (batch.rewards[:, 12:] == 0).all()


def test_empty_split_is_an_error(tmp_path):
    out = tmp_path / "one"
    collect(CollectRequest(domain="robotics", out=str(out), episodes=1, max_steps=3), progress=False)
    with pytest.raises(ValueError, match="'train' split holds no episodes"):
        WindowSampler(out, length=2, split="train")


def test_cli_collects_scenarios_and_generic_envs(tmp_path, capsys):
    for name, extra in [("cut_in", []), ("block_near_goal", []), ("fixed_track", ["--max-steps", "3"])]:
        out = tmp_path / name
        assert main(["collect", "--scenario", name, "--episodes", "1", "--out", str(out), "--quiet", "--json"] + extra) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["episodes"] == 1 and summary["scenario"].endswith(f"{name}.yaml")
    out = tmp_path / "cartpole"
    args = ["collect", "--domain", "any", "--env-id", "CartPole-v1", "--episodes", "2", "--max-steps", "5"]
    assert main(args + ["--out", str(out), "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["transitions"] == 10 and summary["state_fields"] == []


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["collect", "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
    assert "give --domain" in capsys.readouterr().err
    assert main(["collect", "--scenario", "nope", "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
    assert "unknown scenario 'nope'" in capsys.readouterr().err
    assert main(["dataset", str(tmp_path)]) == 2
    assert "no dataset.json" in capsys.readouterr().err


def test_env_config_lengthens_driving_episodes(tmp_path, capsys):
    out = tmp_path / "long"
    args = [
        "collect",
        "--domain",
        "driving",
        "--env-config",
        '{"duration": 45}',
        "--episodes",
        "1",
        "--max-steps",
        "40",
        "--out",
        str(out),
        "--quiet",
        "--json",
    ]
    assert main(args) == 0
    assert json.loads((out / "dataset.json").read_text())["request"]["source_options"] == {"config": {"duration": 45}}
    assert main(["collect", "--domain", "robotics", "--env-config", "{}", "--episodes", "1", "--out", str(tmp_path / "r")]) == 2
    assert "--env-config is for --domain driving" in capsys.readouterr().err
