"""The pulling process: register, long-poll, execute on worker threads, heartbeat, settle.

Threads: one poller (long-polls for as many tasks as there are free slots), ``concurrency``
executors, one heartbeat thread that renews every held lease at a third of its length (sooner
when ``ctx.progress`` has news), and one that sends ``ctx.stream`` output every ~50 ms. SIGTERM/SIGINT stop polling, let running tasks finish for
``grace_seconds``, hand back what is still running (a retryable failure: the node's retry policy
gives it to another worker) and return.
"""
import logging
import os
import queue
import random
import signal
import socket
import threading
import time
import traceback
import urllib.error
from typing import Dict, Iterable, List, Optional

from .context import Context
from .http import Api, HttpError
from .registry import NonRetryableError, WorkerType, registered_workers

log = logging.getLogger("stitch_worker")

MAX_WAIT_SECONDS = 30
#: Streamed output leaves at most this often per runner (a lone chunk after a pause leaves at once).
STREAM_INTERVAL_SECONDS = 0.05


class Backoff:
    """Exponential backoff with jitter for reconnecting: 0.5 s doubling to 30 s."""

    def __init__(self, first: float = 0.5, cap: float = 30.0):
        self.first, self.cap, self.delay = first, cap, first

    def next(self) -> float:
        delay = self.delay * (0.75 + random.random() * 0.5)
        self.delay = min(self.cap, self.delay * 2)
        return delay

    def reset(self) -> None:
        self.delay = self.first


def _show_info_unless_configured() -> None:
    """Say once, visibly, what was registered where: Python shows only warnings until logging is
    configured, so a worker started from a script would otherwise start in silence. An application
    that configured logging (any handler) keeps full control."""
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("stitch_worker: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


def _transient(error: Exception) -> bool:
    """Network trouble or a server-side failure: try again later. A 4xx is our fault: do not."""
    if isinstance(error, HttpError):
        return error.status >= 500 or error.status == 429
    return isinstance(error, (urllib.error.URLError, OSError, TimeoutError, ConnectionError))


class Runner:
    def __init__(
        self,
        base_url: str,
        api_key: Optional[str] = None,
        concurrency: int = 1,
        worker_id: Optional[str] = None,
        workers: Optional[Iterable[WorkerType]] = None,
        grace_seconds: float = 25.0,
        poll_wait_seconds: float = MAX_WAIT_SECONDS,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.api = Api(base_url, api_key)
        self.concurrency = concurrency
        self.worker_id = worker_id or f"py-{socket.gethostname()}-{os.getpid()}-{random.getrandbits(32):08x}"
        self.workers: Dict[str, WorkerType] = {w.type: w for w in (workers if workers is not None else registered_workers())}
        if not self.workers:
            raise ValueError("no worker types: declare some with @worker(...) before run()")
        self.grace_seconds = grace_seconds
        self.poll_wait_seconds = min(MAX_WAIT_SECONDS, poll_wait_seconds)
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(concurrency)
        self._tasks: "queue.Queue[Optional[Context]]" = queue.Queue()
        self._active: Dict[str, Context] = {}
        self._active_lock = threading.Lock()
        self._beat_now = threading.Event()
        self._stream_now = threading.Event()
        self._idle = threading.Condition(self._active_lock)
        #: Set once the types are registered and the worker is polling.
        self.ready = threading.Event()

    # ── lifecycle ────────────────────────────────────────────────────────────────────────────

    def run(self, handle_signals: bool = True) -> None:
        """Serve until stop() (or SIGTERM/SIGINT when handle_signals); returns after handing back."""
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
        self._register_until_done()
        threads: List[threading.Thread] = [threading.Thread(target=self._poll_loop, name="stitch-poll", daemon=True)]
        threads.append(threading.Thread(target=self._heartbeat_loop, name="stitch-heartbeat", daemon=True))
        threads.append(threading.Thread(target=self._stream_loop, name="stitch-stream", daemon=True))
        threads += [threading.Thread(target=self._execute_loop, name=f"stitch-exec-{i}", daemon=True) for i in range(self.concurrency)]
        for t in threads:
            t.start()
        self.ready.set()
        _show_info_unless_configured()
        log.info(
            "registered %s at %s as %s; polling for tasks (concurrency %d)",
            ", ".join(self.workers), self.api.base_url, self.worker_id, self.concurrency,
        )
        while not self._stopping.wait(0.5):
            pass
        self._drain()

    def stop(self) -> None:
        """Stop taking tasks; run() finishes or hands back the current ones and returns."""
        self._stopping.set()

    def _drain(self) -> None:
        deadline = time.monotonic() + self.grace_seconds
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            leftovers = list(self._active.values())
        for ctx in leftovers:
            ctx.cancelled.set()
            self._settle(ctx, "fail", {"error": "The remote worker shut down before finishing; handed back", "retryable": True})
        for _ in range(self.concurrency):
            self._tasks.put(None)
        log.info("worker %s stopped (%d task(s) handed back)", self.worker_id, len(leftovers))

    # ── registration and polling ─────────────────────────────────────────────────────────────

    def _register(self) -> None:
        self.api.post("/api/remote-workers/register", {
            "workerId": self.worker_id,
            "workers": [w.definition for w in self.workers.values()],
        })

    def _register_until_done(self) -> None:
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                self._register()
                return
            except Exception as error:  # noqa: BLE001 - classified just below
                if not _transient(error):
                    raise
                delay = backoff.next()
                log.warning("cannot reach %s (%s); retrying in %.1fs", self.api.base_url, error, delay)
                self._stopping.wait(delay)

    def _poll_loop(self) -> None:
        backoff = Backoff()
        reconnecting = False
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            free = 1
            while free < self.concurrency and self._slots.acquire(blocking=False):
                free += 1
            try:
                if reconnecting:
                    self._register()  # the server may have restarted with a fresh database
                answer = self.api.post(
                    "/api/tasks/poll",
                    {"types": list(self.workers), "workerId": self.worker_id, "max": free, "waitSeconds": self.poll_wait_seconds},
                    timeout=self.poll_wait_seconds + 15,
                )
                tasks = answer.get("tasks", [])
                backoff.reset()
                reconnecting = False
            except Exception as error:  # noqa: BLE001 - every failure backs off; 4xx are logged as such
                tasks = []
                reconnecting = True
                delay = backoff.next()
                log.warning("poll failed (%s); retrying in %.1fs", error, delay)
                self._stopping.wait(delay)
            for _ in range(free - len(tasks)):
                self._slots.release()
            for task in tasks:
                ctx = Context(self.api, task)
                ctx._progress_event = self._beat_now
                ctx._stream_event = self._stream_now
                with self._active_lock:
                    self._active[ctx.task_id] = ctx
                if self._stopping.is_set():
                    # Claimed while shutting down: hand it straight back.
                    self._finish(ctx, "fail", {"error": "The remote worker was shutting down; handed back", "retryable": True})
                    continue
                self._tasks.put(ctx)

    # ── execution ────────────────────────────────────────────────────────────────────────────

    def _execute_loop(self) -> None:
        while True:
            ctx = self._tasks.get()
            if ctx is None:
                return
            worker = self.workers[ctx.type]
            try:
                output = worker.fn(ctx.config, ctx.input, ctx)
                outcome = ("complete", {"output": output})
            except NonRetryableError as error:
                outcome = ("fail", {"error": str(error) or type(error).__name__, "retryable": False})
            except Exception as error:  # noqa: BLE001 - any failure of the worker fails the attempt
                log.warning("task %s (%s) failed: %s", ctx.task_id, ctx.type, traceback.format_exc(limit=5))
                outcome = ("fail", {"error": f"{type(error).__name__}: {error}", "retryable": True})
            if ctx.cancelled.is_set():
                log.info("task %s was taken back; its result is dropped", ctx.task_id)
                self._forget(ctx)
            else:
                self._finish(ctx, *outcome)

    def _finish(self, ctx: Context, action: str, body: dict) -> None:
        ctx._reporting.set()
        try:
            ctx._flush_stream()  # what was streamed arrives before the result
            self._settle(ctx, action, body)
        finally:
            self._forget(ctx)

    def _forget(self, ctx: Context) -> None:
        with self._idle:
            if self._active.pop(ctx.task_id, None) is not None:
                self._slots.release()
            self._idle.notify_all()

    def _settle(self, ctx: Context, action: str, body: dict) -> None:
        """complete/fail, retried on network trouble (an identical repeat is answered as a duplicate)."""
        backoff = Backoff(cap=5.0)
        for _ in range(8):
            try:
                self.api.post(f"/api/tasks/{ctx.task_id}/{action}", {"token": ctx._token, **body})
                return
            except Exception as error:  # noqa: BLE001 - classified just below
                if not _transient(error):
                    log.warning("task %s: %s refused: %s", ctx.task_id, action, error)
                    return
                time.sleep(backoff.next())
        log.error("task %s: could not report %s; its lease will expire and it will run again", ctx.task_id, action)

    # ── streamed output ──────────────────────────────────────────────────────────────────────

    def _stream_loop(self) -> None:
        last = 0.0
        while True:
            self._stream_now.wait(0.5)
            self._stream_now.clear()
            time.sleep(max(0.0, last + STREAM_INTERVAL_SECONDS - time.monotonic()))
            last = time.monotonic()
            with self._active_lock:
                held = list(self._active.values())
            for ctx in held:
                if ctx._has_stream() and not ctx._reporting.is_set():
                    ctx._flush_stream()

    # ── heartbeats ───────────────────────────────────────────────────────────────────────────

    def _heartbeat_loop(self) -> None:
        last: Dict[str, float] = {}
        while True:
            self._beat_now.wait(0.25)
            self._beat_now.clear()
            with self._active_lock:
                held = list(self._active.values())
            now = time.monotonic()
            for ctx in held:
                if ctx._reporting.is_set():
                    continue
                progress = ctx._take_progress()
                due = now - last.setdefault(ctx.task_id, now) >= max(0.5, ctx.lease_seconds / 3)
                if progress is None and not due:
                    continue
                body = {"token": ctx._token}
                if progress is not None:
                    fraction, message = progress
                    if fraction is not None:
                        body["progress"] = fraction
                    if message is not None:
                        body["message"] = message[:500]
                try:
                    self.api.post(f"/api/tasks/{ctx.task_id}/heartbeat", body, timeout=max(2.0, ctx.lease_seconds / 3))
                    last[ctx.task_id] = now
                except HttpError as error:
                    if error.status in (401, 404, 409) and not ctx._reporting.is_set():
                        log.warning("task %s was taken back: %s", ctx.task_id, error.message)
                        ctx.cancelled.set()
                except Exception as error:  # noqa: BLE001 - network trouble: the next beat tries again
                    log.warning("heartbeat for task %s failed: %s", ctx.task_id, error)
            for task_id in [t for t in last if t not in {c.task_id for c in held}]:
                del last[task_id]


def run(
    base_url: str,
    api_key: Optional[str] = None,
    concurrency: int = 1,
    worker_id: Optional[str] = None,
    grace_seconds: float = 25.0,
    poll_wait_seconds: float = MAX_WAIT_SECONDS,
    handle_signals: bool = True,
) -> None:
    """Serve every ``@worker`` type of this process against the Stitch server at ``base_url``."""
    Runner(
        base_url,
        api_key=api_key,
        concurrency=concurrency,
        worker_id=worker_id,
        grace_seconds=grace_seconds,
        poll_wait_seconds=poll_wait_seconds,
    ).run(handle_signals=handle_signals)
