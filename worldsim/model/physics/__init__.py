"""Explicit, differentiable physics priors, one per built-in domain.

A prior maps (physical state, action) to the next physical state, in the units of the domain's
state fields, for one environment step. It is written from the simulator's documented equations,
not learned; the world model blends it with its learned dynamics through `physics_blend`. Which
prior serves which domain is written in `worldsim.domains`.
"""
