"""What a worker function receives as ``ctx``: the task's identity, progress, streamed output, uploads, cancellation."""
import json
import logging
import mimetypes
import os
import re
import threading
import urllib.parse
from typing import List, Optional, Tuple, Union

from .http import Api

log = logging.getLogger("stitch_worker")

#: Longest text part sent, in code points (at most 1,000 UTF-16 units, as the server wants).
MAX_TEXT_PART = 500
#: Largest JSON object chunk, serialised.
MAX_OBJECT_CHUNK_BYTES = 4096
#: Parts per POST, at most (the server's limit).
MAX_PARTS_PER_POST = 100


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
        # Streamed output: chunks waiting to be sent, the next part number, one sender at a time.
        self._stream_pending: List[Union[str, dict]] = []
        self._stream_next = 0
        self._stream_send_lock = threading.Lock()
        self._stream_event: Optional[threading.Event] = None

    def progress(self, fraction: Optional[float] = None, message: Optional[str] = None) -> None:
        """Report progress (0..1) and/or a message; sent with the next heartbeat, which it hastens."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        with self._lock:
            self._progress = (fraction, message)
        if self._progress_event is not None:
            self._progress_event.set()

    def stream(self, chunk: Union[str, dict]) -> None:
        """Stream partial output: text as it is produced (or a small JSON-able dict).

        Whoever follows the run (the canvas, ``stitch run``, ``GET /api/runs/:id/events``) sees it as
        it comes; chunks are coalesced (one POST per ~50 ms) and never stored — the node's output is
        what the worker function returns. Returns at once.
        """
        if isinstance(chunk, dict):
            if len(json.dumps(chunk).encode("utf-8")) > MAX_OBJECT_CHUNK_BYTES:
                raise ValueError(f"a JSON chunk is at most {MAX_OBJECT_CHUNK_BYTES} bytes serialised")
        elif not isinstance(chunk, str):
            raise TypeError(f"a chunk is a str or a dict, not {type(chunk).__name__}")
        with self._lock:
            self._stream_pending.append(chunk)
        if self._stream_event is not None:
            self._stream_event.set()

    def _has_stream(self) -> bool:
        with self._lock:
            return bool(self._stream_pending)

    def _flush_stream(self) -> None:
        """Send the queued chunks as numbered parts (adjacent text merged, long text cut)."""
        with self._stream_send_lock:
            with self._lock:
                pending, self._stream_pending = self._stream_pending, []
            parts = _to_parts(pending)
            if not parts:
                return
            seq, self._stream_next = self._stream_next, self._stream_next + len(parts)
            path = "/api/stitch/stream/{}/{}?token={}".format(
                urllib.parse.quote(self.run_id, safe=""), urllib.parse.quote(self.node_id, safe=""), urllib.parse.quote(self._token, safe=""))
            for i in range(0, len(parts), MAX_PARTS_PER_POST):
                try:
                    self._api.post(path, {"seq": seq + i, "parts": parts[i:i + MAX_PARTS_PER_POST]}, timeout=10.0)
                except Exception as error:  # noqa: BLE001 - streamed output is ephemeral: the result still counts
                    log.warning("task %s: streamed output not sent (%s); it is dropped", self.task_id, error)
                    return

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


def _to_parts(chunks: List[Union[str, dict]]) -> List[Union[str, dict]]:
    merged: List[Union[str, dict]] = []
    for chunk in chunks:
        if isinstance(chunk, str) and merged and isinstance(merged[-1], str):
            merged[-1] += chunk
        elif chunk != "":
            merged.append(chunk)
    parts: List[Union[str, dict]] = []
    for part in merged:
        if isinstance(part, str):
            parts.extend(part[i:i + MAX_TEXT_PART] for i in range(0, len(part), MAX_TEXT_PART))
        else:
            parts.append(part)
    return parts
