"""The model sizes tests train and load: small enough that a test run takes seconds on 2 cores."""

TINY = {"channels": 4, "embed_dim": 32, "deter_dim": 24, "stoch_dim": 6, "hidden_dim": 32}
