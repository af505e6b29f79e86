"""Real local peers in threads for tests that talk to the network: a fake OpenAI fine-tuning
API, a webhook receiver, and uvicorn serving an app.

``FakeOpenAI`` speaks the documented endpoints the fine-tune provider uses, walking each job
through validating_files, queued, running and then succeeded or failed, one step per status
request.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import uvicorn

from tests.smtp import free_port

SUCCESS = ["validating_files", "queued", "running", "running", "succeeded"]
FAILURE = ["validating_files", "queued", "running", "failed"]


class FakeOpenAI:
    """State of the fake server; tests read ``files``, ``jobs`` and ``requests``."""

    def __init__(self):
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.next_outcome = "succeeded"
        self.trained_tokens = 123_456
        self.lock = threading.Lock()
        self._n = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n:04d}"

    def _job_json(self, job: dict) -> dict:
        status = job["script"][job["step"]]
        done = status in ("succeeded", "failed", "cancelled")
        error = None
        if status == "failed":
            error = {
                "code": "invalid_training_file",
                "message": "Training file has 3 invalid lines.",
                "param": "training_file",
            }
        return {
            "id": job["id"],
            "object": "fine_tuning.job",
            "created_at": job["created_at"],
            "model": job["model"],
            "organization_id": "org-fake",
            "status": status,
            "training_file": job["training_file"],
            "validation_file": job.get("validation_file"),
            "hyperparameters": {
                "n_epochs": job["n_epochs"],
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
            },
            "fine_tuned_model": f"ft:{job['model']}:fake-org:{job['suffix']}:abc123"
            if status == "succeeded"
            else None,
            "trained_tokens": self.trained_tokens if status == "succeeded" else None,
            "finished_at": job["created_at"] + 600 if done else None,
            "result_files": [],
            "seed": job["seed"],
            "error": error,
        }

    def _advance(self, job: dict) -> None:
        if job["step"] < len(job["script"]) - 1:
            job["step"] += 1
            status = job["script"][job["step"]]
            job["events"].append(
                {
                    "object": "fine_tuning.job.event",
                    "id": self._id("ftevent"),
                    "created_at": int(time.time()),
                    "level": "error" if status == "failed" else "info",
                    "message": f"Job is {status}",
                    "type": "message",
                }
            )

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self):  # noqa: N802
                with fake.lock:
                    fake.requests.append(("POST", self.path))
                    if self.headers.get("Authorization") != "Bearer sk-test":
                        return self._send(401, {"error": {"message": "bad key", "type": "auth"}})
                    if self.path == "/v1/files":
                        raw = self._body()
                        name = re.search(rb'filename="([^"]+)"', raw).group(1).decode()
                        purpose = re.search(rb'name="purpose"\r\n\r\n([^\r]+)', raw).group(1).decode()
                        start = raw.index(b"\r\n\r\n", raw.index(b'name="file"')) + 4
                        content = raw[start : raw.index(b"\r\n--", start)]
                        fid = fake._id("file")
                        fake.files[fid] = {"filename": name, "purpose": purpose, "content": content}
                        return self._send(
                            200,
                            {
                                "id": fid,
                                "object": "file",
                                "bytes": len(content),
                                "created_at": int(time.time()),
                                "filename": name,
                                "purpose": purpose,
                                "status": "processed",
                            },
                        )
                    if self.path == "/v1/fine_tuning/jobs":
                        body = json.loads(self._body())
                        if body["training_file"] not in fake.files:
                            return self._send(400, {"error": {"message": "no such file", "type": "invalid"}})
                        hp = body.get("method", {}).get("supervised", {}).get("hyperparameters", {})
                        job = {
                            "id": fake._id("ftjob"),
                            "created_at": int(time.time()),
                            "model": body["model"],
                            "training_file": body["training_file"],
                            "validation_file": body.get("validation_file"),
                            "suffix": body.get("suffix"),
                            "seed": body.get("seed"),
                            "n_epochs": hp.get("n_epochs", "auto"),
                            "step": 0,
                            "script": list(SUCCESS if fake.next_outcome == "succeeded" else FAILURE),
                            "events": [],
                            "request": body,
                        }
                        job["events"].append(
                            {
                                "object": "fine_tuning.job.event",
                                "id": fake._id("ftevent"),
                                "created_at": job["created_at"],
                                "level": "info",
                                "message": "Created fine-tuning job",
                                "type": "message",
                            }
                        )
                        fake.jobs[job["id"]] = job
                        return self._send(200, fake._job_json(job))
                    m = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)/cancel", self.path)
                    if m and m.group(1) in fake.jobs:
                        job = fake.jobs[m.group(1)]
                        job["script"] = job["script"][: job["step"] + 1] + ["cancelled"]
                        job["step"] += 1
                        return self._send(200, fake._job_json(job))
                    return self._send(
                        404, {"error": {"message": "not found", "type": "invalid_request_error"}}
                    )

            def do_GET(self):  # noqa: N802
                with fake.lock:
                    fake.requests.append(("GET", self.path))
                    m = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)(/events)?(\?.*)?", self.path)
                    if not m or m.group(1) not in fake.jobs:
                        return self._send(
                            404, {"error": {"message": "not found", "type": "invalid_request_error"}}
                        )
                    job = fake.jobs[m.group(1)]
                    if m.group(2):
                        data = list(reversed(job["events"]))  # newest first
                        return self._send(200, {"object": "list", "data": data, "has_more": False})
                    fake._advance(job)
                    return self._send(200, fake._job_json(job))

        return Handler


class WebhookReceiver:
    """A real HTTP server in a thread that answers the queued statuses (then 200); a context
    manager, with ``url`` to post to and ``requests`` (headers, JSON body) received."""

    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server hook name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"nope" if status >= 400 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serve_in_thread(app) -> Iterator[str]:  # noqa: ANN001 - any ASGI app
    """Run ``app`` with uvicorn on a free loopback port; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
