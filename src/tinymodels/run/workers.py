"""Long-lived worker processes that build model types, isolated from the parent and each other.

Each worker is a `spawn`ed process that imports torch/transformers once, loads the
corpus once and then builds many model types in turn (so the per-process tokenizer
cache in `tokenization._trained_dir` is shared by the types it builds). The parent
never runs model code: it hands one model type at a time to an idle worker and waits
on the workers' pipes and process sentinels together, so a worker that segfaults,
is OOM-killed or exceeds the per-type timeout is noticed at once, killed, reported as
that type's failure, and replaced by a fresh worker for the remaining types.

Protocol (parent <-> worker, over one `multiprocessing.Pipe`):
  worker -> ("ready", rss)                    after imports
  parent -> (model_type, out_dir)             build one type into out_dir
  worker -> ("done", model_type, config_class_name, entry, rss)
  worker -> ("error", model_type, message, traceback, rss)   build_model_type raised
  parent -> None                              exit
`rss` is (VmRSS, VmHWM, retiring) — bytes from /proc/self/status (0 where unavailable) and
whether the worker exits after this message (memory above TINYMODELS_WORKER_MAX_RSS_MB),
so the parent never hands a retiring worker another type.

Worker stdout/stderr go to a log file per worker (the console belongs to the progress
display); when a worker crashes or times out, the parent prints the tail of that
log — with `faulthandler` on, it holds the Python stack of the crash or hang. Set
TINYMODELS_DEBUG=1 to let workers write to the console instead.

The worker side (`worker_main`, memory readings, the TINYMODELS_FAULT_INJECT testing
hook) is `tinymodels.run.worker_process`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import connection
from pathlib import Path
from typing import Any, Final

from tinymodels import environment
from tinymodels.errors import TinyModelsError
from tinymodels.options import BuildOptions
from tinymodels.run.worker_process import worker_main

# Starting a worker (torch + transformers import) is not bounded by the per-type timeout.
STARTUP_TIMEOUT: Final[float] = 300.0
MAX_STARTUP_FAILURES: Final[int] = 3
LOG_TAIL_LINES: Final[int] = 25


@dataclass
class Result:
    """The outcome of one model type, as seen by the parent."""

    model_type: str
    config_class: str | None = None
    entry: dict[str, Any] | None = None
    # Set when the worker failed rather than the build: ("crash"|"timeout"|"error", message).
    failure: tuple[str, str] | None = None
    traceback: str | None = None
    log_tail: str = ""
    worker: int = 0


@dataclass
class WorkerStats:
    """What one worker process did (for the run statistics, never for reports)."""

    worker: int
    pid: int | None = None
    types: int = 0
    peak_rss: int = 0
    end: str = "running"


@dataclass
class _Worker:
    number: int
    process: Any
    conn: connection.Connection
    log_path: Path
    stats: WorkerStats
    ready: bool = False
    retiring: bool = False
    task: str | None = None
    since: float = field(default_factory=time.monotonic)
    log_offset: int = 0


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class WorkerPool:
    """Up to `size` long-lived worker processes fed one model type at a time.

    Use as a context manager; `results(tasks)` yields one `Result` per task, in
    completion order. Every worker is killed on exit, including on Ctrl-C.
    """

    def __init__(self, options: BuildOptions, size: int, log_dir: Path) -> None:
        import multiprocessing

        self.options = options
        self.size = max(1, size)
        self.log_dir = log_dir
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.stats: list[WorkerStats] = []
        self._started = 0
        self._startup_failures = 0
        self._debug = environment.debug()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lifecycle

    def start(self, count: int) -> None:
        """Spawn up to `count` workers now, before any task is known (they import while we plan)."""
        for _ in range(min(count, self.size) - len(self.workers)):
            self._spawn()

    def _spawn(self) -> _Worker:
        self._started += 1
        number = self._started
        log_path = self.log_dir / f"worker-{number}.log"
        log_path.touch()
        parent_conn, child_conn = self.ctx.Pipe(duplex=True)
        process = self.ctx.Process(
            target=worker_main,
            args=(child_conn, self.options, None if self._debug else str(log_path), os.getpid()),
            name=f"tinymodels-worker-{number}",
            daemon=True,
        )
        process.start()
        child_conn.close()
        stats = WorkerStats(worker=number, pid=process.pid)
        self.stats.append(stats)
        worker = _Worker(number=number, process=process, conn=parent_conn, log_path=log_path, stats=stats)
        self.workers.append(worker)
        return worker

    def _kill(self, worker: _Worker, end: str, dump_stack: bool = False) -> None:
        if dump_stack and worker.process.is_alive() and hasattr(signal, "SIGUSR1"):
            # faulthandler in the worker writes every thread's stack to its log.
            with contextlib.suppress(OSError):
                os.kill(worker.process.pid, signal.SIGUSR1)
                time.sleep(0.3)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(10)
        worker.conn.close()
        worker.stats.end = end
        if worker in self.workers:
            self.workers.remove(worker)

    def close(self) -> None:
        """Ask idle workers to exit, kill busy ones (Ctrl-C, errors) at once."""
        idle = []
        for worker in list(self.workers):
            if worker.task is None and worker.ready:
                with contextlib.suppress(OSError, ValueError):
                    worker.conn.send(None)
                    idle.append(worker)
                    continue
            self._kill(worker, "interrupted" if worker.task else "stopped")
        deadline = time.monotonic() + 5
        for worker in idle:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            self._kill(worker, "exit" if worker.process.exitcode == 0 else "killed")
        _stop_resource_tracker()

    def _log_tail(self, worker: _Worker) -> str:
        try:
            with open(worker.log_path, "rb") as fh:
                fh.seek(worker.log_offset)
                data = fh.read()
        except OSError:
            return ""
        lines = data.decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])

    # -- the event loop

    def results(self, tasks: list[tuple[str, Path]], tick: Callable[[], None] | None = None,
                tick_seconds: float = 1.0) -> Iterator[Result]:
        """Build every (model_type, out_dir) task; yield a `Result` as each finishes."""
        pending = collections.deque(tasks)
        timeout = self.options.timeout
        while pending or any(w.task for w in self.workers):
            # Keep up to `size` workers while there is work for them.
            busy_or_starting = sum(1 for w in self.workers if not w.retiring)
            while busy_or_starting < self.size and len(pending) > sum(1 for w in self.workers
                                                                          if w.task is None and not w.retiring):
                self._spawn()
                busy_or_starting += 1
            for worker in self.workers:
                if worker.ready and not worker.retiring and worker.task is None and pending:
                    model_type, out_dir = pending[0]
                    with open(worker.log_path, "rb") as fh:
                        worker.log_offset = fh.seek(0, os.SEEK_END)
                    try:
                        worker.conn.send((model_type, str(out_dir)))
                    except OSError:
                        continue  # it just died: noticed below, the type stays pending
                    pending.popleft()
                    worker.task = model_type
                    worker.since = time.monotonic()
            now = time.monotonic()
            deadlines = [w.since + (timeout if w.ready else max(STARTUP_TIMEOUT, timeout))
                         for w in self.workers if w.task is not None or not w.ready]
            wait_for = max(0.0, min([tick_seconds, *[d - now for d in deadlines]]))
            handles: list[Any] = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
            ready = connection.wait(handles, timeout=wait_for) if handles else []
            for worker in list(self.workers):
                # Messages first: a worker may send its result and then exit (retiring).
                alive = True
                while worker in self.workers and alive:
                    try:
                        if not worker.conn.poll():
                            break
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        alive = False
                        break
                    result = self._on_message(worker, message)
                    if result is not None:
                        yield result
                if worker not in self.workers:
                    continue
                if not alive or worker.process.sentinel in ready or not worker.process.is_alive():
                    worker.process.join(5)
                    yield from self._on_death(worker)
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.ready and worker.task is None:
                    continue  # idle: nothing to time
                limit = timeout if worker.ready else max(STARTUP_TIMEOUT, timeout)
                if now - worker.since <= limit:
                    continue
                if worker.task is None:
                    self._kill(worker, "startup-timeout")
                    self._startup_failed(worker, f"did not start within {limit:g} s")
                    continue
                model_type = worker.task
                self._kill(worker, "timeout", dump_stack=True)
                yield Result(model_type=model_type, worker=worker.number,
                             failure=("timeout", f"timed out after {timeout:g} s (worker stopped)"),
                             log_tail=self._log_tail(worker))
            if tick is not None:
                tick()

    def _on_message(self, worker: _Worker, message: tuple[Any, ...]) -> Result | None:
        kind = message[0]
        rss = message[-1]
        worker.stats.peak_rss = max(worker.stats.peak_rss, int(rss[1]))
        worker.retiring = bool(rss[2])
        if kind == "ready":
            worker.ready = True
            worker.since = time.monotonic()
            self._startup_failures = 0
            return None
        model_type = message[1]
        worker.task = None
        worker.stats.types += 1
        if kind == "done":
            return Result(model_type=model_type, config_class=message[2], entry=message[3], worker=worker.number)
        return Result(model_type=model_type, failure=("error", f"internal error: {message[2]}"),
                      traceback=message[3], worker=worker.number)

    def _on_death(self, worker: _Worker) -> Iterator[Result]:
        model_type = worker.task
        how = _signal_name(worker.process.exitcode)
        if model_type is None and not worker.ready:
            self._kill(worker, "startup-crash")
            self._startup_failed(worker, f"died while starting ({how})")
            return
        clean = worker.process.exitcode == 0
        self._kill(worker, "retired" if worker.retiring else "exit" if clean else "crash")
        if model_type is not None:
            worker.stats.end = "crash"
            yield Result(model_type=model_type, worker=worker.number,
                         failure=("crash", f"worker process died while building {model_type} ({how})"),
                         log_tail=self._log_tail(worker))

    def _startup_failed(self, worker: _Worker, why: str) -> None:
        self._startup_failures += 1
        if self._startup_failures >= MAX_STARTUP_FAILURES:
            tail = self._log_tail(worker)
            raise TinyModelsError(f"build workers cannot start: worker {worker.number} {why}"
                                  + (f"; its last output:\n{tail}" if tail else ""))


def _stop_resource_tracker() -> None:
    """Stop and reap the helper process every `spawn` start launches (multiprocessing's resource
    tracker): left to exit with us, it outlives the build as an orphan zombie under a subreaper
    (CI runners, containers). `_stop` is private but stable (3.8+); it restarts on the next spawn."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        with contextlib.suppress(OSError, ChildProcessError):
            stop()
