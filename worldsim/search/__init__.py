"""Test-time search over the dream: spend more samples on a start, keep what a verifier rates best
(`best_of_n`: fresh draws; `reflect`: each new candidate made from the critique of the best so far;
`run.search_scenes` picks one), and say what another sample buys (`scaling`). Above the model, beside the envs: the
envs expose it as a `reset` option that delegates here, and nothing here builds an env.

The names below are what the command lines offer; they import nothing, so a parser can read them."""

METHODS = ("best_of_n", "reflect")
VERIFIERS = ("state", "frame")
MAX_SAMPLES = 1024  # one batch of candidates; more is a typo, not a budget
