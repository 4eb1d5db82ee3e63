"""The model sizes tests train and load: small enough that a test run takes seconds on 2 cores."""

TINY = {"channels": 4, "embed_dim": 32, "deter_dim": 24, "stoch_dim": 6, "hidden_dim": 32}

# A text model small enough to train in a second beside a tiny world model.
TINY_TEXT = dict(
    steps=20,
    generator_steps=20,
    reader_steps=20,
    batch_size=16,
    every=1,
    context=3,
    val_fraction=0.3,
    pool=5,
    corpus=300,
    vocab_size=150,
)


def tiny_train_config(data, out, steps: int = 2, model: dict | None = None, checkpoint_every: int = 2):
    """The TrainConfig of a tiny run on `data`'s few short episodes (`model`: TINY by default)."""
    from worldsim.model.train import TrainConfig

    return TrainConfig(
        data=str(data),
        out=str(out),
        steps=steps,
        batch_size=2,
        context=3,
        horizon=2,
        checkpoint_every=checkpoint_every,
        video_every=100,
        val_batches=1,
        val_fraction=0.3,
        model=TINY if model is None else model,
    )


def prompted_run(root, domain: str, model: dict | None = None, name: str = "run"):
    """root/data (4 short episodes of `domain`, collected once) and root/<name>: a tiny world model
    (by default one that draws from its latent alone, as prompts need) with a tiny text model beside
    it. Returns the run directory."""
    from worldsim.data import CollectRequest, Dataset, collect
    from worldsim.model.checkpoint import load_model
    from worldsim.model.text import save_shared_space
    from worldsim.model.text_training import TextTrainConfig, train_shared_space
    from worldsim.model.train import train

    if not (root / "data").exists():
        collect(CollectRequest(domain=domain, out=str(root / "data"), episodes=4, max_steps=10, seed=3), progress=False)
    model = {**TINY, "draws_on_previous": False, "decoder": "broadcast"} if model is None else model
    train(tiny_train_config(root / "data", root / name, model=model), progress=False)
    world = load_model(root / name)[0]
    space, report = train_shared_space(world, Dataset(root / "data"), TextTrainConfig(**TINY_TEXT), progress=False)
    save_shared_space(space, root / name, report, world_model=world)
    return root / name
