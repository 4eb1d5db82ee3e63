"""Recorded episodes: collection, storage and reading."""

from worldsim.data.collect import CollectRequest, collect
from worldsim.data.dataset import Dataset
from worldsim.data.episode import Episode, EpisodeError
from worldsim.data.union import DatasetUnion, open_dataset
from worldsim.data.windows import Windows, WindowSampler

__all__ = [
    "CollectRequest",
    "Dataset",
    "DatasetUnion",
    "Episode",
    "EpisodeError",
    "WindowSampler",
    "Windows",
    "collect",
    "open_dataset",
]
