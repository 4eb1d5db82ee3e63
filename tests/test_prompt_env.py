"""`reset(options={"prompt": ...})` on the single and the vector env, on a tiny model that draws
from its latent alone, with a tiny text model beside its weights; and the prompts it refuses."""

import numpy as np
import pytest
import torch
from tiny_models import TINY
from tiny_models import prompted_run as tiny_prompted_run

from worldsim.data import Dataset
from worldsim.envs.vector_env import WorldSimVectorEnv
from worldsim.envs.world_sim_env import WorldSimEnv
from worldsim.language.prompt import PromptError
from worldsim.model.checkpoint import load_model
from worldsim.model.text import TextModelError


@pytest.fixture(scope="module")
def prompted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompted")
    tiny_prompted_run(root, "robotics")
    tiny_prompted_run(root, "robotics", model=TINY, name="drawing")  # drawing on the previous frame, as the first release's
    return root


def test_a_prompt_starts_a_seeded_generated_scene_and_reports_its_match(prompted_run):
    env = WorldSimEnv(checkpoint=prompted_run / "run")
    obs, info = env.reset(seed=0, options={"prompt": "the T block upside down near the top-left corner, glittering"})
    assert obs.shape == env.observation_space.shape and env.observation_space.contains(obs)
    match = info["prompt_match"]
    assert set(match["attributes"]) == {"block_orientation", "block_region"} and match["ignored"] == ["glittering"]
    for entry in match["attributes"].values():
        assert set(entry) == {"asked", "understood", "generated", "holds"} and isinstance(entry["holds"], bool)
    assert match["all_hold"] == all(e["holds"] for e in match["attributes"].values())
    assert match["feasible"] is True  # PushT names no state a scene cannot start in
    again, _ = env.reset(seed=0, options={"prompt": "the T block upside down near the top-left corner, glittering"})
    assert np.array_equal(obs, again)
    states = {tuple(env.reset(seed=s, options={"prompt": "the block on the goal"})[1]["state"].round(3)) for s in range(4)}
    assert len(states) > 1  # stochastic: seeds give different scenes
    env.step(env.action_space.sample())
    assert "prompt_match" not in env.reset(seed=1)[1]  # a reset without a prompt starts from the bank


@pytest.mark.parametrize(
    ("prompt", "named"), [("", "empty"), ("dense traffic", "driving words"), ("ego at 400 m/s", "driving words")]
)
def test_a_prompt_the_domain_cannot_ground_is_refused_and_the_env_stays_usable(prompted_run, prompt, named):
    env = WorldSimEnv(checkpoint=prompted_run / "run")
    with pytest.raises(PromptError, match=named):
        env.reset(seed=0, options={"prompt": prompt})
    with pytest.raises(TypeError, match="must be a string"):
        env.reset(seed=0, options={"prompt": 3})
    with pytest.raises(ValueError, match="different starts"):
        env.reset(options={"prompt": "the block on the goal", "scenario": "block_near_goal"})
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_prompts_need_a_text_model_and_pixels_need_a_model_that_draws_from_its_latent(prompted_run, tiny_run):
    drawing = WorldSimEnv(checkpoint=prompted_run / "drawing")
    with pytest.raises(ValueError, match="draws frames from its latent alone"):
        drawing.reset(options={"prompt": "the block on the goal"})
    latent_env = WorldSimEnv(checkpoint=prompted_run / "drawing", obs_type="latent")
    _, info = latent_env.reset(seed=0, options={"prompt": "the block on the goal"})  # no frame to draw: fine
    assert "block_goal" in info["prompt_match"]["attributes"]
    with pytest.raises(TextModelError, match="worldsim train-text"):
        WorldSimEnv(checkpoint=tiny_run("robotics"), obs_type="latent").reset(options={"prompt": "the block on the goal"})


def test_the_vector_env_takes_a_prompt_per_env_and_keeps_it_for_autoresets(prompted_run):
    import torch

    envs = WorldSimVectorEnv(3, checkpoint=prompted_run / "run", episode_steps=2)
    # the untrained termination head may fire at random: episodes here end by truncation alone
    envs.dream.model.termination_logit = lambda latent: torch.full(latent.shape[:-1], -10.0)
    _, infos = envs.reset(seed=0, options={"prompt": ["the block on the goal", None, "the agent at the top"]})
    assert infos["_prompt_match"].tolist() == [True, False, True] and infos["prompt_match"][1] is None
    assert "block_goal" in infos["prompt_match"][0]["attributes"]
    for _ in range(2):
        _, _, _, truncated, infos = envs.step(envs.action_space.sample())
    assert truncated.all() and "prompt_match" not in infos
    _, _, _, _, infos = envs.step(envs.action_space.sample())  # next-step autoreset: prompted envs start from it again
    assert infos["_prompt_match"].tolist() == [True, False, True]
    with pytest.raises(ValueError, match="a list of 3"):
        envs.reset(options={"prompt": ["the block on the goal"]})
    single = WorldSimEnv(checkpoint=prompted_run / "run")
    vector_obs, _ = envs.reset(seed=5, options={"prompt": "the block on the goal"})
    assert np.array_equal(vector_obs[0], single.reset(seed=5, options={"prompt": "the block on the goal"})[0])


def test_generate_command_writes_frames_videos_and_the_report(prompted_run, tmp_path, capsys):
    import json

    from worldsim.cli import main

    out = tmp_path / "scenes"
    args = ["generate", "the block upside down, the agent at the top", "--checkpoint", str(prompted_run / "run")]
    assert main(args + ["--seeds", "2", "--steps", "3", "--out", str(out)]) == 0
    assert "holds in" in capsys.readouterr().out
    report = json.loads((out / "scenes.json").read_text())
    assert report["asked"] == {"block_orientation": "upside down", "agent_region": "top"}
    assert [s["seed"] for s in report["scenes"]] == [0, 1] and all(s["feasible"] for s in report["scenes"])
    assert (out / "seed0.png").is_file() and (out / "seed1.mp4").is_file()
    assert all(s["ended_at_step"] is None or 1 <= s["ended_at_step"] <= 3 for s in report["scenes"])
    assert main(args + ["--seeds", "2", "--steps", "0", "--variety", "-2", "--out", str(out)]) == 2
    assert '"variety" must be a number' in capsys.readouterr().err
    assert main(["generate", "", "--checkpoint", str(prompted_run / "run"), "--out", str(out)]) == 2
    assert "empty" in capsys.readouterr().err


def test_prompt_evaluation_reports_accuracy_refusals_realism_consistency_and_aphasia(prompted_run, tmp_path, capsys):
    from worldsim.cli import main
    from worldsim.cli_text import format_prompt_report
    from worldsim.language.prompt_sets import load_prompt_set
    from worldsim.model.critics import ProbeRecipe, RealismRecipe
    from worldsim.model.text import load_shared_space
    from worldsim.prompt_eval import PromptEvalConfig, evaluate_prompts, real_side

    path = tmp_path / "set.yaml"
    path.write_text(
        "domain: robotics\nsplit: dev\nprompts:\n"
        "  - {kind: simple, text: 'the block on the goal', attributes: {block_goal: on the goal}}\n"
        "  - {kind: relational, text: 'the agent left of the block', attributes: {agent_side: left of the block}}\n"
        "  - {kind: out_of_range, text: 'dense traffic', refused: driving words}\n"
    )
    model, _ = load_model(prompted_run / "run")
    space, _ = load_shared_space(prompted_run / "run")
    config = PromptEvalConfig(seeds=2, steps=3, probe_frames=30, probe=ProbeRecipe(steps=4), realism=RealismRecipe(steps=4))
    report = evaluate_prompts(model, space, load_prompt_set(path), Dataset(prompted_run / "data"), config)
    assert report["refusals"] == 1.0 and set(report["whole_prompt"]["by_kind_on_frame"]) == {"simple", "relational"}
    assert report["feasible"] == 1.0  # PushT names no start a scene cannot be in
    assert 0.0 <= report["whole_prompt"]["on_state"] <= 1.0 and 0.0 <= report["realism"] <= 1.0
    real_whole = report["whole_prompt"]["real_frames_read_whole"]  # the frame column's ceiling
    assert real_whole is None or 0.0 <= real_whole <= 1.0
    where_real = report["whole_prompt"]["on_frame_where_real_frames_hold"]  # the frame column on the same prompts
    assert (where_real is None) == (real_whole is None)
    assert all(c.get("real_frames_read_whole") is None or 0.0 <= c["real_frames_read_whole"] <= 1.0 for c in report["cases"])
    tests = report["realism_tests"]  # the test over classifier seeds, the decoder's floor, the scenes' content
    assert set(tests) == {
        "against_real_frames",
        "real_scenes_drawn",
        "generated_against_drawn_real_scenes",
        "against_real_scenes_holding_the_words",
    }
    for test in (tests["against_real_frames"], tests["real_scenes_drawn"]):
        assert 0.0 <= test["low"] <= test["mean"] <= test["high"] <= 1.0
    assert tests["against_real_frames"]["low"] <= report["realism"] <= tests["against_real_frames"]["high"]  # seed 0 among them
    assert "the decoder's floor" in format_prompt_report(report)
    assert 0.0 <= report["consistency"]["teleport_share"] <= 1.0 and set(report["consistency"]["objects_found"]) == {
        "agent",
        "block",
    }
    assert report["seed_spread"] is None or report["seed_spread"] >= 0.0
    assert "simulator" not in report["consistency"]  # PushT's states are not made the simulator's start
    for ended in (report["consistency"]["ended_within"], report["consistency"]["real_starts"]["ended_within"]):
        assert set(ended) == {"1", "3"} and 0.0 <= ended["1"] <= ended["3"] <= 1.0  # steps=3: within 1 and 3
    jumps = report["consistency"]["teleport_fields"]
    assert set(jumps) <= set(model.config.state_fields) and all(0.0 < v <= 1.0 for v in jumps.values())
    assert max(jumps.values(), default=0.0) <= report["consistency"]["teleport_share"]
    aphasia = report["modal_aphasia"]
    assert set(aphasia["per_attribute"]) == {"block_goal", "agent_side"}
    assert aphasia["gap"] == pytest.approx(aphasia["describe"] - aphasia["draw"])
    attributes = report["attributes"]
    assert set(attributes) == {"block_goal", "agent_side"}
    for name, a in attributes.items():
        assert set(a) == {"on_state", "on_frame", "frame_given_state", "ceiling", "ceiling_on_asked", "drawn_truth"}
        assert a["ceiling_on_asked"] is None or 0.0 <= a["ceiling_on_asked"] <= 1.0
        assert a["drawn_truth"] is None  # this model draws from its whole latent, not from a state
        assert report["probe_ceiling"][name] == a["ceiling"]
    real = real_side(model, Dataset(prompted_run / "data"), config)  # made once, as `worldsim scaling` does
    again = evaluate_prompts(model, space, load_prompt_set(path), Dataset(prompted_run / "data"), config, real=real)
    assert again["whole_prompt"] == report["whole_prompt"] and again["cases"] == report["cases"]
    with pytest.raises(ValueError, match="draws frames from its latent alone"):
        evaluate_prompts(
            load_model(prompted_run / "drawing")[0], space, load_prompt_set(path), Dataset(prompted_run / "data"), config
        )
    args = [
        "eval-prompts",
        "--checkpoint",
        str(prompted_run / "run"),
        "--prompts",
        str(path),
        "--data",
        str(prompted_run / "data"),
    ]
    assert main(args + ["--seeds", "0"]) == 2 and "--seeds and --steps must be at least 1" in capsys.readouterr().err


def test_the_probes_ceiling_is_measured_on_episodes_it_never_learnt_from(prompted_run, monkeypatch):
    from worldsim import prompt_eval
    from worldsim.model.critics import ProbeRecipe

    data = Dataset(prompted_run / "data")
    model, _ = load_model(prompted_run / "run")
    learnt = []
    fit = prompt_eval.StateProbe.fit
    monkeypatch.setattr(
        prompt_eval.StateProbe, "fit", lambda frames, states, *a, **k: learnt.append(states) or fit(frames, states, *a, **k)
    )
    config = prompt_eval.PromptEvalConfig(probe_frames=1000, probe_held_out=2, probe=ProbeRecipe(steps=2))
    real = prompt_eval.real_side(model, data, config)
    held = np.concatenate([data.episode(i).states for i in (1, 3)])  # every second episode
    assert np.array_equal(real.held_states, held)
    seen = {tuple(row) for row in learnt[0]}
    assert seen and not seen & {tuple(row) for row in held}
    more = prompt_eval.real_side(model, data, config, probe_data=data)  # more episodes for the probe
    assert len(learnt[1]) == len(learnt[0]) + sum(len(data.episode(i).frames) for i in range(len(data)))
    assert np.array_equal(more.held_states, held)
    with pytest.raises(ValueError, match="probe_held_out must be 2 or more"):
        prompt_eval.real_side(model, data, prompt_eval.PromptEvalConfig(probe_held_out=1))


def test_drawn_truth_reads_a_state_decoders_drawings_of_real_states(prompted_run):
    from worldsim import prompt_eval
    from worldsim.language.robotics import ATTRIBUTES
    from worldsim.model.critics import ProbeRecipe
    from worldsim.model.train import model_config_for
    from worldsim.model.world_model import WorldModel

    data = Dataset(prompted_run / "data")
    state_model = WorldModel(
        model_config_for(data, {**TINY, "draws_on_previous": False, "decoder": "field", "decoder_input": "state"})
    )
    config = prompt_eval.PromptEvalConfig(probe_frames=100, probe_held_out=2, probe=ProbeRecipe(steps=2))
    real = prompt_eval.real_side(state_model, data, config)
    fields = state_model.config.state_fields
    draws = {"block_goal": [True, False], "agent_region": [True, True]}
    asked = {"block_goal": ["on the goal", "far from the goal"], "agent_region": ["top-left", "top-left"]}
    out = prompt_eval._per_attribute(state_model, real, ATTRIBUTES, fields, {n: [True, False] for n in draws}, draws, asked)
    assert out["block_goal"]["on_state"] == 0.5 and out["block_goal"]["frame_given_state"] == 1.0
    assert out["agent_region"]["on_frame"] == 1.0
    assert all(0.0 <= a["drawn_truth"] <= 1.0 and 0.0 <= a["ceiling"] <= 1.0 for a in out.values())


def test_the_ceiling_on_asked_values_reads_only_real_frames_holding_them():
    from worldsim.language.robotics import ATTRIBUTES, GOAL
    from worldsim.prompt_eval import _read_asked
    from worldsim.sources.robotics import STATE_FIELDS

    fields = [f.name for f in STATE_FIELDS]
    truth = np.zeros((4, len(fields)), np.float32)
    truth[:, fields.index("block_x")] = [GOAL[0], GOAL[0], GOAL[0] + 400, GOAL[0] + 400]  # on, on, far, far
    truth[:, fields.index("block_y")] = GOAL[1]
    read = truth.copy()
    read[1, fields.index("block_x")] += 400  # one of the two on the goal read far from it; both far ones read right
    assert _read_asked(ATTRIBUTES, "block_goal", ["on the goal"], read, truth, fields) == 0.5
    assert _read_asked(ATTRIBUTES, "block_goal", ["far from the goal"] * 3, read, truth, fields) == 1.0
    # weighted as the scenes ask: one scene asked "on" (0.5), three "far" (1.0)
    mixed = _read_asked(ATTRIBUTES, "block_goal", ["on the goal"] + ["far from the goal"] * 3, read, truth, fields)
    assert mixed == pytest.approx((0.5 + 3 * 1.0) / 4)
    assert _read_asked(ATTRIBUTES, "block_goal", ["near the goal"], read, truth, fields) is None  # no real frame holds it


def test_calm_actions_leave_each_scene_to_itself():
    from worldsim.envs.keys import calm_action

    fields = ["agent_x", "agent_y", "agent_vx", "agent_vy", "block_x", "block_y", "block_angle", "coverage"]
    states = np.array([[10, 20, 0, 0, 100, 100, 0, 0], [30, 40, 0, 0, 100, 100, 0, 0]], dtype=np.float32)
    assert calm_action("robotics", fields, states).tolist() == [[10, 20], [30, 40]]  # hold the agent where it is
    assert calm_action("driving", [], np.zeros((3, 29))).tolist() == [1, 1, 1]  # IDLE
    assert calm_action("games", [], np.zeros((2, 7))).tolist() == [[0, 0, 0], [0, 0, 0]]  # no steering, gas or brake


def test_a_text_model_is_refused_beside_another_world_model(prompted_run, tmp_path):
    """Retrained weights give the latent another meaning: a text model left beside them is refused."""
    import shutil

    copy = tmp_path / "retrained"
    shutil.copytree(prompted_run / "run", copy)
    for name in ("text.json", "text.safetensors"):
        shutil.copyfile(prompted_run / "drawing" / name, copy / name)  # trained beside the other model
    env = WorldSimEnv(checkpoint=copy, obs_type="latent")
    with pytest.raises(TextModelError, match="trained beside another world model"):
        env.reset(seed=0, options={"prompt": "the block on the goal"})
    env.reset(seed=0)  # still usable


def test_export_ships_the_text_model_beside_its_weights(prompted_run, tmp_path, capsys):
    import shutil

    from worldsim.cli import main

    run, data = prompted_run / "run", prompted_run / "data"
    assert main(["eval", "--checkpoint", str(run), "--data", str(data), "--ks", "1", "--windows", "2", "--json"]) == 0
    report = tmp_path / "eval.json"
    report.write_text(capsys.readouterr().out)
    out = tmp_path / "weights" / "robotics"
    assert main(["export", "--checkpoint", str(run), "--eval", str(report), "--out", str(out)]) == 0
    assert {"text.json", "text.safetensors"} <= {p.name for p in out.iterdir()}
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Text model (prompts)" in card and "worldsim train-text --checkpoint RUN --data" in card
    _, info = WorldSimEnv(checkpoint=out, obs_type="latent").reset(seed=0, options={"prompt": "the block on the goal"})
    assert info["prompt_match"]["attributes"]
    stale = tmp_path / "stale"  # a run retrained after its text model was: refused at export
    shutil.copytree(run, stale)
    for name in ("text.json", "text.safetensors"):
        shutil.copyfile(prompted_run / "drawing" / name, stale / name)
    assert main(["export", "--checkpoint", str(stale), "--eval", str(report), "--out", str(tmp_path / "other")]) == 2
    assert "trained beside another world model" in capsys.readouterr().err and not (tmp_path / "other").exists()


def test_teleports_are_steps_no_real_step_makes():
    from worldsim.prompt_eval import teleport_fields, teleport_steps

    # fields: a position that moves up to 2 per step, an angle, a flag the data never changes
    real = [np.array([[0.0, 3.1, 1.0], [2.0, -3.1, 1.0], [3.0, -3.0, 1.0]])]
    angles = np.array([False, True, False])
    calm = np.array([[[0.0, 3.1, 1.0], [1.5, -3.12, 0.9999], [3.0, -3.05, 1.0]]])  # wraps round; the flag wobbles
    assert not teleport_steps(calm, real, angles).any()
    leap = np.array([[[0.0, 0.0, 1.0], [5.0, 0.0, 1.0], [5.0, 0.0, 0.0]]])  # 5 > 2, then the flag flips
    assert teleport_steps(leap, real, angles).tolist() == [[True, True]]
    turn = np.array([[[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]]])  # a turn of 1 rad, where the data turns 0.1 at most
    assert teleport_steps(turn, real, angles).tolist() == [[True]]
    # and which field jumped, step by step
    assert teleport_fields(leap, real, angles).tolist() == [[[True, False, False], [False, False, True]]]


PROMPT = "the T block upside down near the top-left corner"


def test_best_of_n_keeps_the_verifiers_best_and_one_sample_is_the_plain_start(prompted_run):
    env = WorldSimEnv(checkpoint=prompted_run / "run")
    plain, plain_info = env.reset(seed=0, options={"prompt": PROMPT})
    one, info = env.reset(seed=0, options={"prompt": PROMPT, "search": {"method": "best_of_n", "samples": 1}})
    assert np.array_equal(plain, one) and info["prompt_match"]["search"]["chosen"] == 0
    obs, info = env.reset(seed=0, options={"prompt": PROMPT, "search": {"samples": 8}})
    search = info["prompt_match"]["search"]
    shares = search["scores"]["attributes"]
    assert search["method"] == "best_of_n" and search["samples"] == 8 and len(shares) == 8
    held = [e["holds"] for e in plain_info["prompt_match"]["attributes"].values()]
    assert shares[0] == np.mean(held)  # candidate 0 is the start the seed gives without search
    assert shares[search["chosen"]] == max(shares) and search["chosen"] == shares.index(max(shares))
    chosen_held = [e["holds"] for e in info["prompt_match"]["attributes"].values()]
    assert np.mean(chosen_held) == max(shares) and info["prompt_match"]["all_hold"] == (max(shares) == 1)
    again, _ = env.reset(seed=0, options={"prompt": PROMPT, "search": {"samples": 8}})
    assert np.array_equal(obs, again)  # seeded


def test_best_of_n_breaks_ties_by_the_ensembles_disagreement(prompted_run, monkeypatch):
    import worldsim.search.best_of_n as search
    from worldsim.model.text import load_shared_space

    model = load_model(prompted_run / "run")[0]
    space = load_shared_space(prompted_run / "run", world_model=model)[0]
    scores = {"attributes": np.array([0.5, 1.0, 1.0, 1.0]), "uncertainty": np.array([0.1, 0.3, 0.2, 0.2])}
    monkeypatch.setattr(search, "verifier_scores", lambda model, scenes, verifier, calm: scores)
    scene, seen = search.best_of_n(model, space, PROMPT, 0, search.Search(samples=4))
    assert seen["chosen"] == 2 and scene.frames.shape == (1, 64, 64, 3) and len(scene.matches) == 1


def test_a_start_that_is_already_a_crash_is_reported_and_searched_last():
    from driving_states import FIELDS, driving_state

    from worldsim.model.scene import feasible
    from worldsim.search.best_of_n import best_candidate

    states = np.stack(
        [
            driving_state(car0_present=1, car0_dx=2.0, car0_dy=0.5, car1_present=1, car1_dx=30.0),  # a car on the ego
            driving_state(car0_present=1, car0_dx=8.0, car0_dy=0.5, car1_present=1, car1_dx=-30.0),  # 8 m ahead: clear
            # car0 absent, car1 a lane over
            driving_state(car0_present=0, car0_dx=1.0, car0_dy=0.0, car1_present=1, car1_dx=3.0, car1_dy=4.0),
        ]
    )
    assert feasible("driving", states, FIELDS).tolist() == [False, True, True]
    assert feasible("robotics", states[:, :3], ["agent_x", "agent_y", "block_x"]).all()  # no check there
    with pytest.raises(ValueError, match="layout"):
        feasible("driving", states, FIELDS[::-1])
    # a scene that holds every word but starts in a crash comes after one that holds fewer
    assert best_candidate({"attributes": np.array([1.0, 0.5, 0.5]), "feasible": np.array([0.0, 1.0, 1.0])}) == 1
    assert best_candidate({"attributes": np.array([1.0, 0.5, 1.0]), "feasible": np.array([0.0, 1.0, 1.0])}) == 2


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"search": {"samples": 2}}, 'give "prompt" with it'),
        ({"prompt": PROMPT, "search": {"samples": 0}}, "from 1 to 1024"),
        ({"prompt": PROMPT, "search": {"samples": 2.5}}, "whole number"),
        ({"prompt": PROMPT, "search": {"method": "beam"}}, "unknown search method 'beam'"),
        ({"prompt": PROMPT, "search": {"sample": 2}}, 'unknown "search" key(s) sample'),
        ({"prompt": PROMPT, "search": 4}, "must be a dict"),
        ({"prompt": PROMPT, "search": {"verifier": "judge"}}, "unknown search verifier 'judge'"),
    ],
)
def test_a_bad_search_option_is_refused_by_name(prompted_run, options, named):
    env = WorldSimEnv(checkpoint=prompted_run / "run")
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        env.reset(seed=0, options=options)
    vector = WorldSimVectorEnv(num_envs=2, checkpoint=prompted_run / "run", obs_type="latent")
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
        vector.reset(seed=0, options=options)


def test_the_vector_env_searches_for_its_prompted_envs(prompted_run):
    env = WorldSimVectorEnv(num_envs=3, checkpoint=prompted_run / "run", obs_type="latent")
    _, infos = env.reset(seed=0, options={"prompt": [PROMPT, None, "the block on the goal"], "search": {"samples": 3}})
    assert infos["_prompt_match"].tolist() == [True, False, True]
    assert [infos["prompt_match"][i]["search"]["samples"] for i in (0, 2)] == [3, 3]
    _, infos = env.reset(seed=0, options={"prompt": PROMPT})
    assert "search" not in infos["prompt_match"][0]


def test_generate_and_eval_prompts_take_best_of_n(prompted_run, tmp_path, capsys):
    import json

    from worldsim.cli import main
    from worldsim.model.text import load_shared_space
    from worldsim.prompt_eval import _generate
    from worldsim.search.best_of_n import Search

    out = tmp_path / "scenes"
    args = ["generate", PROMPT, "--checkpoint", str(prompted_run / "run"), "--seeds", "2", "--steps", "0"]
    assert main(args + ["--search", "best_of_n", "--samples", "3", "--out", str(out)]) == 0
    assert "best of 3" in capsys.readouterr().out
    report = json.loads((out / "scenes.json").read_text())
    assert [len(s["search"]["scores"]["attributes"]) for s in report["scenes"]] == [3, 3]
    model = load_model(prompted_run / "run")[0]
    space = load_shared_space(prompted_run / "run", world_model=model)[0]
    scenes = _generate(model, space, PROMPT, [0, 1], Search(samples=3, verifier="frame"), None)
    assert scenes.frames.shape == (2, 64, 64, 3) and len(scenes.matches) == 2 and scenes.latents.shape[0] == 2


def test_the_frame_verifier_grades_what_the_encoder_reads_back_off_each_drawn_candidate(prompted_run):
    import torch

    from worldsim import domains
    from worldsim.model.scene import generate_scenes
    from worldsim.model.text import load_shared_space
    from worldsim.search.best_of_n import Search, best_of_n, candidate_seeds, verifier_scores

    model = load_model(prompted_run / "run")[0]
    space = load_shared_space(prompted_run / "run", world_model=model)[0]
    generators = [torch.Generator().manual_seed(s) for s in candidate_seeds(5, 6)]
    scenes = generate_scenes(model, space, PROMPT, generators)
    with torch.no_grad():
        read = model.physical_state(model.encode(torch.as_tensor(scenes.frames))).numpy()
    holds = domains.get("robotics").load("attributes").check(scenes.parsed.attributes, read, model.config.state_fields)
    expected = np.mean([holds[name] for name in scenes.parsed.attributes], 0)
    assert np.allclose(verifier_scores(model, scenes, "frame")["attributes"], expected)
    chosen, seen = best_of_n(model, space, PROMPT, 5, Search(samples=6, verifier="frame"))
    assert seen["verifier"] == "frame" and seen["scores"]["attributes"] == expected.tolist()
    assert np.array_equal(chosen.frames[0], scenes.frames[seen["chosen"]])


def test_scaling_measures_each_k_and_fits_the_judges_and_the_states_curves(prompted_run, monkeypatch, capsys, tmp_path):
    import json

    import imageio.v3 as imageio

    import worldsim.prompt_eval as prompt_eval
    from worldsim.cli import main

    seen = []

    def evaluate(model, space, prompts, data, config, reflector=None, real=None):  # quality that rises with K, per prompt
        assert real == "the real side"  # made once, handed to every K
        seen.append((config.samples, config.verifier, config.seeds))
        rising = 0.9 - 0.4 * config.samples**-0.7
        cases = [{"kind": "simple", "state_holds": rising + d, "frame_holds": 0.5 + d} for d in (0, 0.1)]
        return {"cases": [*cases, {"kind": "out_of_range", "refused": True}]}

    made = []
    monkeypatch.setattr(prompt_eval, "evaluate_prompts", evaluate)
    monkeypatch.setattr(
        prompt_eval, "real_side", lambda model, data, config, probe_data=None: made.append(config.seed) or "the real side"
    )
    args = ["scaling", "--checkpoint", str(prompted_run / "run"), "--prompts", "scenarios/prompts/robotics-dev.yaml"]
    args += ["--data", str(prompted_run / "data"), "--seeds", "3", "--verifier", "frame", "--json"]
    assert main(args + ["--ks", "4,1,2,8", "--plot", str(tmp_path / "curve.png")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert imageio.imread(tmp_path / "curve.png").shape == (420, 640, 3) and report["plot"] == str(tmp_path / "curve.png")
    assert seen == [(1, "frame", 3), (2, "frame", 3), (4, "frame", 3), (8, "frame", 3)] and made == [0]
    assert report["on_state"]["ks"] == [1, 2, 4, 8] and report["on_state"]["gamma"] == pytest.approx(0.7, abs=0.02)
    assert report["judge"]["quality"] == pytest.approx([0.55] * 4) and report["judge"]["k_star"] == 1.0  # flat: no sample pays
    assert set(report["judge"]["interval_90"]) == {"q_inf", "a", "gamma", "k_star"} and len(report["seconds"]) == 4
    assert main(args + ["--ks", "1,2"]) == 2 and "three distinct K" in capsys.readouterr().err
    assert len(seen) == 4  # refused before any evaluation


def test_ended_within_counts_a_dream_from_its_first_termination():
    from worldsim.prompt_eval import ended_within

    terminations = torch.tensor([[False, True, False, False, False, False], [False] * 6, [True] + [False] * 5])
    # ended at steps 2, never and 1: within 1 step one of three, within 5 and 6 two of three
    assert ended_within(terminations, 6) == pytest.approx({"1": 1 / 3, "5": 2 / 3, "6": 2 / 3})
    assert ended_within(terminations[:, :3], 3) == pytest.approx({"1": 1 / 3, "3": 2 / 3})


def test_seed_spread_sets_the_seeds_variety_against_real_scenes_holding_the_words():
    from worldsim.prompt_eval import seed_spread

    rng = np.random.default_rng(0)
    real = rng.normal(0, [1.0, 2.0, 0.0], (400, 3))  # the third field never varies: left out
    assert seed_spread(rng.normal(0, [1.0, 2.0, 0.0], (64, 3)), real) == pytest.approx(1.0, abs=0.15)
    assert seed_spread(np.repeat(real[:1], 16, 0), real) == 0.0  # every seed the same scene
    assert seed_spread(rng.normal(0, [0.1, 0.2, 0.0], (64, 3)), real) == pytest.approx(0.1, abs=0.03)
    assert seed_spread(real[:1], real) is None and seed_spread(real[:16], real[:5]) is None
    angles = np.array([True, False, False])  # +3.1 and -3.1 rad lie 0.08 apart, not 6.2
    wrapped = np.array([[3.1, 0.0, 0.0], [-3.1, 0.0, 0.0]] * 8)
    assert seed_spread(wrapped, real, angles) < seed_spread(wrapped, real)


def test_variety_spreads_a_prompts_seeds_and_is_checked(prompted_run):
    env = WorldSimEnv(checkpoint=prompted_run / "run", obs_type="latent")
    plain = [env.reset(seed=s, options={"prompt": PROMPT})[0] for s in range(6)]
    same, info = env.reset(seed=0, options={"prompt": PROMPT, "variety": 1.0})
    assert np.array_equal(same, plain[0]) and "search" not in info["prompt_match"]  # a plain draw at the trained scale
    wide = [env.reset(seed=s, options={"prompt": PROMPT, "variety": 3.0})[0] for s in range(6)]
    flat = [env.reset(seed=s, options={"prompt": PROMPT, "variety": 0.0})[0] for s in range(6)]
    spread = lambda starts: np.std(np.stack(starts), 0).mean()  # noqa: E731
    assert spread(flat) < 1e-5 < spread(plain) < spread(wide)  # variety 0: every seed the same scene
    _, info = env.reset(seed=0, options={"prompt": PROMPT, "variety": 2.0, "search": {"samples": 3}})
    assert info["prompt_match"]["search"]["samples"] == 3
    for bad in (-1.0, "wide", True, 11.0):
        with pytest.raises(ValueError, match='"variety" must be a number'):
            env.reset(seed=0, options={"prompt": PROMPT, "variety": bad})
    with pytest.raises(ValueError, match='"variety" reset option'):
        env.reset(seed=0, options={"variety": 2.0})
    vector = WorldSimVectorEnv(num_envs=2, checkpoint=prompted_run / "run", obs_type="latent")
    obs, infos = vector.reset(seed=0, options={"prompt": PROMPT, "variety": 0.0})
    assert np.allclose(obs[0], obs[1], atol=1e-5)  # both envs drew the same scene at variety 0
