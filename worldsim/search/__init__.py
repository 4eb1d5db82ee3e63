"""Test-time search over the dream: spend more samples on a start, keep what a verifier rates best
(`best_of_n`), and say what another sample buys (`scaling`). Above the model, beside the envs: the
envs expose it as a `reset` option that delegates here, and nothing here builds an env."""
