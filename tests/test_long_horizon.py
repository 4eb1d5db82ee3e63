"""The long-horizon evaluation on a tiny model and dataset: it runs, lines dreams up with the real
frames they stand beside, and reports every bucket in the documented layout."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_models import TINY

from worldsim.cli import main
from worldsim.data import CollectRequest, Dataset, collect
from worldsim.model.checkpoint import load_model
from worldsim.model.critics import ProbeRecipe, RealismRecipe
from worldsim.model.long_horizon import (
    LongEvalConfig,
    auprc,
    evaluate_long,
    format_long_report,
    model_columns,
    replay_episodes,
)
from worldsim.model.train import model_config_for
from worldsim.model.world_model import WorldModel


def tiny_config(**overrides) -> LongEvalConfig:
    settings = dict(
        horizons=(1, 3),
        bucket=2,
        end_steps=2,
        context=3,
        episodes=4,
        probe_frames=40,
        realism=RealismRecipe(steps=8),
        probe=ProbeRecipe(steps=8),
        controllability_starts=2,
        realism_repeats=1,
    )
    return LongEvalConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def pusht(tiny_run, tmp_path_factory):
    """The tiny PushT model and 6 short held-out episodes: 4 to replay, 2 for the state probe."""
    root = tmp_path_factory.mktemp("long-horizon") / "data"
    collect(CollectRequest(domain="robotics", out=str(root), episodes=6, max_steps=8, seed=7), progress=False)
    return load_model(tiny_run("robotics"))[0], Dataset(root)


def test_the_dream_replays_each_episode_beside_its_real_frames(pusht):
    model, data = pusht
    config = tiny_config()
    replay = replay_episodes(model, data, [0, 1, 2, 3], config)
    for i, index in enumerate(replay.episodes):
        episode = data.episode(index)
        steps = len(episode) - (config.context - 1)
        assert len(replay.dream[i]) == len(replay.real[i]) == len(replay.true_states[i]) == steps
        np.testing.assert_array_equal(replay.real[i][0], episode.frames[config.context])  # the first imagined step
        np.testing.assert_array_equal(replay.last_context[i], episode.frames[config.context - 1])
        assert replay.dream[i].dtype == np.uint8 and replay.dream[i].shape == replay.real[i].shape


def test_long_horizon_report_layout(pusht):
    model, data = pusht
    report = evaluate_long(model, data, "all", tiny_config())
    assert report["episodes"] == 4 and set(report["buckets"]) == {"1", "3", "end"}
    fields = set(model.config.state_fields)
    for bucket in report["buckets"].values():
        assert bucket["frames"] > 0 and bucket["episodes"] == 4
        assert 0.0 <= bucket["realism"] <= 1.0 and 0.0 <= bucket["realism_control"] <= 1.0
        assert bucket["motion"]["dream"] >= 0 and bucket["motion"]["real"] >= 0
        errors = bucket["state_error"]
        assert set(errors) == {"probe_on_dream", "probe_on_copy_last", "probe_on_real", "state_head"}
        assert all(set(e) == fields for e in errors.values())
        assert set(bucket["persistence"]) == {"agent", "block"}
        assert all(p["real_frames"] > 0 and 0.0 <= p["found_in_dream"] <= 1.0 for p in bucket["persistence"].values())
    assert set(report["terminations"]) >= {"crash_rule", "1_ahead", "3_ahead"}
    assert report["recipes"]["realism"]["steps"] == 8
    assert report["controllability"]["starts"] == 2 and 0.0 <= report["controllability"]["sign_agreement"] <= 1.0
    assert "realism" in format_long_report(report)


def test_a_decoder_that_draws_the_state_is_scored_on_the_true_states_too(pusht):
    plain, data = pusht
    assert replay_episodes(plain, data, [0], tiny_config(), draw_truth=True).drawn_truth is None
    torch.manual_seed(0)
    model = WorldModel(model_config_for(data, {**TINY, "draws_on_previous": False, "decoder": "field", "decoder_input": "state"}))
    assert replay_episodes(model, data, [0], tiny_config()).drawn_truth is None  # asked for only
    replay = replay_episodes(model, data, [0, 1], tiny_config(), draw_truth=True)
    for i, index in enumerate(replay.episodes):
        truth = data.episode(index).states[tiny_config().context :]
        assert replay.drawn_truth[i].shape == replay.dream[i].shape and replay.drawn_truth[i].dtype == np.uint8
        with torch.no_grad():  # frame k is the k-th true state drawn
            expected = model.to_uint8(model.draw_state(model.normalise_state(torch.from_numpy(truth[-1:]).float())))
        np.testing.assert_array_equal(replay.drawn_truth[i][-1], expected[0].numpy())
    report = evaluate_long(model, data, "all", tiny_config(controllability_starts=0))
    assert all(0.0 <= b["realism_drawn_truth"] <= 1.0 for b in report["buckets"].values())
    assert "drawn" in format_long_report(report)


def test_a_model_is_scored_on_its_own_fields_of_newer_data(pusht):
    model, data = pusht
    fields = list(model.config.state_fields)
    newer = SimpleNamespace(root="newer", source={"state_fields": [{"name": "wind"}] + [{"name": f} for f in reversed(fields)]})
    assert model_columns(model, newer) == [len(fields) - i for i in range(len(fields))]
    older = SimpleNamespace(root="older", source={"state_fields": [{"name": f} for f in fields[1:]]})
    with pytest.raises(ValueError, match=rf"older: the model's state fields \['{fields[0]}'\] are not in the data's"):
        model_columns(model, older)


def test_auprc():
    truth = np.array([True, False, True, False])
    assert auprc(np.array([0.9, 0.1, 0.8, 0.2]), truth) == 1.0  # every crash ranked first
    assert auprc(np.array([0.1, 0.9, 0.2, 0.8]), truth) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert auprc(np.zeros(3), np.zeros(3, bool)) is None


def test_every_episode_replayed_leaves_no_probe_data(pusht):
    model, data = pusht
    with pytest.raises(ValueError, match="none is left to train the state probe"):
        evaluate_long(model, data, "all", tiny_config(episodes=6))


def test_the_probe_can_learn_from_another_dataset(pusht, tiny_run):
    model, data = pusht
    other = Dataset(tiny_run("robotics").parent / "data")  # say, the model's training data
    config = tiny_config(episodes=6, controllability_starts=0, horizons=(1,))
    report = evaluate_long(model, data, "all", config, probe_data=other)
    assert report["episodes"] == 6 and report["probe_data"] == str(other.root) and "controllability" not in report
    assert "state_error" in report["buckets"]["1"]


def test_long_eval_cli_rejects_bad_horizons(tiny_run, capsys):
    run = tiny_run("robotics")
    args = ["eval", "--checkpoint", str(run), "--data", str(run.parent / "data"), "--long", "--horizons", "1,x"]
    assert main(args) == 2 and "--horizons" in capsys.readouterr().err


def test_objects_are_found_in_real_frames_and_not_in_blank_ones():
    from worldsim import domains
    from worldsim.model.checkpoint import resolve_checkpoint
    from worldsim.model.persistence import persistence
    from worldsim.model.start_bank import load_start_bank

    for name in domains.names():
        frames = load_start_bank(resolve_checkpoint(name))["frames"][:, -1]
        objects = domains.get(name).load("objects")
        blank = np.full_like(frames, 255)
        report = persistence(frames, blank, objects)
        assert all(r["real_frames"] == len(frames) and r["found_in_dream"] == 0.0 for r in report.values()), name
        assert all(r["found_in_dream"] == 1.0 for r in persistence(frames, frames, objects).values()), name


def test_shape_check_tells_a_blob_and_a_displaced_block_from_the_block():
    from worldsim.model.persistence import persistence
    from worldsim.sources.objects import ROBOTICS

    block = ROBOTICS[1]
    real = np.full((1, 64, 64, 3), 255, np.uint8)
    real[0, 10:14, 10:30] = block.rgb  # a T: the bar ...
    real[0, 14:30, 18:22] = block.rgb  # ... and its stem
    blob = np.full_like(real, 255)
    blob[0, 12:24, 14:26] = block.rgb  # the block's colour, smeared over its place
    moved = np.roll(real, 20, axis=2)  # the right shape, elsewhere
    for dream in (blob, moved):
        report = persistence(real, dream, (block,), copy_last=real)["block"]
        assert report["found_in_dream"] == 1.0  # colour alone is fooled ...
        assert report["matched_in_dream"] == 0.0 and report["overlap_dream"] < 0.5  # ... the shape check is not
        assert report["matched_in_copy_last"] == 1.0 and report["overlap_copy_last"] == 1.0


def test_model_card_carries_the_long_horizon_report(pusht, tiny_run, tmp_path, capsys):
    import json

    run = tiny_run("robotics")
    model, data = pusht
    held_out = {"data": str(data.root), "episodes_split": "all", **evaluate_long(model, data, "all", tiny_config())}
    report = {"domain": "robotics", "long": True, "probe_data": None, "controllability_starts": 2}
    long_path = tmp_path / "long.json"
    long_path.write_text(json.dumps({**report, "splits": {"held_out": held_out}}))
    args = ["eval", "--checkpoint", str(run), "--data", str(run.parent / "data"), "--ks", "1", "--windows", "2", "--json"]
    assert main(args) == 0
    short_path = tmp_path / "eval.json"
    short_path.write_text(capsys.readouterr().out)
    out = tmp_path / "weights"
    export = ["export", "--checkpoint", str(run), "--eval", str(short_path), "--out", str(out)]
    assert main(export + ["--long-eval", str(long_path)]) == 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Long-horizon evaluation" in card and "--long --episodes 4 --split all --controllability-starts 2" in card
    assert "realism" in card and (out / "long_eval.json").is_file()
    # the two reports swapped: a clear error, and the exported directory is left as it was
    assert main(["export", "--checkpoint", str(run), "--eval", str(long_path), "--out", str(out)]) == 2
    assert "not an open-loop" in capsys.readouterr().err and (out / "long_eval.json").is_file()


def _stage_run(path, recipe):
    """A run directory holding only what the retraining walk reads: its config's recipe."""
    import json

    from worldsim.model.config import FORMAT_VERSION

    path.mkdir()
    config = {"format": "worldsim-model", "format_version": FORMAT_VERSION, "recipe": recipe}
    (path / "config.json").write_text(json.dumps(config))
    return recipe


def test_a_fine_tuned_models_card_lists_every_stage_that_retrains_it(tmp_path):
    from worldsim.model.retrain import retrain_stages, wall_clock

    def stage(name, init=None):
        train = {"steps": 2, "threads": 1, **({"init": str(tmp_path / init)} if init else {})}
        recipe = {"command": f"worldsim train --out {name}", "train": train, "wall_clock_s": 60}
        return _stage_run(tmp_path / name, recipe)

    def commands(meta, run=None):
        return [c for s in retrain_stages(meta, "games", run) for c in s.commands]

    first = stage("first")
    stage("second", init="first")
    last = {"recipe": {"command": "worldsim train --out last", "train": {"init": str(tmp_path / "second")}}}
    # each stage writes the directory the next one starts from, whatever it was called when trained
    assert commands(last) == [
        f"worldsim train --domain games --out {tmp_path / 'first'} --threads 1",
        f"worldsim train --domain games --out {tmp_path / 'second'} --threads 1",
        "worldsim train --domain games --out last --threads 0",
    ]
    assert wall_clock(retrain_stages(last, "games")).startswith("Wall-clock of the 3 stages: 2 min in all")
    assert [s.kind for s in retrain_stages({"recipe": first}, "games")] == ["train"]  # from scratch: one stage
    stage("looped", init="looped")  # a run that names itself: listed once
    assert len(commands({"recipe": {"train": {"init": str(tmp_path / "looped")}}})) == 2
    gone = {"recipe": {"command": "worldsim train", "train": {"init": str(tmp_path / "gone")}}}
    assert commands(gone, run="runs/games") == [
        f"# starts from {tmp_path / 'gone'}, not found at export",
        "worldsim train --domain games --threads 0 --out runs/games",
    ]


def test_a_card_retrains_a_refitted_grafted_and_derived_chain_in_order(tmp_path):
    """train -> refit (a new view) -> train --init -> graft the refitted decoder back -> derive:
    each stage's recipe carries its source's, and only the last step of each is its own."""
    from worldsim.model.retrain import retrain_stages, wall_clock

    base, boxes, tuned, grafted, shipped = (str(tmp_path / n) for n in ("base", "boxes", "tuned", "grafted", "shipped"))
    first = {"command": "worldsim train --out runs/v2", "train": {"steps": 40, "threads": 2}, "wall_clock_s": 120}
    refit = {"checkpoint": base, "out": boxes, "data": "d", "test": "t", "every": 2, "steps": 30, "batch": 4, "lr": 0.1}
    refit |= {"foreground": 1.0, "threads": 2, "seed": 0, "view": "camera", "wall_clock_s": 60}
    _stage_run(tmp_path / "base", first)
    _stage_run(tmp_path / "boxes", {**first, "refit_decoder": refit})
    second = {"command": f"worldsim train --out {tuned} --init {boxes}", "train": {"steps": 10, "init": boxes}}
    second["wall_clock_s"] = 60
    _stage_run(tmp_path / "tuned", second)
    graft = {**refit, "checkpoint": tuned, "out": grafted, "steps": 0, "view": None, "decoder_from": boxes, "wall_clock_s": 0}
    _stage_run(tmp_path / "grafted", {**second, "refit_decoder": graft})
    meta = {"recipe": {**second, "refit_decoder": graft, "derived": {"from": grafted, "options": {"lanes": "road"}}}}
    stages = retrain_stages(meta, "driving", shipped)
    assert [s.kind for s in stages] == ["train", "refit", "train", "refit", "derive"]
    lines = [c for s in stages for c in s.commands]
    assert lines[0].startswith(f"worldsim train --domain driving --out {base} ")
    assert lines[1].startswith(f"python scripts/refit_decoder.py {base} --out {boxes} ") and "--view camera" in lines[1]
    assert lines[2].startswith(f"worldsim train --domain driving --out {tuned} --init {boxes}")
    assert lines[3].startswith(f"python scripts/refit_decoder.py {tuned} --out {grafted} ")
    assert f"--decoder-from {boxes}" in lines[3]
    assert lines[4] == f"""python scripts/derive_checkpoint.py {grafted} {shipped} '{{"lanes": "road"}}'"""
    # the graft and the derivation cost nothing; the refit is counted once, not with its source's training
    assert wall_clock(stages).startswith("Wall-clock of the 3 stages: 4 min in all (2 min for 40 steps")
    # a run refitted after it was derived: the refit is its last step
    again = {**meta["recipe"], "refit_decoder": {**refit, "checkpoint": shipped, "out": str(tmp_path / "again")}}
    _stage_run(tmp_path / "shipped", meta["recipe"])
    assert [s.kind for s in retrain_stages({"recipe": again}, "driving")][-2:] == ["derive", "refit"]
    # a run derived again after the refit and the first derivation: both derivations, in order
    twice = {**meta["recipe"], "derived": {"from": shipped, "options": {"lanes": "road"}, "after_refit": grafted}}
    stages = retrain_stages({"recipe": twice}, "driving", str(tmp_path / "merging"))
    assert [s.kind for s in stages] == ["train", "refit", "train", "refit", "derive", "derive"]
    assert stages[-1].commands[0].startswith(f"python scripts/derive_checkpoint.py {shipped} {tmp_path / 'merging'} ")


def test_a_derived_models_card_names_the_steps_that_set_its_dreaming_options_and_decoder(tmp_path):
    import json

    from worldsim.model.config import FORMAT_VERSION
    from worldsim.model.retrain import derive_command

    recipe = {
        "command": "worldsim train --out runs/games-speed",
        "derived": {"from": "runs/games-speed", "options": {"prior_noise": True}},
    }
    derive = """python scripts/derive_checkpoint.py runs/games-speed runs/games '{"prior_noise": true}'"""
    assert derive_command(recipe, "games") == [derive]
    assert derive_command({"command": "worldsim train --out runs/games"}, "games") == []
    # The recordings the carried fields were read and scaled off are named as they were given.
    read = {**recipe["derived"], "carry_from": "data/games-wander", "scale_carried": "data/games-wander"}
    assert derive_command({**recipe, "derived": read}, "games") == [
        f"{derive} --carry-from data/games-wander --scale-carried data/games-wander"
    ]
    # The decoder's own run is retrained first; a run gone since is named as such.
    donor = tmp_path / "games-track"
    recipe["derived"]["decoder_from"] = str(donor)
    assert derive_command(recipe, "games") == [
        f"# the decoder's run {donor}, not found at export",
        f"{derive} --decoder-from {donor}",
    ]
    donor.mkdir()
    donor_recipe = {"command": f"worldsim train --out {donor}", "train": {"threads": 2}}
    config = {"format": "worldsim-model", "format_version": FORMAT_VERSION, "recipe": donor_recipe}
    (donor / "config.json").write_text(json.dumps(config))
    assert derive_command(recipe, "games") == [
        f"worldsim train --domain games --out {donor} --threads 2",
        f"{derive} --decoder-from {donor}",
    ]


def test_the_dream_replays_at_the_physics_blend_asked_for(pusht, tiny_run, capsys):
    model, data = pusht
    learned = replay_episodes(model, data, [0, 1], tiny_config())
    prior = replay_episodes(model, data, [0, 1], tiny_config(physics_blend=0.0))
    again = replay_episodes(model, data, [0, 1], tiny_config(physics_blend=0.0))
    assert not np.allclose(learned.head_states[0], prior.head_states[0])  # the prior stepped the state
    np.testing.assert_array_equal(prior.head_states[0], again.head_states[0])
    run = tiny_run("robotics")
    args = ["eval", "--checkpoint", str(run), "--data", str(run.parent / "data"), "--long", "--physics-blend", "1.5"]
    assert main(args) == 2 and "--physics-blend must lie in [0, 1], got 1.5" in capsys.readouterr().err
