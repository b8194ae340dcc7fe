"""An example remote worker: "caption" describes an image, reporting progress and uploading a file.

    pip install ./clients/python
    STITCH_URL=http://localhost:3000 python3 clients/python/examples/caption.py

Then use worker type "caption" in a flow (it appears in the canvas palette under "Remote").
A real captioner would load a model here; this one writes a small text file so the upload path
is exercised without any dependency.
"""
import os
import tempfile
import time

import stitch_worker
from stitch_worker import NonRetryableError, worker


@worker(
    "caption",
    input={"imageUrl": {"type": "string", "required": True, "description": "The image to describe"}},
    output={"caption": "string", "transcriptUrl": "string"},
    description="Describe an image in one sentence (example remote worker in Python).",
    config={"style": "plain"},
    category="Remote",
)
def caption(config, input, ctx):
    url = input["imageUrl"]
    if not url.startswith(("http://", "https://")):
        raise NonRetryableError(f"imageUrl must be an http(s) URL, got {url!r}")
    ctx.progress(0.1, "loading the model")
    time.sleep(0.5)
    ctx.progress(0.6, "describing")
    text = f"A {config.get('style', 'plain')} description of {url}."
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(text + "\n")
    try:
        transcript = ctx.upload(f.name, "text/plain")
    finally:
        os.unlink(f.name)
    ctx.progress(1.0, "done")
    return {"caption": text, "transcriptUrl": transcript}


if __name__ == "__main__":
    stitch_worker.run(
        os.environ.get("STITCH_URL", "http://localhost:3000"),
        api_key=os.environ.get("STITCH_API_KEY"),
        concurrency=int(os.environ.get("CONCURRENCY", "2")),
    )
