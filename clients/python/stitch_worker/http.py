"""The HTTP side of the pull protocol: JSON calls to a Stitch server and streamed file uploads."""
import json
import os
import http.client
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional


class HttpError(Exception):
    """The server answered with an error status (``status``, ``code`` and ``message`` from its body)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class Api:
    def __init__(self, base_url: str, api_key: Optional[str] = None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def post(self, path: str, body: Dict[str, Any], timeout: float = 30.0) -> Any:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raise _http_error(error.code, error.read()) from None

    def put_file(self, url: str, path: str, headers: Dict[str, str], timeout: float = 300.0) -> None:
        """PUT a file, streamed from disk in blocks: memory stays flat whatever its size."""
        parts = urllib.parse.urlsplit(url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.netloc, timeout=timeout)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            with open(path, "rb") as body:
                all_headers = dict(headers)
                all_headers["Content-Length"] = str(os.fstat(body.fileno()).st_size)
                connection.request("PUT", target, body=body, headers=all_headers)
            response = connection.getresponse()
            text = response.read()
            if response.status >= 300:
                raise _http_error(response.status, text)
        finally:
            connection.close()


def _http_error(status: int, raw: bytes) -> HttpError:
    try:
        error = json.loads(raw)["error"]
        return HttpError(status, str(error.get("code", "")), str(error.get("message", "")))
    except (ValueError, KeyError, TypeError):
        return HttpError(status, "", raw[:200].decode("utf-8", "replace"))
