"""Stitch remote workers in Python (standard library only).

Declare worker types with ``@worker(...)`` and serve them with ``run(base_url, ...)``: the process
registers the types with the Stitch server, long-polls for tasks, heartbeats while it works (progress
shows live in the canvas), and completes or fails each task through the server's pull protocol.
See docs/remote-workers.md in the Stitch repository.
"""
from .registry import NonRetryableError, worker, registered_workers
from .context import Context, LeaseLost
from .runner import run, Runner

__all__ = ["worker", "run", "Runner", "Context", "NonRetryableError", "LeaseLost", "registered_workers"]
__version__ = "0.1.0"
