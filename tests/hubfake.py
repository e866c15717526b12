"""Shared by the model manager's tests: tiny model files without torch, a Hugging Face cache
laid out by hand, an isolated ASSETSMITH_HOME, and a fake Hub on 127.0.0.1 that can also fail
the ways the real one does (401, gated, 404, a connection cut mid-file, a slow line).

A test module takes the fixtures by name: `env, online = hubfake.env, hubfake.online`."""
import hashlib
import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def write_safetensors(path: Path, keys: list[str]) -> Path:
    """A valid .safetensors file holding one float32 per key (no torch needed)."""
    header = {k: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, k in enumerate(keys)}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"\0" * (4 * len(keys)))
    return path


def fake_sd(folder: Path, cross_attention_dim: int = 768, cls: str = "StableDiffusionPipeline") -> Path:
    """The files discovery reads of a diffusers Stable Diffusion folder."""
    folder.mkdir(parents=True)
    index = {"_class_name": cls, "unet": ["diffusers", "UNet2DConditionModel"]}
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "unet").mkdir()
    (folder / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": cross_attention_dim}))
    write_safetensors(folder / "unet" / "diffusion_pytorch_model.safetensors", ["conv_in.weight"])
    return folder


def put_in_hf_cache(cache: Path, repo_id: str, src: Path, commit: str = "a" * 40, ref: bool = True) -> Path:
    """Lay `src` out as huggingface_hub does: blobs/<sha>, snapshots/<commit>/<file> -> blob, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        data = f.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / f.relative_to(src)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An empty ASSETSMITH_HOME and Hugging Face cache of this test's own."""
    from huggingface_hub import constants

    home, cache = tmp_path / "home", tmp_path / "hf-cache"
    home.mkdir()
    cache.mkdir()
    monkeypatch.setenv("ASSETSMITH_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return home, cache


def by_ref(found):
    return {m.ref: m for m in found}



class FakeHub:
    """Just enough of the Hub API for `pull`: model info with file metadata, HEAD and ranged GET."""

    def __init__(self, repo_id: str, files: dict[str, bytes], commit: str = "c" * 40):
        self.repo_id, self.files, self.commit = repo_id, files, commit
        self.served: dict[str, bytes] = dict(files)  # what GET returns (tests may corrupt it)
        self.requests: list[str] = []
        self.ranges: list[str] = []  # Range headers of file GETs (a resumed download sends one)
        # Failure modes, set by tests: (status, X-Error-Code or None) for the model API or for
        # every file; a byte offset past which file GETs are cut (the connection closed);
        # seconds to wait between 64 KB chunks of a file (a slow line, to stop mid-file).
        self.api_error: tuple[int, str | None] | None = None
        self.file_error: tuple[int, str | None] | None = None
        self.cut_at: int | None = None
        self.chunk_delay = 0.0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _file(self):
                prefix = f"/{hub.repo_id}/resolve/{hub.commit}/"
                return self.path[len(prefix):] if self.path.startswith(prefix) else None

            def _file_headers(self, name):
                self.send_header("X-Repo-Commit", hub.commit)
                self.send_header("ETag", f'"{hub.etag(name)}"')
                self.send_header("Accept-Ranges", "bytes")

            def _error(self, status, code):
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self):
                hub.requests.append("HEAD " + self.path)
                name = self._file()
                if hub.file_error and name is not None:
                    self._error(*hub.file_error)
                    return
                if name not in hub.files:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.end_headers()
                    return
                self.send_response(200)
                self._file_headers(name)
                self.send_header("Content-Length", str(len(hub.files[name])))
                self.end_headers()

            def do_GET(self):
                hub.requests.append("GET " + self.path)
                if hub.api_error and self.path.startswith("/api/models/"):
                    self._error(*hub.api_error)
                    return
                if hub.file_error and self._file() is not None:
                    self._error(*hub.file_error)
                    return
                if self.path.split("?")[0] == f"/api/models/{hub.repo_id}":
                    body = json.dumps(hub.info()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path.startswith("/api/models/"):
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                name = self._file()
                if name not in hub.served:
                    self._error(404, "EntryNotFound")  # e.g. huggingface_hub's own /api/agent-harnesses
                    return
                data = hub.served[name]
                if self.headers.get("Range"):
                    hub.ranges.append(self.headers["Range"])
                start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
                if hub.cut_at is not None and start >= hub.cut_at:
                    self._hang_up()  # the line is down: not even a status line
                    return
                self.send_response(206 if start else 200)
                self._file_headers(name)
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                end = len(data) if hub.cut_at is None else min(len(data), hub.cut_at)
                for i in range(start, end, 1 << 16):
                    self.wfile.write(data[i:min(i + (1 << 16), end)])
                    self.wfile.flush()
                    if hub.chunk_delay:
                        time.sleep(hub.chunk_delay)
                if end < len(data):
                    self._hang_up()  # cut mid-file, the promised Content-Length not reached

            def _hang_up(self):
                self.close_connection = True
                try:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def etag(self, name):
        data = self.files[name]
        return hashlib.sha256(data).hexdigest() if self.lfs(name) else self.blob_id(name)

    def lfs(self, name):
        return name.endswith(".safetensors")

    def blob_id(self, name):
        data = self.files[name]
        return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()

    def info(self):
        siblings = []
        for name, data in self.files.items():
            s = {"rfilename": name, "size": len(data), "blobId": self.blob_id(name)}
            if self.lfs(name):
                s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
            siblings.append(s)
        return {"id": self.repo_id, "modelId": self.repo_id, "sha": self.commit, "siblings": siblings,
                "cardData": {"license": "mit"}, "gated": False, "private": False, "tags": []}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def online(env, monkeypatch):
    """Network allowed, but only to 127.0.0.1 (each test's fake Hub)."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return env


def big_safetensors(path: Path, size_bytes: int) -> Path:
    """A valid .safetensors file of about `size_bytes` (one tensor of random floats)."""
    n = size_bytes // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
    header += b" " * (-len(header) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(header).to_bytes(8, "little") + header + os.urandom(4 * n))
    return path


def gpt2_files(tiny_gpt2) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in tiny_gpt2.iterdir() if p.is_file()}
    files["pytorch_model.bin"] = b"\x80\x04pickle"  # on the Hub, never downloaded
    return files

