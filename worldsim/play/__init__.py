"""`worldsim play`: a world model (or the real simulator, or both) in a pygame window."""

from worldsim.play.session import PlayConfig, PlaySession

__all__ = ["PlayConfig", "PlaySession"]
