"""The ``@worker`` decorator and the process's list of declared worker types."""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

FIELD_TYPES = ("string", "number", "boolean", "array", "object")


class NonRetryableError(Exception):
    """Raise from a worker to fail the node without retrying it (bad input, not a passing fault)."""


@dataclass
class WorkerType:
    type: str
    fn: Callable[..., Any]
    definition: Dict[str, Any] = field(default_factory=dict)


_workers: Dict[str, WorkerType] = {}


def _field(name: str, spec: Any, output: bool) -> Dict[str, Any]:
    """``"string"`` or ``{"type": "string", ...}`` → a Stitch field schema."""
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or spec.get("type") not in FIELD_TYPES:
        raise ValueError(f"field {name!r}: give a type name ({', '.join(FIELD_TYPES)}) or a dict with 'type'")
    result = {"type": spec["type"], "description": spec.get("description", "")}
    if not output:
        for key in ("required", "default", "aliases"):
            if key in spec:
                result[key] = spec[key]
    return result


def worker(
    type: str,
    input: Optional[Dict[str, Any]] = None,
    output: Optional[Dict[str, Any]] = None,
    *,
    name: Optional[str] = None,
    description: str = "",
    config: Optional[Dict[str, Any]] = None,
    category: Optional[str] = None,
    retry: Optional[Dict[str, int]] = None,
    timeout_seconds: Optional[float] = None,
    lease_seconds: Optional[int] = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a worker type served by this process.

    The decorated function is called as ``fn(config, input, ctx)`` and returns the node's output
    (a JSON-serialisable value). Raising fails the attempt (retried under the node's policy);
    raising ``NonRetryableError`` fails it for good.

    Example::

        @worker("upscale", input={"imageUrl": {"type": "string", "required": True}},
                output={"imageUrl": "string"})
        def upscale(config, input, ctx):
            ctx.progress(0.4, "denoising")
            return {"imageUrl": ctx.upload("/tmp/out.png")}
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        definition: Dict[str, Any] = {
            "id": type,
            "name": name or type,
            "type": "async",
            "description": description or (fn.__doc__ or "").strip(),
            "input": {k: _field(k, v, False) for k, v in (input or {}).items()},
            "output": {k: _field(k, v, True) for k, v in (output or {}).items()},
            "config": dict(config or {}),
        }
        if category:
            definition["category"] = category
        if retry:
            definition["retry"] = retry
        if timeout_seconds:
            definition["timeoutSeconds"] = timeout_seconds
        if lease_seconds:
            definition["leaseSeconds"] = lease_seconds
        _workers[type] = WorkerType(type=type, fn=fn, definition=definition)
        return fn

    return register


def registered_workers() -> List[WorkerType]:
    return list(_workers.values())
