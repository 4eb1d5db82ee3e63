"""engine="onnx": the dream's step as one ONNX Runtime graph equals the eager torch step, the envs
give the same observations under a seed on either engine, graphs are cached by content, and the
engine never runs where it cannot (a clear error instead)."""

import json
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from worldsim.envs.vector_env import WorldSimVectorEnv  # noqa: E402
from worldsim.envs.world_sim_env import WorldSimEnv  # noqa: E402
from worldsim.model import onnx_engine  # noqa: E402
from worldsim.model.checkpoint import load_model  # noqa: E402
from worldsim.model.config import ModelConfig  # noqa: E402
from worldsim.model.onnx_engine import TOLERANCE, GraphKind, OnnxStep, StepGraph  # noqa: E402
from worldsim.model.world_model import WorldModel  # noqa: E402


@pytest.fixture(autouse=True)
def graph_cache(tmp_path_factory, monkeypatch):
    """Exported graphs go to one temporary cache for the session's tests, never the user's."""
    monkeypatch.setenv("WORLDSIM_CACHE", str(tmp_path_factory.getbasetemp() / "worldsim-cache"))


def drawing_from_state(model: WorldModel, view: dict | None = None, dynamics: str = "delta", **options) -> WorldModel:
    """The same tiny model with the v2 decoder: a field drawing the physical state alone (through an
    ego camera's `view`, where given), and `dynamics` stepping the state (`options`: more config,
    such as the prior's own parts, prior_noise and prior_reward)."""
    v2 = {"draws_on_previous": False, "decoder": "field", "decoder_input": "state", "decoder_view": view or {}}
    v2["dynamics"] = dynamics
    v2.update(options)
    config = ModelConfig.from_json({**model.config.to_json(), **v2})
    torch.manual_seed(0)
    return WorldModel(config).eval()


def inputs(model: WorldModel, batch: int = 3):
    g = torch.Generator().manual_seed(1)
    c = model.config
    latent = 0.3 * torch.randn(batch, c.latent_dim, generator=g)
    features = 2 * torch.rand(batch, c.action_dim, generator=g) - 1
    noise = model.noise(batch, g)
    previous = torch.rand(batch, 3, c.frame_size, c.frame_size, generator=g)
    palette = torch.rand(6, 3, generator=g)
    return latent, features, noise, previous, palette


def on_a_road(model: WorldModel, latent: torch.Tensor) -> torch.Tensor:
    """The latents with their road samples put on a road that bends left, 7 u apart from 14 u
    behind the car, as CarRacing's are: random codes lay the samples within a unit of the car, the
    car prior spreads them along the curve through them into a road folded over the car, and where
    a folded road's edges cross a pixel, a float's difference between two engines repaints it."""
    from worldsim.sources.track_view import OFFSETS, field_names

    state = model.physical_state(latent)
    angle = 0.1 * torch.arange(len(OFFSETS)).clamp(min=2)[None] + 0.05 * torch.arange(len(latent))[:, None]
    road = torch.stack([-7.0 * torch.sin(angle), 7.0 * torch.cos(angle)], -1).cumsum(1)
    road = road - road[:, OFFSETS.index(0)][:, None]  # the car's place on the line at the car
    state[:, [model.config.state_fields.index(f) for f in field_names()]] = road.flatten(1)
    latent = latent.clone()
    latent[:, : model.config.state_code_dim] = model.normalise_state(state)
    return latent


@pytest.mark.parametrize("decoder", ["previous frame", "state field", "ego view", "car boxes", "matched slots", "lanes"])
@pytest.mark.parametrize("kind", [GraphKind(False, False), GraphKind(True, True), GraphKind(True, False)], ids=lambda k: k.name)
def test_the_graph_computes_the_eager_step(tiny_run, decoder, kind):
    if decoder == "ego view":  # CarRacing's camera (the grass and the road under each cell), the car prior
        from worldsim.sources.games import CAMERA  # corrected, laying the track ahead and reading the reward

        model = drawing_from_state(
            load_model(tiny_run("games"))[0], CAMERA, dynamics="prior", prior_noise=True, prior_reward=True, decoder_static=True
        )
    elif decoder in ("car boxes", "matched slots", "lanes"):  # highway-env's camera: each cell inside which car, and
        from worldsim.sources.driving import CAMERA, LANES  # where (the cars of every state put nearest first; on lanes)

        options = {"matched_slots": decoder != "car boxes", "lanes": LANES if decoder == "lanes" else {}}
        model = drawing_from_state(load_model(tiny_run("driving"))[0], CAMERA, **options)
    else:
        model, _ = load_model(tiny_run("robotics"))
        model = model.eval() if decoder == "previous frame" else drawing_from_state(model)
    latent, features, noise, previous, palette = inputs(model)
    if decoder == "ego view":
        latent = on_a_road(model, latent)
    graph = OnnxStep(model, draw=kind.draw, snap_colours=kind.snap)
    given = dict(zip(["latent", "features", "noise", "previous", "palette"], (latent, features, noise, previous, palette)))
    with torch.no_grad():
        eager = StepGraph(model, kind)(*(given[name] for name in graph.names))
    out = graph(latent, features, noise, previous, palette)
    assert len(out) == len(eager) == (4 if kind.draw else 3)
    for name, a, b in zip(onnx_engine.OUTPUT_NAMES, out, eager, strict=False):
        assert a.shape == b.shape, name
        torch.testing.assert_close(a, b, atol=TOLERANCE, rtol=0, msg=name)


def test_dynamics_that_read_the_dreams_age_take_it_into_the_graph(tiny_run):
    model = drawing_from_state(load_model(tiny_run("robotics"))[0], dynamics_age=3)
    with torch.no_grad():
        model.state_delta[0].weight[:, -3:].normal_()  # a say for the age, as training gives it
    latent, features, noise, previous, palette = inputs(model)
    graph = OnnxStep(model, draw=False, snap_colours=False)
    assert graph.names[-1] == "age"
    with pytest.raises(ValueError, match="read the dream's age"):
        graph(latent, features, noise, previous, palette)
    ages = torch.tensor([0.0, 1.0, 7.0])
    out = graph(latent, features, noise, previous, palette, ages)
    with torch.no_grad():
        eager = model.imagine_step(latent, features, noise, 1.0, age=ages.long())
        fresh = model.imagine_step(latent, features, noise, 1.0, age=0)
    torch.testing.assert_close(out[0], eager, atol=TOLERANCE, rtol=0)
    assert not torch.allclose(out[0][2], fresh[2], atol=TOLERANCE)


def step_all(env, actions):
    return [env.step(a) for a in actions]


@pytest.mark.parametrize("domain", ["driving", "robotics"])
def test_the_env_shows_the_same_dream_on_either_engine(tiny_run, domain):
    run = tiny_run(domain)
    envs = [WorldSimEnv(checkpoint=run, obs_type="pixels", engine=engine) for engine in ("torch", "onnx")]
    starts = [env.reset(seed=5) for env in envs]
    np.testing.assert_array_equal(starts[0][0], starts[1][0])
    envs[0].action_space.seed(5)
    actions = [envs[0].action_space.sample() for _ in range(6)]
    eager, graph = (step_all(env, actions) for env in envs)
    for (o1, r1, t1, u1, i1), (o2, r2, t2, u2, i2) in zip(eager, graph, strict=True):
        np.testing.assert_array_equal(o1, o2)  # frames snapped to the same palette colours
        assert r1 == pytest.approx(r2, abs=TOLERANCE) and (t1, u1) == (t2, u2)
        np.testing.assert_allclose(i1["state"], i2["state"], rtol=1e-4, atol=1e-3)


def test_the_vector_env_latents_match_and_uncertainty_still_comes(tiny_run):
    run = tiny_run("robotics")
    envs = [WorldSimVectorEnv(num_envs=3, checkpoint=run, obs_type="latent", engine=e) for e in ("torch", "onnx")]
    for env in envs:
        env.reset(seed=[1, 2, 3])
    actions = envs[0].action_space.sample()
    (o1, r1, *_), (o2, r2, *_) = (env.step(actions) for env in envs)
    np.testing.assert_allclose(o1, o2, atol=TOLERANCE)
    np.testing.assert_allclose(r1, r2, atol=TOLERANCE)


def test_a_physics_blend_below_one_steps_in_torch_on_either_engine(tiny_run):
    """The graph holds the learned dynamics alone: a blended step runs in torch, so both engines agree exactly."""
    run = tiny_run("robotics")
    envs = [WorldSimEnv(checkpoint=run, obs_type="latent", physics_blend=0.5, engine=e) for e in ("torch", "onnx")]
    for env in envs:
        env.reset(seed=0)
    action = envs[0].action_space.sample()
    np.testing.assert_array_equal(envs[0].step(action)[0], envs[1].step(action)[0])


def test_graphs_are_cached_by_content(tiny_run, monkeypatch):
    model, _ = load_model(tiny_run("robotics"))
    first = OnnxStep(model, draw=False, snap_colours=False)
    monkeypatch.setattr(onnx_engine, "export_graph", lambda *a: pytest.fail("exported again though cached"))
    assert OnnxStep(model, draw=False, snap_colours=False).path == first.path
    exporter = onnx_engine._requirements()[1]
    assert onnx_engine.graph_key(model, GraphKind(False, False), exporter) in first.path.name
    with torch.no_grad():
        model.reward_head[-1].bias.add_(1.0)  # retrained weights: another graph
    assert onnx_engine.graph_key(model, GraphKind(False, False), exporter) not in first.path.name


def test_a_bad_engine_or_a_missing_runtime_is_named(tiny_run, monkeypatch):
    run = tiny_run("robotics")
    with pytest.raises(ValueError, match="engine must be one of torch, onnx"):
        WorldSimEnv(checkpoint=run, engine="tensorrt")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(onnx_engine.EngineUnavailable, match=r"pip install \"worldsim\[onnx\]\""):
        WorldSimEnv(checkpoint=run, engine="onnx")


def test_bench_times_both_engines(tiny_run, capsys):
    from worldsim.cli import main

    run = tiny_run("robotics")
    args = ["bench", "--domains", "robotics", "--steps", "10", "--checkpoint", str(run), "--num-envs", "2"]
    assert main([*args, "--dream-steps", "3", "--engines", "torch", "onnx", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["worldsim"]
    assert sorted((r["num_envs"], r["obs_type"], r["engine"]) for r in rows) == sorted(
        (n, obs, engine) for n, obs in ((1, "pixels"), (2, "pixels"), (2, "latent")) for engine in ("torch", "onnx")
    )


def test_an_onnx_env_pickles_and_its_copy_continues_the_dream(tiny_run):
    import copy
    import pickle

    env = WorldSimEnv(checkpoint=tiny_run("robotics"), obs_type="latent", engine="onnx")
    env.reset(seed=1)
    env.step(env.action_space.sample())
    assert len(pickle.dumps(env)) > 0  # the session is left out of the state
    clone = copy.deepcopy(env)  # rebuilt through the same __getstate__/__setstate__; it opens its own session
    action = env.action_space.sample()
    np.testing.assert_array_equal(env.step(action)[0], clone.step(action)[0])
