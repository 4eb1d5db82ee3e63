"""Bad inputs are clear errors, and a training run is safe against a second process and a kill."""

import json
import os
import re
import socket

import numpy as np
import pytest
from tiny_models import tiny_train_config

from worldsim.cli import main
from worldsim.counterfactual.branch import Track
from worldsim.counterfactual.metrics import compare
from worldsim.envs import RealWorldEnv, WorldSimEnv
from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.model.checkpoint import CheckpointError, load_model, save_model
from worldsim.model.run_lock import RunInUseError, run_lock
from worldsim.model.start_bank import START_BANK
from worldsim.model.train import train


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run("robotics")


def tiny_config(run, out, steps):
    return tiny_train_config(run.parent / "data", out, steps)


@pytest.mark.parametrize("env_class", [WorldSimEnv, RealWorldEnv])
def test_reset_options_must_be_a_dict(run, env_class):
    env = env_class(checkpoint=run)
    try:
        for options in ("...", ["context"], 3):
            with pytest.raises(TypeError, match=rf"options must be a dict \(or None\), got {type(options).__name__}"):
                env.reset(seed=0, options=options)
        env.reset(seed=0, options={})  # still usable
        env.step(env.action_space.sample())
    finally:
        env.close()


@pytest.mark.parametrize(
    "steps, error", [(0, ValueError), (-5, ValueError), (2.5, TypeError), (True, TypeError), ("9", TypeError)]
)
@pytest.mark.parametrize("make", [WorldSimEnv, RealWorldEnv, lambda **kw: WorldSimVectorEnv(num_envs=2, **kw)])
def test_episode_steps_must_be_a_positive_whole_number(steps, error, make):
    with pytest.raises(error, match=rf"episode_steps .*got {re.escape(repr(steps))}"):
        make(domain="robotics", episode_steps=steps)


def test_episode_steps_takes_any_integer_type(run):
    assert WorldSimEnv(checkpoint=run, episode_steps=np.int64(3)).episode_steps == 3


@pytest.mark.parametrize("alpha", [1.5, -0.1])
def test_counterfactual_physics_blend_must_lie_in_0_1(alpha, tmp_path, capsys):
    from worldsim.counterfactual import run_counterfactual
    from worldsim.counterfactual.suite import run_suite

    message = rf"physics_blend must lie in \[0, 1\], got {alpha}"
    with pytest.raises(ValueError, match=message):
        run_counterfactual("cut_in", 3, ["IDLE"], physics_blend=alpha)
    with pytest.raises(ValueError, match=message):
        run_suite(physics_blend=alpha, progress=False)
    args = ["cut_in", "--at", "3", "--actions", "IDLE", "--out", str(tmp_path)]
    for command in (["counterfactual", *args], ["counterfactual-suite", "--quiet"]):
        assert main([*command, "--physics-blend", str(alpha)]) == 2
        assert re.search(rf"^worldsim {command[0]}: error: {message}", capsys.readouterr().err)


def track(steps: int, crash_at: int | None = None) -> Track:
    """A synthetic line of events: `steps` steps, ending at its crash as imagined and real tracks do."""
    frame, state = np.zeros((8, 8, 3), np.uint8), np.zeros(5 + 6 * 2, np.float32)
    result = Track()
    result.add(frame, state)
    for k in range(steps):
        result.add(frame, state, 1, k == crash_at)
        result.crash_signals.append({"termination_head": k == crash_at})
        if k == crash_at:
            break
    return result


def test_collisions_are_compared_where_both_outcomes_are_known():
    # Branched one step before the episode's end: the real track has one step, the dream imagines on.
    m = compare(track(1), track(5, crash_at=3), 1.0)
    assert m["steps_compared"] == 1 and len(m["ego_position_error_m"]["per_step"]) == 1
    assert m["collision_steps_compared"] == 1 and not m["collision_imagined"] and m["collision_imagined_by"] is None
    assert m["time_to_collision_s"]["imagined"] is None and m["collision_agreement"]
    # Within the compared steps an imagined crash counts, for or against.
    m = compare(track(5), track(5, crash_at=3), 1.0)
    assert m["steps_compared"] == 4 and m["collision_imagined"] and not m["collision_agreement"]
    assert m["time_to_collision_s"]["imagined"] == 4.0 and m["collision_imagined_by"] == {"termination_head": True}
    m = compare(track(5, crash_at=1), track(5, crash_at=1), 1.0)
    assert m["steps_compared"] == 2 and m["collision_real"] and m["collision_agreement"]
    # A track that ended at its crash has told its outcome: crashes at different times still agree.
    m = compare(track(5, crash_at=3), track(5, crash_at=1), 1.0)
    assert m["steps_compared"] == 2 and m["collision_real"] and m["collision_imagined"] and m["collision_agreement"]
    assert m["time_to_collision_s"] == {"real": 4.0, "imagined": 2.0}
    # A real crash the dream, imagining the whole horizon without one, missed.
    m = compare(track(5, crash_at=3), track(5), 1.0)
    assert m["collision_real"] and not m["collision_imagined"] and not m["collision_agreement"]


def test_collect_into_a_file_is_a_clear_error(tmp_path, capsys):
    file = tmp_path / "data.npz"
    file.write_text("not a dataset")
    for out in (file, file / "sub"):
        assert main(["collect", "--domain", "robotics", "--episodes", "1", "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("worldsim collect: error: ") and f"{file} exists and is not a directory" in err
    assert file.read_text() == "not a dataset"


def test_a_checkpoint_without_its_start_bank_is_a_checkpoint_error(run, tmp_path):
    save_model(load_model(run)[0], tmp_path / "bare")
    for make in (WorldSimEnv, RealWorldEnv, WorldSimVectorEnv):
        with pytest.raises(CheckpointError, match=rf"bare/{START_BANK}: not found.*`worldsim train` writes it"):
            make(checkpoint=tmp_path / "bare")


def test_a_second_training_process_is_refused(run, tmp_path, capsys):
    out = tmp_path / "run"
    with run_lock(out):  # as a running `worldsim train` holds it
        holder = rf"\(pid {os.getpid()} on {re.escape(socket.gethostname())}, since 20"
        with pytest.raises(RunInUseError, match=holder):
            train(tiny_config(run, out, steps=2), progress=False, resume=True)
        args = ["train", "--data", str(run.parent / "data"), "--out", str(out), "--resume", "--quiet"]
        assert main(args) == 2
        assert re.search(rf"^worldsim train: error: {re.escape(str(out))} is in use .*{holder}", capsys.readouterr().err)
    assert not (out / "checkpoint").exists()
    train(tiny_config(run, out, steps=2), progress=False)  # released: the run proceeds
    assert (out / "checkpoint").is_dir() and (out / ".lock").read_text() == ""


def test_a_killed_run_has_its_start_bank_and_resumes(run, tmp_path, monkeypatch):
    import worldsim.model.train as training

    out = tmp_path / "run"
    checkpoint = training._checkpoint

    def then_killed(*args, **kwargs):
        checkpoint(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_checkpoint", then_killed)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(run, out, steps=4), progress=False)
    monkeypatch.undo()
    assert json.loads((out / "checkpoint" / "training.json").read_text())["step"] == 2
    for where in (out, out / "checkpoint"):  # the run, and its checkpoint/ reading the run's bank
        env = WorldSimEnv(checkpoint=where)
        env.reset(seed=0)
        env.step(env.action_space.sample())
    bank = (out / START_BANK).read_bytes()
    train(tiny_config(run, out, steps=4), progress=False, resume=True)  # the interrupted run let go of its lock
    assert (out / START_BANK).read_bytes() == bank  # written once
    (out / START_BANK).unlink()  # as a run killed before banks came with the first checkpoint
    train(tiny_config(run, out, steps=4), progress=False, resume=True)  # no steps left, and the bank back
    WorldSimEnv(checkpoint=out).reset(seed=0)


def test_a_run_recorded_before_a_list_option_existed_resumes(run, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(run, out, steps=2), progress=False)
    state = out / "checkpoint" / "training.json"
    recorded = json.loads(state.read_text())
    for newer in ("data_shares", "train_only"):  # options with a list default that older runs do not record
        del recorded["config"][newer]
    state.write_text(json.dumps(recorded))
    train(tiny_config(run, out, steps=4), progress=False, resume=True)
    assert json.loads(state.read_text())["step"] == 4
    recorded = json.loads(state.read_text())
    recorded["config"]["data_shares"] = [1.0, 2.0]
    state.write_text(json.dumps(recorded))
    with pytest.raises(ValueError, match="trained with other data_shares"):
        train(tiny_config(run, out, steps=6), progress=False, resume=True)


@pytest.mark.parametrize(
    ("styles", "message"),
    [
        ('{"clean": 1, "drift": 1}', "\\['drift'\\] are not games behaviour styles"),
        ('{"clean": -1}', "weights must be numbers >= 0"),
        ('{"clean": 0}', "not all zero"),
        ("[1, 2]", "must be a JSON object"),
        ("{clean", "not valid JSON"),
    ],
)
def test_bad_behaviour_styles_are_named_before_anything_is_written(tmp_path, capsys, styles, message):
    out = tmp_path / "games"
    assert main(["collect", "--domain", "games", "--episodes", "1", "--styles", styles, "--out", str(out), "--quiet"]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_styles_join_a_dataset_identity_only_when_given():
    from worldsim.data import CollectRequest

    plain = CollectRequest(domain="games", out="d", episodes=1, max_steps=5)
    assert "styles" not in plain.identity()  # datasets recorded before the option resume as they are
    styled = CollectRequest(domain="games", out="d", episodes=1, max_steps=5, styles={"wander": 1.0})
    assert styled.identity()["styles"] == {"wander": 1.0}
