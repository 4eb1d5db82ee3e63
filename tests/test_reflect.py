"""Reflection: the critique names what failed and by how much, the reflector learns, the search
keeps the verifier's best and starts from the plain prompt start."""

import json

import numpy as np
import pytest
from test_prompt_env import PROMPT, prompted_run  # noqa: F401  (the fixture, shared)

from worldsim import domains
from worldsim.data import Dataset
from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.model.checkpoint import load_model
from worldsim.model.reflect import (
    ReflectTrainConfig,
    critique,
    critique_width,
    load_reflector,
    train_reflector,
    train_reflector_for,
)
from worldsim.model.text import load_shared_space
from worldsim.model.text_training import collect_scenes
from worldsim.search.best_of_n import Search
from worldsim.search.reflect import reflect

TABLE = domains.get("robotics").load("attributes")


def blocks(table, row: np.ndarray) -> dict[str, np.ndarray]:
    """A critique row cut into its attributes' parts."""
    out, at = {}, 0
    for a in table.attributes:
        width = 3 if a.numeric else 2 + len(a.values)
        out[a.name] = row[at : at + width]
        at += width
    return out


def test_the_critique_says_what_was_asked_what_failed_and_by_how_much():
    table = domains.get("driving").load("attributes")  # numbers and categories
    numeric = next(a for a in table.attributes if a.numeric)
    category = next(a for a in table.attributes if not a.numeric)
    asked = {numeric.name: numeric.low, category.name: category.values[0]}
    readings = {a.name: np.full(2, -1.0) for a in table.attributes}
    readings[numeric.name] = np.array([numeric.low, numeric.high])  # right, then the whole range off
    readings[category.name] = np.array([0.0, 1.0])  # right, then the second value
    said = critique(table, asked, readings)
    assert said.shape == (2, critique_width(table))
    right, wrong = blocks(table, said[0]), blocks(table, said[1])
    assert right[numeric.name].tolist() == [1, 0, 0] and wrong[numeric.name].tolist() == [1, 1, 1]
    assert right[category.name][:2].tolist() == [1, 0] and wrong[category.name][:2].tolist() == [1, 1]
    assert wrong[category.name][2:].tolist() == [0, 1] + [0] * (len(category.values) - 2)  # what it has instead
    others = [a.name for a in table.attributes if a.name not in asked]
    assert all(not wrong[name].any() for name in others)  # not asked: nothing said


@pytest.fixture(scope="module")
def reflecting(prompted_run):  # noqa: F811
    run = prompted_run / "run"
    train_reflector_for(str(run), str(prompted_run / "data"), ReflectTrainConfig(steps=30, batch_size=16), progress=False)
    model = load_model(run)[0]
    space = load_shared_space(run, world_model=model)[0]
    return run, model, space, load_reflector(run, space)


def test_the_reflector_learns_to_move_codes_to_the_scene_their_caption_came_from(prompted_run, reflecting):  # noqa: F811
    _, model, space, _ = reflecting
    scenes = collect_scenes(model, Dataset(prompted_run / "data"), [0, 1, 2, 3], 3, 1, False)
    _, losses = train_reflector(model, space, TABLE, scenes, ReflectTrainConfig(steps=60, batch_size=16, lr=3e-3), False)
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


def test_reflection_keeps_the_verifiers_best_and_one_sample_is_the_plain_start(reflecting):
    run, model, space, reflector = reflecting
    env = WorldSimEnv(checkpoint=run)
    plain, _ = env.reset(seed=0, options={"prompt": PROMPT})
    one, info = env.reset(seed=0, options={"prompt": PROMPT, "search": {"method": "reflect", "samples": 1}})
    assert np.array_equal(plain, one) and info["prompt_match"]["search"]["chosen"] == 0
    _, info = env.reset(seed=0, options={"prompt": PROMPT, "search": {"method": "reflect", "samples": 6}})
    search = info["prompt_match"]["search"]
    shares = search["scores"]["attributes"]
    assert search["method"] == "reflect" and len(shares) == 6 and len(search["critiques"]) == 5
    assert shares[search["chosen"]] == max(shares)
    # each reflection names the asked attributes that failed on the best candidate before it
    asked = set(info["prompt_match"]["attributes"])
    assert all(set(failed) <= asked for failed in search["critiques"])
    scene, seen = reflect(model, space, reflector, PROMPT, 0, Search("reflect", 6))
    assert seen["scores"] == search["scores"]  # the env delegates, seeded alike
    # the first reflection is on the plain start: it names what failed there
    plain_match = env.reset(seed=0, options={"prompt": PROMPT})[1]["prompt_match"]["attributes"]
    assert sorted(search["critiques"][0]) == sorted(name for name, entry in plain_match.items() if not entry["holds"])


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"method": "best_of_n", "temperature": 0.5}, "setting of search method"),
        ({"method": "reflect", "temperature": -1}, "from 0"),
        ({"method": "reflect", "temperature": "warm"}, "must be a number"),
    ],
)
def test_a_bad_temperature_is_refused_by_name(options, named):
    with pytest.raises(ValueError, match=named):
        Search.from_options(options)


def test_the_temperature_reaches_the_search(reflecting):
    run, model, space, reflector = reflecting
    env = WorldSimEnv(checkpoint=run)
    search = {"method": "reflect", "samples": 4}
    _, default = env.reset(seed=0, options={"prompt": PROMPT, "search": search})
    _, same = env.reset(seed=0, options={"prompt": PROMPT, "search": {**search, "temperature": 0.5}})
    _, other = env.reset(seed=0, options={"prompt": PROMPT, "search": {**search, "temperature": 3.0}})
    scores = lambda info: info["prompt_match"]["search"]["scores"]  # noqa: E731
    assert scores(default) == scores(same)
    _, direct = reflect(model, space, reflector, PROMPT, 0, Search("reflect", 4), temperature=3.0)
    assert direct["scores"] == scores(other)


def test_reflect_needs_its_reflector(prompted_run, tmp_path):  # noqa: F811
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(prompted_run / "run", bare)
    for name in ("reflect.json", "reflect.safetensors"):
        (bare / name).unlink(missing_ok=True)
    env = WorldSimEnv(checkpoint=bare)
    with pytest.raises(ValueError, match="train-reflect"):
        env.reset(options={"prompt": PROMPT, "search": {"method": "reflect", "samples": 2}})
    env.reset(options={"prompt": PROMPT, "search": {"method": "best_of_n", "samples": 2}})  # still usable
    (bare / "reflect.json").write_text(json.dumps({"format": "worldsim-reflect", "format_version": 1, "text_model": "x"}))
    (bare / "reflect.safetensors").write_bytes(b"")
    model = load_model(bare)[0]
    with pytest.raises(ValueError, match="another text model"):
        load_reflector(bare, load_shared_space(bare, world_model=model)[0])


def test_train_reflect_and_eval_prompts_commands(prompted_run, reflecting, capsys):  # noqa: F811
    from worldsim.cli import main

    run = str(prompted_run / "run")
    assert main(["train-reflect", "--checkpoint", run, "--data", str(prompted_run / "data"), "--steps", "5", "--quiet"]) == 0
    assert "reflector written" in capsys.readouterr().out
    args = ["eval-prompts", "--checkpoint", run, "--prompts", "scenarios/prompts/robotics-dev.yaml"]
    args += ["--data", str(prompted_run / "data"), "--seeds", "1", "--steps", "2", "--samples", "3", "--method", "reflect"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["method"] == "reflect" and report["config"]["samples"] == 3


def test_export_ships_the_reflector_and_its_recipe(prompted_run, reflecting, tmp_path, capsys):  # noqa: F811
    from worldsim.cli import main

    run, data = prompted_run / "run", prompted_run / "data"
    assert main(["eval", "--checkpoint", str(run), "--data", str(data), "--ks", "1", "--windows", "2", "--json"]) == 0
    report = tmp_path / "eval.json"
    report.write_text(capsys.readouterr().out)
    out = tmp_path / "weights"
    assert main(["export", "--checkpoint", str(run), "--eval", str(report), "--out", str(out)]) == 0
    assert {"reflect.json", "reflect.safetensors"} <= {p.name for p in out.iterdir()}
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Reflection (prompt search)" in card and "worldsim train-reflect --checkpoint RUN --data" in card
    _, info = WorldSimEnv(checkpoint=out, obs_type="latent").reset(
        seed=0, options={"prompt": PROMPT, "search": {"method": "reflect", "samples": 2}}
    )
    assert info["prompt_match"]["search"]["method"] == "reflect"
