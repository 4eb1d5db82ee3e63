"""One training process per run directory: an exclusive lock held for the whole run.

Two `worldsim train` processes on one `--out` (say a `--resume` started while the first still runs)
would train side by side and overwrite each other's checkpoints. The lock is an `flock` on
`<out>/.lock`, which also records the holder (pid, host, start) so that the refusal can name it.
The kernel drops the lock when its holder dies, however it dies, so a killed run never leaves the
directory locked. (`flock` may not lock on network file systems such as NFS.)
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from worldsim.data.collect import check_directory

LOCK = ".lock"


class RunInUseError(RuntimeError):
    """Another process holds the run directory's lock; the message names it."""


@contextmanager
def run_lock(out: Path) -> Iterator[dict[str, Any]]:
    """Hold `out`'s lock (an exclusive `flock` on `out/.lock`) while the block runs; raises
    `RunInUseError` naming the holder if another process has it. The kernel drops the lock when its
    holder dies, however it dies, so a killed run never leaves the directory locked."""
    try:
        import fcntl
    except ImportError:  # Windows
        raise RuntimeError("training needs fcntl file locks (POSIX) to keep a second process out of its run directory") from None
    check_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInUseError(
                f"{out} is in use by another training process ({_holder(fd)}); wait for it to finish or stop "
                f"it before resuming, or use another --out"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now().astimezone().isoformat("T", "seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)  # no stale holder for the next reader; closing releases the lock
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (ValueError, KeyError, TypeError):  # it has the lock but has not written its name yet
        return "holder not recorded yet"
