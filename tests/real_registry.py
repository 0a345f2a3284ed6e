"""Debian's docker-registry (CNCF distribution 2.8) on loopback, behind a token realm of ours.

The registry runs with in-memory storage and ``auth: silly``, which challenges every anonymous
request with ``Bearer realm=…,service=…,scope=…`` and accepts any Authorization header; the
realm is a small HTTP server here that hands out tokens and records what it was asked. Images
are pushed with the registry API itself (blob uploads, then manifests), using the same bytes
the fake registry serves (gc_tui/demo/registry_store.py). .ci/run installs the package.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from gc_tui.demo.registry_store import image_documents

SERVICE = "test-registry"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TokenRealm:
    """Hands out a token to anyone; ``asked`` keeps (service, scopes, had_basic_auth)."""

    port: int = 0
    asked: list[tuple[str | None, tuple[str, ...], bool]] = field(default_factory=list)

    @contextmanager
    def running(self) -> Iterator[TokenRealm]:
        realm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                realm.asked.append(
                    (
                        next(iter(query.get("service", [])), None),
                        tuple(query.get("scope", [])),
                        self.headers.get("Authorization", "").startswith("Basic "),
                    )
                )
                body = json.dumps({"token": f"t{len(realm.asked)}", "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"


@dataclass
class RealRegistry:
    url: str
    realm: TokenRealm

    def push(
        self, name: str, tag: str, created: datetime, *, platforms: Sequence[str] = ("linux/amd64",)
    ) -> str:
        """Push a small image under ``tag``; returns the digest the tag now names."""
        documents = image_documents(name, tag, created, platforms=platforms)
        # silly auth accepts any Authorization header; the realm is for the client under test.
        with httpx.Client(base_url=self.url, headers={"Authorization": "Bearer pusher"}) as client:
            for document in documents:
                if document.media_type is not None:
                    continue
                started = client.post(f"/v2/{name}/blobs/uploads/")
                assert started.status_code == 202, started.text
                location = started.headers["location"]
                joiner = "&" if "?" in location else "?"
                done = client.put(
                    f"{location}{joiner}digest={document.digest}",
                    content=document.content,
                    headers={"Content-Type": "application/octet-stream"},
                )
                assert done.status_code == 201, done.text
            manifests = [d for d in documents if d.media_type is not None]
            for position, document in enumerate(manifests):
                reference = tag if position == len(manifests) - 1 else document.digest
                assert document.media_type is not None
                stored = client.put(
                    f"/v2/{name}/manifests/{reference}",
                    content=document.content,
                    headers={"Content-Type": document.media_type},
                )
                assert stored.status_code == 201, stored.text
        return manifests[-1].digest


@contextmanager
def real_registry(folder: Path) -> Iterator[RealRegistry]:
    binary = shutil.which("docker-registry")
    if binary is None:
        import pytest

        pytest.skip("docker-registry is not installed (Debian: apt-get install docker-registry)")
    with TokenRealm().running() as realm:
        port = free_port()
        config = folder / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n"
            "storage:\n  inmemory: {}\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
            f"auth:\n  silly:\n    realm: {realm.url}\n    service: {SERVICE}\n",
            encoding="utf-8",
        )
        log = (folder / "registry.log").open("wb")
        process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, process)
            yield RealRegistry(url, realm)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    # Polling for readiness only; nothing is measured.
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError("docker-registry exited at start; see registry.log")
        try:
            if httpx.get(f"{url}/v2/").status_code == 401:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("docker-registry did not start listening")
