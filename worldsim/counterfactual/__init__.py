"""Counterfactual driving: "what if the ego had acted otherwise from step T?" — answered by the real
simulator (a deep copy branched at T) and by the world model (imagined from the factual context)."""

from worldsim.counterfactual.branch import Counterfactual, parse_actions, run_counterfactual

__all__ = ["Counterfactual", "parse_actions", "run_counterfactual"]
