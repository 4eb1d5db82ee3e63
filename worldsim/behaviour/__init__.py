"""Behaviour policies for data collection, one per domain (see each module for its style mix)."""

from __future__ import annotations

from worldsim import domains
from worldsim.behaviour.base import BehaviourPolicy, RandomPolicy


def default_policy(domain: str) -> BehaviourPolicy:
    """The domain's data-collection policy (`worldsim.domains`); uniform random for any other env."""
    return domains.of_model(domain).load("behaviour")()


__all__ = ["BehaviourPolicy", "RandomPolicy", "default_policy"]
