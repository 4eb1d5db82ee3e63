"""Parallel, resumable collection of episodes from a source into a dataset directory.

Layout of a dataset directory:
  dataset.json               what was asked for and what the source records (written first)
  episodes/episode_NNNNNN.npz one file per finished episode, renamed into place when complete
  .scratch/                  temporary files of episodes being written (never read)

Episode `i` is fully determined by (request, i), so a killed collection is completed by running the
same command again: finished episodes are kept, unfinished ones are recorded from scratch.

Backends: "local" records in this machine's worker processes; "ray" runs each episode as a Ray task
(a local Ray runtime, started and stopped here, or a cluster's `address`). Ray tasks return their
episode to this process, which writes it, so nodes need no shared filesystem, a task killed
mid-episode leaves nothing behind (Ray retries it), and the files are byte for byte those of the
local backend.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from worldsim.data.episode import Episode
from worldsim.data.record import record_episode
from worldsim.fanout import check_backend, start_ray

FORMAT = "worldsim-dataset"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CollectRequest:
    domain: str
    out: str
    episodes: int
    max_steps: int
    seed: int = 0
    scenario: str | None = None
    frame_size: int = 64
    source_options: dict[str, Any] = field(default_factory=dict)
    # the behaviour policy's style weights instead of its default mix ({}: the default)
    styles: dict[str, float] = field(default_factory=dict)

    # These may differ between runs into the same directory; everything else must match.
    RESUMABLE = ("out", "episodes")

    def identity(self) -> dict[str, Any]:
        # no "styles" key for the default mix: datasets recorded before the option resume as they are
        return {k: v for k, v in asdict(self).items() if k not in self.RESUMABLE and (k != "styles" or v)}


def episode_path(out: Path, index: int) -> Path:
    return out / "episodes" / f"episode_{index:06d}.npz"


RAY_RETRIES = 3  # attempts after the first for an episode whose task failed or whose worker died


def collect(
    request: CollectRequest, workers: int = 1, progress: bool = True, backend: str = "local", address: str | None = None
) -> dict[str, Any]:
    """Record every missing episode of `request`; returns counts of what was done. `workers`: local
    processes, or with the Ray backend the CPUs of the local runtime (ignored with an `address`)."""
    if request.episodes < 1 or request.max_steps < 1:
        raise ValueError("episodes and max_steps must be >= 1")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    check_backend(backend, address)
    out = Path(request.out)
    _prepare(out, request)
    todo = [i for i in range(request.episodes) if not episode_path(out, i).exists()]
    done = request.episodes - len(todo)
    bar = tqdm(total=request.episodes, initial=done, unit="ep", desc=f"collect {request.domain}", disable=not progress)
    transitions, start = 0, time.perf_counter()
    run = _run_ray(request, todo, workers, address) if backend == "ray" and todo else _run(request, todo, workers)
    try:
        for n in run:
            transitions += n
            bar.update(1)
            bar.set_postfix(transitions=transitions)
    finally:
        bar.close()
    shutil.rmtree(out / ".scratch", ignore_errors=True)
    seconds = time.perf_counter() - start
    return {
        "recorded": len(todo),
        "kept": done,
        "transitions_recorded": transitions,
        "seconds": seconds,
        "transitions_per_s": transitions / seconds if todo else 0.0,
    }


def _prepare(out: Path, request: CollectRequest) -> None:
    """Create the directory and its dataset.json, or check that a resumed run asks for the same data."""
    check_directory(out)
    meta_path = out / "dataset.json"
    if meta_path.exists():
        try:
            existing = json.loads(meta_path.read_text())["request"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"{meta_path}: not a WorldSim dataset description ({exc})") from None
        wanted = request.identity()
        for key in [*wanted, *(k for k in existing if k not in wanted)]:  # a key only one side has differs too
            value = wanted.get(key)
            if existing.get(key) != value:
                raise ValueError(
                    f"{out} was collected with {key}={existing.get(key)!r}, not {value!r}; "
                    f"use another --out, or the same options to resume it"
                )
        # Leftovers of a killed run: never visible as episodes, safe to drop.
        shutil.rmtree(out / ".scratch", ignore_errors=True)
        return
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists, is not empty and holds no dataset.json; refusing to write into it")
    (out / "episodes").mkdir(parents=True, exist_ok=True)
    source = _make_source(request)
    try:
        description = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "request": request.identity(),
            "source": source.describe(),
        }
    finally:
        source.close()
    tmp = out / "dataset.json.tmp"
    tmp.write_text(json.dumps(description, indent=2) + "\n")
    os.replace(tmp, meta_path)


def check_directory(path: Path) -> None:
    """`path` is a directory or can become one: a file in its place would otherwise surface as a
    NotADirectoryError from deep inside the first write."""
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                where = "" if place == path else f" (in {path})"
                raise ValueError(f"{place} exists and is not a directory{where}; give a directory for --out")
            return


def _run(request: CollectRequest, todo: list[int], workers: int):
    """Yield the transition count of each finished episode, in completion order."""
    if workers == 1 or len(todo) <= 1:
        for index in todo:
            yield _record(request, index)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(_record, request, i) for i in todo[: 2 * workers]}
        queue = iter(todo[2 * workers :])
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_record, request, nxt))


def _run_ray(request: CollectRequest, todo: list[int], workers: int, address: str | None):
    """`_run` on Ray: episodes as tasks, written here as they arrive (in completion order)."""
    ray, started = start_ray(address, workers)
    try:
        task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=True)(_episode)
        out = Path(request.out)
        width = 2 * max(workers, int(ray.available_resources().get("CPU", workers)))
        pending = {task.remote(request, i): i for i in todo[:width]}
        queue = iter(todo[width:])
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(finished[0])
            episode: Episode = ray.get(finished[0])
            episode.save(episode_path(out, index), out / ".scratch")
            yield len(episode)
            nxt = next(queue, None)
            if nxt is not None:
                pending[task.remote(request, nxt)] = nxt
    finally:
        if started:
            ray.shutdown()


_WORKER_SOURCE: dict[str, Any] = {}


def _make_source(request: CollectRequest):
    from worldsim.sources import make_source

    return make_source(request.domain, request.frame_size, scenario=request.scenario, **request.source_options)


def _episode(request: CollectRequest, index: int) -> Episode:
    """Episode `index` of `request`, recorded in this process."""
    _fault_injection(index)
    key = json.dumps(request.identity(), sort_keys=True)
    if key not in _WORKER_SOURCE:  # one simulator per worker process, reused across episodes
        _WORKER_SOURCE.clear()
        _WORKER_SOURCE[key] = (_make_source(request), styled_policy(request.domain, request.styles))
    source, policy = _WORKER_SOURCE[key]
    return record_episode(source, policy, request.seed, index, request.max_steps)


def styled_policy(domain: str, styles: dict[str, float]):
    """The domain's behaviour policy, with `styles` as its style weights where given."""
    from worldsim.behaviour import default_policy

    policy = default_policy(domain)
    if styles:
        known = getattr(policy, "known_styles", tuple(getattr(policy, "styles", ())))
        if not known:
            raise ValueError(f"the {domain!r} domain's behaviour has no styles to weigh")
        unknown = sorted(set(styles) - set(known))
        if unknown:
            raise ValueError(f"--styles: {unknown} are not {domain} behaviour styles (known: {', '.join(known)})")
        bad = {k: v for k, v in styles.items() if not isinstance(v, (int, float)) or v < 0}
        if bad or not sum(styles.values()) > 0:
            raise ValueError(f"--styles: weights must be numbers >= 0, not all zero, got {styles}")
        policy.styles = dict(styles)
    return policy


def _record(request: CollectRequest, index: int) -> int:
    episode = _episode(request, index)
    out = Path(request.out)
    episode.save(episode_path(out, index), out / ".scratch")
    return len(episode)


# For the failure tests: with WORLDSIM_KILL_ONCE=DIR the worker recording an episode exits
# abruptly, once per episode index (DIR/killed_<index> marks it), as a node lost mid-task would.
KILL_ONCE = "WORLDSIM_KILL_ONCE"


def _fault_injection(index: int) -> None:
    marks = os.environ.get(KILL_ONCE)
    if marks:
        mark = Path(marks) / f"killed_{index}"
        if not mark.exists():
            mark.touch()
            os._exit(1)
