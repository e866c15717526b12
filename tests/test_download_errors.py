"""Downloads that cannot finish: each gives one clear error saying what to do, leaves no
half-written model in the lists, and (where bytes arrived) resumes on the next pull.

The Hub is tests/hubfake.py's server on 127.0.0.1, failing on purpose: 401, gated, 404, a
connection cut mid-file, a disk that fills up, and offline mode with every socket blocked."""
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import hubfake
from hubfake import FakeHub, big_safetensors, gpt2_files
from studio import downloads, models, settings

env, online = hubfake.env, hubfake.online  # fixtures
DownloadError = downloads.DownloadError
ASSETSMITH = str(Path(sys.executable).parent / "assetsmith")


def listed(repo_id: str) -> bool:
    return any(m.ref == repo_id for m in models.discover())


def big_files(tmp_path, tiny_gpt2, size=3 << 20) -> dict[str, bytes]:
    """Weights larger than one read (downloads.CHUNK_BYTES), so a failure can fall mid-file."""
    return {"model.safetensors": big_safetensors(tmp_path / "big.safetensors", size).read_bytes(),
            "config.json": (tiny_gpt2 / "config.json").read_bytes()}


# -- the Hub says no --------------------------------------------------------------------------------

@pytest.mark.parametrize("status,code,expected", [
    (401, None, r"http://127\.0\.0\.1:\d+ refused access to tester/gpt2 \(401\): log in with `hf auth login`"),
    (403, "GatedRepo", r"tester/gpt2 is gated: accept its conditions on its Hub page .*`hf auth login`"),
    (404, "RepoNotFound", r"no model tester/gpt2 on http://127\.0\.0\.1:\d+ \(check the spelling: OWNER/NAME\)"),
    (403, None, r"refused access to tester/gpt2 \(403\): log in with `hf auth login`"),
])
def test_hub_refusals_before_any_file(online, tiny_gpt2, status, code, expected):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        hub.api_error = (status, code)
        with pytest.raises(DownloadError, match=expected) as caught:
            downloads.pull("tester/gpt2", endpoint=hub.endpoint)
    assert "\n" not in str(caught.value)  # one line for the user, no HTTP dump
    assert not any("/resolve/" in r for r in hub.requests)
    assert downloads.pending() == [] and not listed("tester/gpt2")


@pytest.mark.parametrize("status,code,expected", [
    (403, "GatedRepo", r"tester/gpt2 is gated: accept its conditions"),
    (401, None, r"refused access to tester/gpt2 \(401\): log in with `hf auth login`"),
    (404, "EntryNotFound", r"a file of tester/gpt2 is missing on http://127\.0\.0\.1:\d+; .*pull again"),
])
def test_hub_refusals_on_the_files(online, tiny_gpt2, status, code, expected):
    """The listing is public but the files are not (a gated repo does exactly this)."""
    _, cache = online
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        hub.file_error = (status, code)
        with pytest.raises(DownloadError, match=expected):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint)
    assert not listed("tester/gpt2")
    assert not (cache / "models--tester--gpt2" / "refs" / "main").exists()
    assert not list((cache / "models--tester--gpt2").rglob("*.incomplete"))  # no byte came


def test_server_error_says_try_again_later(online, tiny_gpt2):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        hub.api_error = (500, None)
        with pytest.raises(DownloadError, match=r"answered with an error for tester/gpt2: .*500.*try again later"):
            downloads.plan("tester/gpt2", endpoint=hub.endpoint)


# -- the connection is cut mid-file -------------------------------------------------------------------

def test_connection_cut_mid_file_then_resume(online, tiny_gpt2, tmp_path, monkeypatch):
    from huggingface_hub import file_download

    _, cache = online
    files = big_files(tmp_path, tiny_gpt2)
    weights = files["model.safetensors"]
    # http_get waits a second before each of its retries; the line stays down, so skip the waits.
    monkeypatch.setattr(file_download.time, "sleep", lambda s: None)
    with FakeHub("tester/big", files) as hub:
        hub.cut_at = len(weights) // 2
        with pytest.raises(DownloadError, match=r"connection to http://127\.0\.0\.1:\d+ was lost while downloading "
                                                r"tester/big .*what arrived is kept: .*pull again to resume"):
            downloads.pull("tester/big", endpoint=hub.endpoint)
        [partial] = (cache / "models--tester--big" / "blobs").glob("*.incomplete")
        kept = partial.stat().st_size
        # What came is kept, but for the read in progress when the line went (httpx drops it).
        assert hub.cut_at - downloads.CHUNK_BYTES < kept <= hub.cut_at
        assert len(hub.ranges) == 5 and set(hub.ranges) == {f"bytes={kept}-"}  # huggingface_hub's own retries
        assert not listed("tester/big") and [d["repo_id"] for d in downloads.pending()] == ["tester/big"]

        hub.cut_at, hub.ranges = None, []
        snapshot = downloads.pull("tester/big", endpoint=hub.endpoint)
        assert hub.ranges == [f"bytes={kept}-"]  # resumed, not started over
    assert (snapshot / "model.safetensors").read_bytes() == weights  # and verified against the Hub's sha256
    assert listed("tester/big") and downloads.pending() == []


# -- the disk fills up --------------------------------------------------------------------------------

def test_full_disk_mid_file_then_resume(online, tiny_gpt2, tmp_path, monkeypatch):
    _, cache = online
    files = big_files(tmp_path, tiny_gpt2)
    write = downloads._CheckedWriter.write
    calls = []

    def fill_up(self, data):
        calls.append(len(data))
        if len(calls) == 2:  # the first read lands, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(self, data)

    monkeypatch.setattr(downloads._CheckedWriter, "write", fill_up)
    with FakeHub("tester/big", files) as hub:
        with pytest.raises(DownloadError, match=r"the disk is full .*free some space.*pull again to resume"):
            downloads.pull("tester/big", endpoint=hub.endpoint)
        assert not listed("tester/big")
        [partial] = (cache / "models--tester--big" / "blobs").glob("*.incomplete")
        assert partial.stat().st_size == calls[0] == downloads.CHUNK_BYTES
        monkeypatch.setattr(downloads._CheckedWriter, "write", write)  # space freed
        snapshot = downloads.pull("tester/big", endpoint=hub.endpoint)
        assert hub.ranges == [f"bytes={downloads.CHUNK_BYTES}-"]
    assert (snapshot / "model.safetensors").read_bytes() == files["model.safetensors"]
    assert listed("tester/big")


def test_full_disk_at_the_very_end_lists_nothing(online, tiny_gpt2, monkeypatch):
    """Every file in, but the disk fills while writing refs/main: still not a model."""
    write_text = downloads._write_text

    def no_room_for_the_ref(path, text):
        if path.parent.name == "refs":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write_text(path, text)

    monkeypatch.setattr(downloads, "_write_text", no_room_for_the_ref)
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        with pytest.raises(DownloadError, match="the disk is full"):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint)
    assert not listed("tester/gpt2") and [d["repo_id"] for d in downloads.pending()] == ["tester/gpt2"]


def test_size_limited_process_gets_a_clear_error(online, tiny_gpt2, tmp_path):
    """A real write refused by the system (RLIMIT_FSIZE: EFBIG, like a quota), through the CLI."""
    resource = pytest.importorskip("resource")  # POSIX only
    _, cache = online
    files = big_files(tmp_path, tiny_gpt2)
    limit = 3 * downloads.CHUNK_BYTES // 2

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with FakeHub("tester/big", files) as hub:
        environment = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(cache), "NO_PROXY": "127.0.0.1"}
        environment.pop("HF_HUB_OFFLINE", None)
        done = subprocess.run([ASSETSMITH, "models", "pull", "tester/big"], capture_output=True, text=True,
                              env=environment, preexec_fn=limited, timeout=120)
        assert done.returncode == 1, done.stderr
        assert "assetsmith: the disk is full" in done.stderr and "Traceback" not in done.stderr
        assert not listed("tester/big")
        [partial] = (cache / "models--tester--big" / "blobs").glob("*.incomplete")
        kept = partial.stat().st_size
        assert 0 < kept <= limit
        snapshot = downloads.pull("tester/big", endpoint=hub.endpoint)  # with room again: resumes
        assert hub.ranges == [f"bytes={kept}-"]
    assert (snapshot / "model.safetensors").read_bytes() == files["model.safetensors"]


# -- offline mode: not one connection ------------------------------------------------------------------

@pytest.fixture
def sockets_blocked(monkeypatch):
    """Every attempt to connect anywhere is recorded and refused."""
    tried = []

    def refuse(self, address, *a):
        tried.append(address)
        raise OSError(errno.ENETUNREACH, "blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return tried


@pytest.mark.parametrize("how", ["preference", "HF_HUB_OFFLINE"])
def test_offline_mode_makes_no_connection(env, monkeypatch, sockets_blocked, how):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if how == "preference":
        settings.set_offline(True)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # A connection attempt would show, not just fail: the guard is that sockets were tried.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    sockets_blocked.clear()

    why = "it is on in preferences" if how == "preference" else "HF_HUB_OFFLINE is set"
    with pytest.raises(DownloadError, match=rf"offline mode is on \({why}\), so tester/x cannot be downloaded"):
        downloads.pull("tester/x", endpoint="http://127.0.0.1:9")
    with pytest.raises(DownloadError, match="offline mode is on"):
        downloads.plan("tester/x")  # the default endpoint: huggingface.co, never reached

    manager = downloads.DownloadManager(endpoint="http://127.0.0.1:9")
    events, done = [], threading.Event()
    manager.subscribe(lambda e: (events.append(e), e.kind in ("failed", "finished") and done.set()))
    manager.submit("tester/x")
    assert done.wait(10)
    manager.shutdown()
    assert events[-1].kind == "failed" and "offline mode is on" in events[-1].error

    models.discover()  # listing what is here never goes out either
    with pytest.raises(models.ModelError, match="not in the Hugging Face cache"):
        models.resolve("tester/x", type("E", (), {"name": "causal-lm"}))
    assert sockets_blocked == []
    assert downloads.pending() == []
