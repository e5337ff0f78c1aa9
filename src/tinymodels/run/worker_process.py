"""The worker process: imports torch/transformers once, then builds model types on request.

A worker is started by `tinymodels.run.workers.WorkerPool` (the parent side, which also
documents the pipe protocol) under the `spawn` start method, so this module is what the
child imports first: it stays light until `worker_main` has redirected the output and
set the thread defaults, and only then imports the builder.

Worker stdout/stderr go to a log file per worker (the console belongs to the progress
display); with `faulthandler` on, that log holds the Python stack of a crash or hang.
Each message to the parent ends with (VmRSS, VmHWM, retiring): a worker above
TINYMODELS_WORKER_MAX_RSS_MB after a type says so and exits.

Testing hook: TINYMODELS_FAULT_INJECT="bert=crash,gpt2=hang,vit=exit" makes a worker
misbehave when it is given that model type: `crash` raises SIGSEGV in the worker,
`exit` calls `os._exit(139)`, `hang` sleeps forever. Only worker processes read it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from multiprocessing import connection
from pathlib import Path
from typing import Any, Final

from tinymodels import environment
from tinymodels.options import BuildOptions

FAULT_ENV: Final[str] = "TINYMODELS_FAULT_INJECT"
# A worker whose resident memory exceeds this after a type is retired and replaced
# (module imports and caches accumulate over hundreds of types).
MAX_RSS_ENV: Final[str] = "TINYMODELS_WORKER_MAX_RSS_MB"
DEFAULT_MAX_RSS_MB: Final[int] = 6144


def parse_faults(text: str | None) -> dict[str, str]:
    """'bert=crash,gpt2=hang' -> {'bert': 'crash', 'gpt2': 'hang'}."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def memory_usage() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in bytes, from /proc (Linux); zeros elsewhere."""
    rss = hwm = 0
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    if not hwm:
        import resource

        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return rss, hwm


def _die_with_parent(parent_pid: int) -> None:
    """Linux: get SIGKILLed when the parent dies (even by SIGKILL), so no orphan keeps building."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):  # best effort: without prctl the parent's own cleanup still applies
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _redirect_output(log_path: str | None) -> None:
    if not log_path:
        return
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _inject_fault(kind: str | None) -> None:
    if kind == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(10)  # the signal is delivered asynchronously
    elif kind == "exit":
        os._exit(139)
    elif kind == "hang":
        while True:
            time.sleep(3600)


def _quick_exit() -> None:
    """Exit now: interpreter teardown with torch loaded takes seconds and there is nothing to save."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def worker_main(conn: connection.Connection, options: BuildOptions, log_path: str | None, parent_pid: int) -> None:
    """Entry point of a worker process (runs under the `spawn` start method)."""
    import faulthandler

    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the parent decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_path)
    faulthandler.enable(file=sys.stderr, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    environment.set_default("TOKENIZERS_PARALLELISM", "false")

    environment.set_default("OMP_NUM_THREADS", "1")  # before torch is imported (see builder.one_thread)
    from tinymodels.build.builder import build_model_type, one_thread, quiet_libraries
    from tinymodels.preprocess.corpus import load_corpus

    quiet_libraries()
    one_thread()
    with contextlib.suppress(Exception):  # a bad corpus is reported per type by the builder
        load_corpus(options.corpus)
    faults = parse_faults(environment.fault_inject())
    max_rss = environment.worker_max_rss_mb(DEFAULT_MAX_RSS_MB) * 1024 * 1024
    conn.send(("ready", (*memory_usage(), False)))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            _quick_exit()
        if task is None:
            _quick_exit()
        model_type, out_dir = task
        print(f"--- {model_type}", file=sys.stderr, flush=True)
        _inject_fault(faults.get(model_type))
        try:
            config_name, entry = build_model_type(model_type, options, Path(out_dir))
            message: tuple[Any, ...] = ("done", model_type, config_name, entry)
        except Exception as exc:  # noqa: BLE001 - reported to the parent as this type's failure
            message = ("error", model_type, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        rss, hwm = memory_usage()
        retiring = rss > max_rss
        conn.send((*message, (rss, hwm, retiring)))
        if retiring:
            print(f"--- retiring: resident memory above {max_rss >> 20} MB", file=sys.stderr, flush=True)
            _quick_exit()
