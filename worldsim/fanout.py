"""Independent jobs run one after another in this process, or as Ray tasks.

    run_jobs(train_one, [(config, 0), (config, 1)], backend="ray", address="ray://head:10001")

With the Ray backend and no `address`, a local Ray runtime with `cpus` CPUs starts and stops here;
with one, the jobs go to that cluster. Each job is retried up to `retries` times if its task fails
or its worker dies. The job function must be importable by name (a module-level function), and what
it writes to disk must land on storage the driver can read (a local runtime, or a shared filesystem
on a cluster); its return value comes back to the caller. Results come back in the jobs' order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

BACKENDS = ("local", "ray")


def add_backend_arguments(parser, local: str) -> None:
    """`--backend local|ray` and `--address` on a command's parser; `local` says what the local
    backend does (e.g. "run the seeds one after another")."""
    parser.add_argument(
        "--backend",
        default="local",
        choices=list(BACKENDS),
        help=f"{local} (default), or Ray tasks: pip install 'worldsim[ray]'",
    )
    parser.add_argument("--address", help="--backend ray: a running Ray cluster's address (default: start a local runtime)")


def check_backend(backend: str, address: str | None) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if address and backend != "ray":
        raise ValueError("--address names a Ray cluster: it needs --backend ray")


def start_ray(address: str | None, cpus: int | None):
    """The `ray` module, initialised (a local runtime of `cpus` CPUs without an address); and whether
    this call started it (then the caller shuts it down)."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the Ray backend needs Ray: pip install 'worldsim[ray]'") from None
    if ray.is_initialized():
        return ray, False
    options = {"address": address} if address else {"num_cpus": cpus}
    ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return ray, True


def run_jobs(
    function: Callable[..., Any],
    jobs: Sequence[tuple],
    backend: str = "local",
    address: str | None = None,
    cpus: int | None = None,
    cpus_per_job: float = 1,
    retries: int = 2,
) -> list[Any]:
    """`[function(*job) for job in jobs]`, here or on Ray."""
    check_backend(backend, address)
    if backend == "local":
        return [function(*job) for job in jobs]
    ray, started = start_ray(address, cpus)
    try:
        task = ray.remote(num_cpus=cpus_per_job, max_retries=retries, retry_exceptions=True)(function)
        return ray.get([task.remote(*job) for job in jobs])
    finally:
        if started:
            ray.shutdown()
