"""Behaviour policies for data collection, one per domain (see each module for its style mix)."""

from __future__ import annotations

from worldsim.behaviour.base import BehaviourPolicy, RandomPolicy


def default_policy(domain: str) -> BehaviourPolicy:
    if domain == "driving":
        from worldsim.behaviour.driving import DrivingBehaviour

        return DrivingBehaviour()
    if domain == "robotics":
        from worldsim.behaviour.robotics import PushBehaviour

        return PushBehaviour()
    if domain == "games":
        from worldsim.behaviour.games import RacingBehaviour

        return RacingBehaviour()
    return RandomPolicy()


__all__ = ["BehaviourPolicy", "RandomPolicy", "default_policy"]
