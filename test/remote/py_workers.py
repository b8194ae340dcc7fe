"""Python remote workers the test suite spawns (test/remote/*.test.ts).

Usage: python3 py_workers.py BASE_URL [concurrency]. Prints "ready" once registered, and
"started <taskId> <attempt>" when a task begins (the kill -9 test waits for it).
Environment: STITCH_API_KEY, LEASE_SECONDS (default 30).
"""
import os
import resource
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))

import stitch_worker  # noqa: E402
from stitch_worker import NonRetryableError, worker  # noqa: E402

LEASE = int(os.environ.get("LEASE_SECONDS", "30"))
lock = threading.Lock()


def say(line):
    with lock:
        print(line, flush=True)


@worker("py-echo", input={"text": {"type": "string", "required": True}}, output={"text": "string", "pid": "number"},
        description="Echo the text back, with this process's pid", lease_seconds=LEASE, config={"suffix": ""})
def echo(config, input, ctx):
    say(f"started {ctx.task_id} {ctx.attempt}")
    if input["text"] == "refuse":
        raise NonRetryableError("told to refuse")
    sleep = float(config.get("sleep", 0))
    steps = int(config.get("steps", 0))
    for i in range(steps):
        ctx.progress((i + 1) / steps, f"step {i + 1} of {steps}")
        time.sleep(sleep / steps)
    if not steps and sleep:
        time.sleep(sleep)
    return {"text": input["text"] + config.get("suffix", ""), "pid": os.getpid(), "attempt": ctx.attempt}


@worker("py-stream", input={"text": {"type": "string", "required": True}}, output={"text": "string"},
        description="Stream the text word by word, then return it", lease_seconds=LEASE)
def stream(config, input, ctx):
    words = input["text"].split(" ")
    for i, word in enumerate(words):
        ctx.stream(word if i == 0 else " " + word)
        time.sleep(float(config.get("pause", 0.01)))
    ctx.stream({"words": len(words)})
    return {"text": input["text"]}


@worker("py-bigfile", input={"megabytes": "number"}, output={"url": "string"}, lease_seconds=LEASE)
def bigfile(config, input, ctx):
    """Write a file of `megabytes` MB in 1 MB blocks and upload it; report peak RSS around the upload."""
    size = int(input.get("megabytes", 50))
    block = os.urandom(1024 * 1024)
    with tempfile.NamedTemporaryFile(delete=False, suffix=".bin") as f:
        for _ in range(size):
            f.write(block)
    del block
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        url = ctx.upload(f.name, "application/octet-stream")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        os.unlink(f.name)
    return {"url": url, "bytes": size * 1024 * 1024, "peakRssBeforeKb": before, "peakRssAfterKb": after}


if __name__ == "__main__":
    runner = stitch_worker.Runner(sys.argv[1], api_key=os.environ.get("STITCH_API_KEY"),
                                  concurrency=int(sys.argv[2]) if len(sys.argv) > 2 else 1,
                                  grace_seconds=float(os.environ.get("GRACE_SECONDS", "25")))
    threading.Thread(target=lambda: runner.ready.wait() and say("ready"), daemon=True).start()
    runner.run()
