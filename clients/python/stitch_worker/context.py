"""What a worker function receives as ``ctx``: the task's identity, progress, uploads, cancellation."""
import mimetypes
import os
import re
import threading
from typing import Optional, Tuple

from .http import Api


class LeaseLost(Exception):
    """The server took the task back (lease expired, run cancelled): the result would be refused."""


class Context:
    def __init__(self, api: Api, task: dict):
        self._api = api
        self.task_id: str = task["taskId"]
        self.type: str = task["type"]
        self.run_id: str = task["runId"]
        self.node_id: str = task["nodeId"]
        self.attempt: int = task["attempt"]
        self.lease_seconds: int = task["leaseSeconds"]
        self.config: dict = task.get("config") or {}
        self.input = task.get("input")
        self._token: str = task["token"]
        self._lock = threading.Lock()
        self._progress: Optional[Tuple[Optional[float], Optional[str]]] = None
        self._progress_event: Optional[threading.Event] = None
        #: Set when the server took the task back or the process is shutting down past its grace.
        self.cancelled = threading.Event()
        # Set once the result is being reported: heartbeats stop (a late one would only be refused).
        self._reporting = threading.Event()

    def progress(self, fraction: Optional[float] = None, message: Optional[str] = None) -> None:
        """Report progress (0..1) and/or a message; sent with the next heartbeat, which it hastens."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        with self._lock:
            self._progress = (fraction, message)
        if self._progress_event is not None:
            self._progress_event.set()

    def upload(self, path: str, content_type: Optional[str] = None) -> str:
        """Upload a file to Stitch storage through a presigned URL; returns the URL it is served at."""
        self.check()
        filename = re.sub(r"[^A-Za-z0-9._=-]", "_", os.path.basename(path)).lstrip("._=-")[:128] or "file"
        content_type = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
        grant = self._api.post(
            f"/api/tasks/{self.task_id}/uploads",
            {"token": self._token, "filename": filename, "contentType": content_type},
        )
        self._api.put_file(grant["uploadUrl"], path, grant.get("headers", {}))
        return grant["url"]

    def check(self) -> None:
        """Raise LeaseLost if the task was taken back (call it between steps of long work)."""
        if self.cancelled.is_set():
            raise LeaseLost(f"task {self.task_id} is no longer held by this worker")

    def _take_progress(self) -> Optional[Tuple[Optional[float], Optional[str]]]:
        with self._lock:
            progress, self._progress = self._progress, None
        return progress
