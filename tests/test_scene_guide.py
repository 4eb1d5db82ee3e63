"""The attribute reader that guides the scene generator: it learns the attribute table's rules on
state codes, its verdict trains the generator so that fresh codes give scenes their captions hold on,
and `worldsim train-text --generator-only` retrains the generator beside a kept text model."""

import json

import numpy as np
import pytest
import torch
from tiny_models import TINY

from worldsim.cli import main
from worldsim.data import Dataset
from worldsim.language.captions import caption
from worldsim.language.robotics import ATTRIBUTES
from worldsim.model.checkpoint import load_model
from worldsim.model.scene_guide import StateBank, guidance_loss, reading_loss, train_attribute_reader
from worldsim.model.text import load_shared_space, save_shared_space
from worldsim.model.text_training import (
    TextTrainConfig,
    _labels,
    collect_scenes,
    train_scene_generator,
    train_shared_space,
)

CONFIG = TextTrainConfig(
    steps=20, reader_steps=20, batch_size=16, every=1, context=3, val_fraction=0.3, pool=5, corpus=300, vocab_size=150
)


@pytest.fixture(scope="module")
def guided(tiny_run, tmp_path_factory):
    run = tiny_run("robotics")
    model, _ = load_model(run)
    data = Dataset(run.parent / "data")
    space, report = train_shared_space(model, data, CONFIG, progress=False)
    out = tmp_path_factory.mktemp("guided-text")
    save_shared_space(space, out, report, world_model=model)
    return run, model, data, space, report


def _codes(model, n, seed):
    """State codes drawn around the data's mean, a standard deviation apart: the positions spread over
    several regions of the table, whatever the tiny model's filter makes."""
    return torch.randn(
        n, model.split(torch.zeros(1, model.config.latent_dim))[0].shape[1], generator=torch.Generator().manual_seed(seed)
    )


def test_the_reader_learns_the_tables_rules_better_than_the_most_common_value(guided):
    _, model, _, space, _ = guided
    held_out = _codes(model, 500, 1)
    reader, report = train_attribute_reader(
        model, ATTRIBUTES, space.config.ranges, _codes(model, 2000, 0), held_out, steps=300, progress=False
    )
    agreement = report["agreement_held_out"]
    assert set(agreement) == set(ATTRIBUTES.names)
    readings = ATTRIBUTES.read(model.denormalise_state(held_out).numpy(), model.config.state_fields)
    for name in ("block_region", "agent_region", "block_orientation"):
        known = readings[name][readings[name] >= 0].astype(int)
        most_common = np.bincount(known).max() / len(known)
        assert agreement[name] > max(0.8, most_common + 0.2), (name, agreement[name], most_common)
    assert report["loss"]["last"] < report["loss"]["first"]
    assert not any(p.requires_grad for p in reader.parameters())  # frozen: it only judges
    # Beyond the span of the codes it learnt from, its verdict is replaced by the way back.
    inside, beyond = held_out[:1].clamp(-1, 1), held_out[:1].clamp(-1, 1) + 100.0
    assert reader.outside(inside) == 0 and reader.outside(beyond) > 1000
    assert torch.equal(reader.within(inside), inside) and torch.equal(reader.within(beyond), reader.high[None].expand_as(beyond))


def test_the_table_names_the_fields_its_rules_read():
    fields = ("agent_x", "agent_y", "agent_vx", "agent_vy", "block_x", "block_y", "block_angle", "coverage")
    rng = np.random.default_rng(0)
    states = np.column_stack([rng.uniform(0, 512, (400, 2)), rng.normal(0, 100, (400, 2)), rng.uniform(0, 512, (400, 2))])
    states = np.column_stack([states, rng.uniform(-np.pi, np.pi, 400), rng.uniform(0, 1, 400)])
    assert ATTRIBUTES.fields_read(states, fields) == ("agent_x", "agent_y", "block_x", "block_y", "block_angle")


def test_the_reader_sees_only_the_fields_the_rules_read(guided):
    """PushT's velocities and coverage are in no rule: a reader that saw them leaned on them, and
    guidance followed (agents at 5 standard deviations of speed, drawn as a cloud)."""
    _, model, _, space, _ = guided
    reader, report = train_attribute_reader(
        model, ATTRIBUTES, space.config.ranges, _codes(model, 500, 0), _codes(model, 100, 1), steps=20, progress=False
    )
    assert report["fields_read"] == ["agent_x", "agent_y", "block_x", "block_y", "block_angle"]
    fields = list(model.config.state_fields)
    unread = [fields.index(n) for n in ("agent_vx", "agent_vy", "coverage")]
    code = _codes(model, 8, 2)
    moved = code.clone()
    moved[:, unread] += 5.0
    for name, read in reader(code).items():
        assert torch.equal(read, reader(moved)[name]), name
    angle = fields.index("block_angle")
    assert reader.reads[angle] == 1 and reader.reads[-1] == 1  # its cosine's slot and its appended sine
    assert int(reader.reads.sum()) == 6
    everything, report = train_attribute_reader(  # the safeguard switched off (--reader-all-fields)
        model,
        ATTRIBUTES,
        space.config.ranges,
        _codes(model, 500, 0),
        _codes(model, 100, 1),
        steps=2,
        progress=False,
        all_fields=True,
    )
    assert report["fields_read"] == fields and bool(everything.reads.all())


def test_guidance_gains_nothing_beyond_the_span_of_real_states(guided):
    _, model, _, space, _ = guided
    codes = _codes(model, 500, 0)
    reader, _ = train_attribute_reader(model, ATTRIBUTES, space.config.ranges, codes, codes, steps=20, progress=False)
    S = codes.shape[1]
    latents = torch.zeros(4, model.config.latent_dim)
    latents[:, :S] = reader.high + 3.0  # past the span in every dimension
    latents.requires_grad_(True)
    labels = {"block_region": torch.zeros(4, dtype=torch.long)}
    loss = guidance_loss(model, reader, latents, labels)
    loss.backward()
    pull = reader.outside(latents[:, :S].detach()).mean()  # all that is left: the way back
    assert loss.item() == pytest.approx(
        pull.item() + reading_loss(reader(reader.high[None].expand(4, -1)), reader.kinds, labels).item()
    )
    assert (latents.grad[:, :S] > 0).all()  # every dimension pulled back towards the span
    unclamped = guidance_loss(model, reader, latents.detach(), labels, clamp=False)  # --reader-unclamped
    at_code = reading_loss(reader(latents[:, :S].detach()), reader.kinds, labels)
    assert unclamped.item() == pytest.approx(pull.item() + at_code.item())


def test_a_generated_pusht_state_gets_the_coverage_its_pose_gives():
    from worldsim.sources.robotics import with_derived_fields

    fields = ("agent_x", "agent_y", "agent_vx", "agent_vy", "block_x", "block_y", "block_angle", "coverage")
    on_goal = [100, 100, 0, 0, 256, 256, np.pi / 4, -0.02]  # the goal's own pose, with a coverage no pose gives
    far = [100, 100, 0, 0, 80, 420, 0.3, 0.4]
    derived = with_derived_fields(np.array([on_goal, far], np.float32), fields)
    assert derived[:, 7] == pytest.approx([1.0, 0.0], abs=0.01)
    assert np.array_equal(derived[:, :7], np.array([on_goal, far], np.float32)[:, :7])


def test_the_derived_coverage_is_the_one_pusht_records(tmp_path):
    from worldsim.data import CollectRequest, collect
    from worldsim.sources.robotics import with_derived_fields

    out = tmp_path / "near-goal"
    collect(
        CollectRequest(domain="robotics", scenario="block_near_goal", out=str(out), episodes=2, max_steps=20, seed=1),
        progress=False,
    )
    data = Dataset(out)
    fields = [f["name"] for f in data.source["state_fields"]]
    # after the first step: the coverage recorded at a reset can disagree with the block's pose
    states = np.concatenate([data.episode(i).states[1:] for i in range(len(data))])
    assert states[:, fields.index("coverage")].max() > 0.05  # a block over the goal, not only zeros
    assert np.allclose(with_derived_fields(states, fields), states, atol=1e-5)


def test_a_generated_carracing_state_is_put_back_in_the_simulators_ranges(tiny_run):
    from worldsim.model.scene import as_simulated
    from worldsim.sources.games import within_bounds

    fields = ("x", "speed", "wheels_off_track", "progress")
    states = np.array([[5.0, -8.0, 10.0, 1.5], [6.0, 30.0, 2.0, 0.5]], np.float32)
    assert within_bounds(states, fields).tolist() == [[5.0, 0.0, 4.0, 1.0], [6.0, 30.0, 2.0, 0.5]]
    # and what follows from the rest: wheels rolling at the car's speed, the road behind it driven over
    from worldsim.sources.games import OMEGA_FIELDS, TOUCHED_FIELDS, WHEEL_RADIUS, with_derived_fields

    names = ["speed", "wheels_off_track", *TOUCHED_FIELDS, *OMEGA_FIELDS]
    made = np.zeros((2, len(names)), np.float32)
    made[:, 0], made[1, 1] = 27.0, 4.0  # the second car off the track
    derived = with_derived_fields(made, names)
    assert np.allclose(derived[:, -4:], 27.0 / WHEEL_RADIUS)
    behind = [names.index(f) for f in TOUCHED_FIELDS[:5]]  # tiles -4 .. 0
    assert (derived[0, behind] == 1).all() and derived[0, names.index(TOUCHED_FIELDS[5])] == 0
    assert (derived[1, 2:-4] == 0).all()
    model = load_model(tiny_run("games"))[0]
    f = list(model.config.state_fields)
    state = torch.zeros(1, len(f))
    state[0, f.index("speed")], state[0, f.index("wheels_off_track")] = -8.0, 10.0
    _, h, z = model.split(torch.randn(1, model.config.latent_dim))
    made = as_simulated(model, torch.cat([model.normalise_state(state), h, z], -1))
    speed, wheels = model.physical_state(made)[0, [f.index("speed"), f.index("wheels_off_track")]].tolist()
    assert speed == pytest.approx(0.0, abs=1e-4) and wheels == pytest.approx(4.0, abs=1e-4)


def test_the_state_bank_charges_only_states_unlike_every_real_one():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(2000, 6, generator=generator)
    bank = StateBank(real, torch.randn(200, 6, generator=generator))
    assert bank.radius > 0
    assert bank.loss(real[:50]) == 0  # the real states themselves
    far = real[:50].clone()
    far[:, 0] += 10  # ten standard deviations off in one field
    far.requires_grad_(True)
    loss = bank.loss(far)
    loss.backward()
    assert loss > 5 and far.grad[:, 0].gt(0).all()  # the gradient leads back towards the real states


def test_guidance_makes_fresh_codes_give_scenes_the_caption_holds_on(guided):
    _, model, data, space, _ = guided
    scenes = collect_scenes(model, data, data.indices("train", 0.3), 3, 1, progress=False)
    codes = model.split(scenes.latents)[0]
    reader, _ = train_attribute_reader(model, ATTRIBUTES, space.config.ranges, codes, codes, steps=200, progress=False)
    rng = np.random.default_rng(5)
    captions = [caption(ATTRIBUTES, scenes.values(ATTRIBUTES, int(i)), rng) for i in rng.integers(len(scenes), size=64)]
    labels = _labels(ATTRIBUTES, [stated for _, stated in captions], space.config)
    losses = {}
    for weight in (0.0, 5.0):
        config = TextTrainConfig(**{**CONFIG.__dict__, "generator_steps": 150, "guidance": weight, "reader_steps": 200})
        report = train_scene_generator(model, space, ATTRIBUTES, scenes, scenes, config, np.random.default_rng(0), False)
        assert ("reader" in report) == (weight > 0) and ("guidance_loss" in report) == (weight > 0)
        with torch.no_grad():
            texts = space.embed_texts([text for text, _ in captions])
            fresh = torch.randn(len(captions), space.generator.code_dim, generator=torch.Generator().manual_seed(9))
            losses[weight] = guidance_loss(model, reader, space.generator.sample(texts, fresh), labels).item()
    assert losses[5.0] < 0.8 * losses[0.0]


def test_generator_only_keeps_the_text_model_and_replaces_the_generator(guided, tmp_path, capsys):
    run, model, _, space, trained = guided
    directory = tmp_path / "run"
    directory.mkdir()
    for f in run.iterdir():
        if f.is_file():
            (directory / f.name).write_bytes(f.read_bytes())
    save_shared_space(space, directory, trained, world_model=model)
    data = str(run.parent / "data")
    # --every 3 is not the text model's cut (1): the generator's scenes are cut as the text model's were.
    args = ["train-text", "--checkpoint", str(directory), "--data", data, "--out", str(directory), "--every", "3"]
    args += ["--generator-only", "--generator-steps", "5", "--reader-steps", "5", "--quiet"]
    assert main(args + ["--guidance", "-1"]) == 2 and "--guidance must be 0 or more" in capsys.readouterr().err
    assert main(args + ["--guidance", "1"]) == 0
    capsys.readouterr()
    again, report = load_shared_space(directory, world_model=model)
    with torch.no_grad():
        texts = ["the block upside down", "the agent at the top"]
        assert torch.equal(space.embed_texts(texts), again.embed_texts(texts))
        noise = torch.zeros(2, space.generator.code_dim)
        assert not torch.equal(
            space.generator.sample(space.embed_texts(texts), noise), again.generator.sample(again.embed_texts(texts), noise)
        )
    assert report["generator_training"]["retrained_alone"] and report["config"]["guidance"] == 1.0
    assert report["config"]["every"] == 1
    assert 0.0 <= report["generation"]["whole_caption_holds"] <= 1.0
    assert "agreement_held_out" in json.loads((directory / "text.json").read_text())["report"]["generator_training"]["reader"]


def test_generated_driving_states_list_their_vehicles_nearest_first_as_highway_env_does():
    from worldsim import domains
    from worldsim.sources.driving import driving_state_fields

    fields = [f.name for f in driving_state_fields(3)]
    state = np.zeros((1, len(fields)), dtype=np.float32)
    cars = {"car0": (1, 30.0, 0.0, 25.0), "car1": (0, 0.0, 0.0, 0.0), "car2": (1, -6.0, 4.0, 20.0)}
    for slot, (present, dx, dy, vx) in cars.items():
        for name, value in zip(("present", "dx", "dy", "vx"), (present, dx, dy, vx), strict=True):
            state[0, fields.index(f"{slot}_{name}")] = value
    state[0, fields.index("ego_vx")] = 22.0
    order = domains.get("driving").load("state_order")
    listed = order(state, fields)
    read = lambda slot, name: listed[0, fields.index(f"{slot}_{name}")]  # noqa: E731
    assert (read("car0", "dx"), read("car0", "vx")) == (-6.0, 20.0)  # 7.2 m away: the nearest
    assert (read("car1", "dx"), read("car1", "vx")) == (30.0, 25.0)
    assert read("car2", "present") == 0  # the absent slot last
    assert listed[0, fields.index("ego_vx")] == 22.0 and state[0, fields.index("car0_dx")] == 30.0  # input kept
    assert domains.get("robotics").state_order is None


def test_frame_guidance_reaches_the_scene_through_the_drawn_frame_and_trains_no_model_weight(guided):
    from worldsim.model.train import model_config_for
    from worldsim.model.world_model import WorldModel

    run, model, data, space, _ = guided
    with pytest.raises(ValueError, match="--frame-guidance needs a model that draws frames from its latent alone"):
        config = TextTrainConfig(**{**CONFIG.__dict__, "guidance": 0.0, "frame_guidance": 1.0})
        scenes = collect_scenes(model, data, data.indices("train", 0.3), 3, 1, progress=False)
        train_scene_generator(model, space, ATTRIBUTES, scenes, scenes, config, np.random.default_rng(0), False)
    state_model = WorldModel(
        model_config_for(data, {**TINY, "draws_on_previous": False, "decoder": "field", "decoder_input": "state"})
    )
    state_model.requires_grad_(False)
    S = state_model.config.state_code_dim
    codes = _codes(state_model, 64, 3)
    reader, _ = train_attribute_reader(state_model, ATTRIBUTES, space.config.ranges, codes, codes, steps=20, progress=False)
    latents = torch.randn(8, state_model.config.latent_dim, requires_grad=True)
    labels = {name: torch.zeros(8, dtype=torch.long) for name in ("block_region", "agent_region")}
    guidance_loss(state_model, reader, latents, labels, frame=True).backward()
    assert latents.grad[:, :S].abs().sum() > 0  # the state slot the decoder draws from
    assert latents.grad[:, S:].abs().sum() == 0  # the rest of the latent is not drawn
    assert all(p.grad is None for p in state_model.parameters())


def test_generated_driving_latents_are_put_in_listed_order_and_keep_the_rest(tiny_run):
    from worldsim.model.scene import in_listed_order

    model = load_model(tiny_run("driving"))[0]
    fields = model.config.state_fields
    state = torch.zeros(1, len(fields))
    for slot, (dx, dy) in {"car0": (40.0, 0.0), "car1": (-8.0, 4.0), "car2": (15.0, -4.0), "car3": (90.0, 0.0)}.items():
        state[0, fields.index(f"{slot}_present")] = 1.0
        state[0, fields.index(f"{slot}_dx")], state[0, fields.index(f"{slot}_dy")] = dx, dy
    _, h, z = model.split(torch.randn(1, model.config.latent_dim))
    latent = torch.cat([model.normalise_state(state), h, z], -1)
    listed = in_listed_order(model, latent)
    dx = model.physical_state(listed)[0, [fields.index(f"car{k}_dx") for k in range(4)]]
    assert torch.allclose(dx, torch.tensor([-8.0, 15.0, 40.0, 90.0]), atol=1e-3)
    assert torch.equal(model.split(listed)[1], h) and torch.equal(model.split(listed)[2], z)


def test_the_overlap_penalty_charges_cars_on_the_ego_and_pushes_them_off():
    from driving_states import FIELDS, driving_state

    from worldsim.model.crash import cars_on_the_ego, overlap_penalty

    states = np.stack(
        [
            driving_state(car0_present=1, car0_dx=2.0, car0_dy=0.5),  # on the ego
            driving_state(car0_present=1, car0_dx=8.0, car0_dy=0.5),  # 8 m ahead
            driving_state(car0_present=1, car0_dx=1.0, car0_dy=4.0),  # a lane over
            driving_state(car0_present=0, car0_dx=0.0, car0_dy=0.0),  # an empty slot
        ]
    )
    rows = torch.tensor(states, requires_grad=True)
    penalty = overlap_penalty(rows, FIELDS)
    assert penalty[0] > 0 and penalty[1:].tolist() == [0.0, 0.0, 0.0]
    assert cars_on_the_ego(states, FIELDS).tolist() == [True, False, False, False]  # its verdict
    penalty.sum().backward()
    dx, dy = FIELDS.index("car0_dx"), FIELDS.index("car0_dy")
    assert rows.grad[0, dx] < 0 and rows.grad[0, dy] < 0  # descent moves the car further along and across
    with pytest.raises(ValueError, match="layout"):
        overlap_penalty(rows, FIELDS[::-1])


def test_feasibility_trains_generated_driving_scenes_off_the_ego(tiny_run, guided):
    from worldsim.language.driving import ATTRIBUTES as DRIVING
    from worldsim.model.crash import overlap_penalty

    model = load_model(tiny_run("driving"))[0]
    data = Dataset(tiny_run("driving").parent / "data")
    space, _ = train_shared_space(model, data, CONFIG, progress=False)
    scenes = collect_scenes(model, data, data.indices("train", 0.3), 3, 1, progress=False)
    # every recorded car put on the ego: the generator learns scenes that are crashes, unless charged
    fields = list(model.config.state_fields)
    state = model.physical_state(scenes.latents)
    spread = torch.Generator().manual_seed(3)
    for k in range(4):
        state[:, fields.index(f"car{k}_present")] = 1.0
        state[:, fields.index(f"car{k}_dx")] = 6 * torch.rand(len(state), generator=spread) - 3
        state[:, fields.index(f"car{k}_dy")] = 2 * torch.rand(len(state), generator=spread) - 1
    _, h, z = model.split(scenes.latents)
    scenes.latents = torch.cat([model.normalise_state(state), h, z], -1)
    charged = {}
    for weight in (0.0, 100.0):
        config = TextTrainConfig(**{**CONFIG.__dict__, "generator_steps": 150, "guidance": 0.0, "feasibility": weight})
        report = train_scene_generator(model, space, DRIVING, scenes, scenes, config, np.random.default_rng(0), False)
        assert ("guidance_loss" in report) == (weight > 0)
        with torch.no_grad():
            texts = space.embed_texts(["a car ahead"] * 64)
            fresh = torch.randn(64, space.generator.code_dim, generator=torch.Generator().manual_seed(9))
            generated = model.physical_state(space.generator.sample(texts, fresh))
            charged[weight] = overlap_penalty(generated, fields).mean().item()
    assert charged[0.0] > 1.0 and charged[100.0] < 0.5 * charged[0.0]
    _, robotics, robotics_data, robotics_space, _ = guided
    robotics_scenes = collect_scenes(robotics, robotics_data, robotics_data.indices("train", 0.3), 3, 1, progress=False)
    config = TextTrainConfig(**{**CONFIG.__dict__, "feasibility": 1.0})
    with pytest.raises(ValueError, match="--feasibility: the 'robotics' domain names no states"):
        train_scene_generator(
            robotics, robotics_space, ATTRIBUTES, robotics_scenes, robotics_scenes, config, np.random.default_rng(0), False
        )


def test_feasibility_steps_charge_the_first_dreamt_steps_and_leave_the_model_alone(tiny_run, guided):
    from worldsim.envs.keys import calm_action
    from worldsim.language.driving import ATTRIBUTES as DRIVING
    from worldsim.model.crash import overlap_penalty
    from worldsim.model.scene_guide import dreamt_infeasibility

    model = load_model(tiny_run("driving"))[0]
    data = Dataset(tiny_run("driving").parent / "data")
    space, _ = train_shared_space(model, data, CONFIG, progress=False)
    scenes = collect_scenes(model, data, data.indices("train", 0.3), 3, 1, progress=False)
    latents = scenes.latents[:8].clone().requires_grad_(True)
    idle = lambda states: np.ones(len(states), dtype=np.int64)  # noqa: E731  (driving's calm action)
    dreamt = dreamt_infeasibility(model, latents, overlap_penalty, 2, torch.Generator().manual_seed(0), idle)
    assert dreamt.shape == (8,) and (dreamt >= 0).all()
    dreamt.sum().backward()  # reaches the generated latent through the dynamics
    assert latents.grad is not None and torch.isfinite(latents.grad).all()

    weights = {k: v.clone() for k, v in model.state_dict().items()}
    charged = {}
    for steps in (0, 2):
        config = TextTrainConfig(
            **{**CONFIG.__dict__, "generator_steps": 150, "guidance": 0.0, "feasibility": 100.0, "feasibility_steps": steps}
        )
        report = train_scene_generator(
            model, space, DRIVING, scenes, scenes, config, np.random.default_rng(0), False, calm_action
        )
        assert "guidance_loss" in report
        with torch.no_grad():
            texts = space.embed_texts(["a car ahead"] * 64)
            fresh = torch.randn(64, space.generator.code_dim, generator=torch.Generator().manual_seed(9))
            generated = space.generator.sample(texts, fresh)
            charged[steps] = dreamt_infeasibility(
                model, generated, overlap_penalty, 2, torch.Generator().manual_seed(1), idle
            ).mean()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())  # the dynamics only judged
    assert charged[2] <= charged[0], charged
    with pytest.raises(ValueError, match="calm action"):
        train_scene_generator(model, space, DRIVING, scenes, scenes, config, np.random.default_rng(0), False)


def test_two_cars_stacked_in_a_lane_make_a_start_infeasible():
    from driving_states import FIELDS, driving_state

    from worldsim.model.crash import cars_stacked, infeasible_start

    states = np.stack(
        [
            driving_state(car0_present=1, car0_dx=30.0, car1_present=1, car1_dx=38.0),  # 8 m apart in one lane
            driving_state(car0_present=1, car0_dx=30.0, car1_present=1, car1_dx=55.0),  # 25 m apart: a real queue
            driving_state(car0_present=1, car0_dx=30.0, car1_present=1, car1_dx=32.0, car1_dy=4.0),  # a lane apart
            driving_state(car0_present=1, car0_dx=30.0, car1_present=0, car1_dx=30.0),  # the second slot empty
            driving_state(car0_present=1, car0_dx=2.0),  # on the ego: infeasible, not stacked
        ]
    )
    assert cars_stacked(states, FIELDS).tolist() == [True, False, False, False, False]
    assert infeasible_start(states, FIELDS).tolist() == [True, False, False, False, True]
    with pytest.raises(ValueError, match="layout"):
        cars_stacked(states, FIELDS[::-1])


def test_the_model_card_gives_a_generator_retrained_alone_its_own_seed_and_flags():
    from worldsim.model.card import text_section

    config = {"steps": 1500, "batch_size": 128, "every": 5, "pool": 100, "seed": 1, "generator_kl": 0.05, "guidance": 1.0}
    config |= {"feasibility": 1.0, "feasibility_steps": 1, "reader_all_fields": True}
    report = {"config": config, "generator_training": {"retrained_alone": True}, "data": "data/driving"}
    text, generator = [line for line in text_section(report) if line.startswith("worldsim train-text")]
    assert "--seed" not in text and "--steps 1500" in text  # the text model's own seed is not the generator's
    assert generator.split("#")[0].rstrip().endswith("--reader-all-fields --seed 1")
    assert "--feasibility 1 --feasibility-steps 1" in generator
    alone = text_section({"config": config, "data": "data/driving"})
    (whole,) = [line for line in alone if line.startswith("worldsim train-text")]  # text model and generator together
    assert whole.endswith("--seed 1")
    assert "--reader-steps" not in generator and "--reader-jitter" not in generator
    report["config"] = config | {"number_features": 8, "numbers_in_range": True, "reader_jitter": 0.5, "reader_steps": 1500}
    text, generator = [line for line in text_section(report) if line.startswith("worldsim train-text")]
    assert "--number-features 8" in text and "--numbers-in-range" in generator
    assert "--reader-jitter 0.5" in generator and "--reader-steps" not in generator


def test_a_number_is_scored_in_units_of_its_tolerance_so_a_miss_by_one_costs_what_a_category_does():
    from worldsim.language.driving import ATTRIBUTES as DRIVING
    from worldsim.model.scene_guide import number_scales

    ranges = {"ego_speed": [15, 35], "car_ahead_gap": [0, 120]}
    scales = number_scales(DRIVING, ranges)
    assert scales == pytest.approx({"ego_speed": 2.5 / 20, "car_ahead_gap": 5 / 120})
    kinds = {"car_ahead_gap": 0}
    asked = {"car_ahead_gap": torch.tensor([0.5, float("nan")])}  # 60 m; the second scene has no car ahead
    missed_by = {m: {"car_ahead_gap": torch.tensor([0.5 + m * 5 / 120, 0.9])} for m in (1, 4)}
    in_range = reading_loss(missed_by[1], kinds, asked)
    one, four = (reading_loss(missed_by[m], kinds, asked, scales) for m in (1, 4))
    assert in_range.item() == pytest.approx((5 / 120) ** 2)  # what the heads learnt from before: next to nothing
    assert one.item() == pytest.approx(0.5)  # Huber at one tolerance
    assert four.item() == pytest.approx(3.5)  # linear beyond it: an outlier does not swamp the categories


def test_text_models_trained_before_keep_learning_numbers_in_their_range():
    from worldsim.model.text_training import trained_config

    assert trained_config({"config": {"steps": 10}}).numbers_in_range
    assert not trained_config({"config": {"steps": 10, "numbers_in_range": False}}).numbers_in_range
    assert not TextTrainConfig().numbers_in_range
