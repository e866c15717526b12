"""Downloads from the Hugging Face Hub, only when the user asks: progress, cancel, resume,
checksums, clear errors, and never half a model in the lists.

Everything goes through huggingface_hub: `HfApi.model_info` lists the repo's files with
their sizes and hashes, `get_hf_file_metadata` finds each file's location, and
`file_download.http_get` fetches it (Range requests, retries on a dropped connection).
Files land in the real Hugging Face cache layout (blobs/, snapshots/, refs/), so other tools
reuse them and `studio.models` finds them. What we add:

- a partial file keeps a stable name (blobs/ETAG.incomplete) so a cancel, a crash or a lost
  connection resumes where it stopped (huggingface_hub now discards partial files);
- each file is checked against the Hub's sha256 (LFS files) or git blob id (small files)
  before it is moved into place; a corrupted one is deleted and reported;
- until every file is in and verified, a marker in ASSETSMITH_HOME/downloads/ names the
  snapshot, `refs/main` is not written, and `studio.models` lists nothing of it;
- only what an engine loads: safetensors weights, configs, tokenizers, the model card;
  never pickle weights (.bin/.ckpt/.pt), other frameworks' weights, or duplicate variants;
- offline mode (studio.settings.offline) means no network call at all.

The window uses `DownloadManager` (one worker thread; `JobEvent`s like the job runner's, so
ui/bridge.py can carry them): `submit(repo_id)` -> id, `cancel(id)`, `subscribe(cb)`.
A "progress" event has `progress=(bytes_done, bytes_total)` and `result` a `Progress` (speed,
ETA, file); "finished" has `result` the snapshot folder; "failed" has `error`, one line for the
user. The CLI calls `pull` directly. `plan` lists the files and sizes before downloading.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Callable

from engines.api import Cancelled
from studio import settings
from studio.jobs import JobEvent
from studio.models import PICKLE_SUFFIXES, RESOURCES, ModelError, hf_cache_dir

RECOMMENDED = RESOURCES / "recommended_models.json"
# What an engine loads. Anything else (pickles, ONNX, TF/Flax/GGUF weights, images) stays on the Hub.
WANTED = ("*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken", "*.md", "LICENSE*", "*.jinja",
          "tokenizer*", "*.yaml")
UNWANTED = ("*.onnx", "*.onnx_data", "*.msgpack", "*.h5", "*.gguf", "*.ot", "*.tflite", "*.mlmodel",
            "onnx/*", "openvino/*", "coreml/*", "original/*", "flax_model*", "tf_model*", "*.png", "*.jpg", "*.gif")
DISK_MARGIN = 64 << 20  # keep this much free besides the download itself
# huggingface_hub reads 10 MB per chunk: on a slow line that is one progress step and one
# chance to cancel every few seconds, and a connection cut mid-read loses the read (httpx drops
# the bytes it was gathering). 64 KB keeps all three small at no measurable cost in speed.
CHUNK_BYTES = 1 << 16
SPEED_WINDOW_S = 3.0  # speed is measured over the last seconds, so the ETA follows changes


class DownloadError(ModelError):
    """A download that could not finish; the message says why and what to do. What was
    already downloaded and verified is kept, so pulling again resumes."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS files: the sha256 of the content (also their ETag)
    blob_id: str | None  # small files: the git blob sha1 (also their ETag)

    @property
    def etag(self) -> str:
        return self.sha256 or self.blob_id or ""


@dataclass(frozen=True)
class Plan:
    """What a pull fetches, known before any byte of weights moves."""

    repo_id: str
    commit: str
    files: tuple[RemoteFile, ...]
    skipped: tuple[str, ...]  # files of the repo left on the Hub (pickles, other frameworks ...)
    licence: str | None
    gated: bool

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict:
        return {"repo_id": self.repo_id, "commit": self.commit, "total_bytes": self.total_bytes,
                "files": [{"path": f.path, "size": f.size} for f in self.files],
                "skipped": list(self.skipped), "licence": self.licence, "gated": self.gated}


@dataclass(frozen=True)
class Progress:
    repo_id: str
    file: str
    done_bytes: int
    total_bytes: int
    speed_bps: float  # bytes per second over the last few seconds
    eta_s: float | None  # None until a speed is known


def recommended(engine: str | None = None) -> list[dict]:
    """The curated list (resources/recommended_models.json), for one engine or all."""
    data = json.loads(RECOMMENDED.read_text())
    rows = [dict(m, engine=name) for name, models in data["engines"].items() for m in models]
    return [m for m in rows if engine is None or m["engine"] == engine]


def select_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """(files to fetch, files left out) of a repo listing: what our engines load."""
    keep, skip = [], []
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        wanted = any(fnmatch(name, p) for p in WANTED) and not any(fnmatch(path, p) or fnmatch(name, p)
                                                                      for p in UNWANTED)
        if Path(name).suffix.lower() in PICKLE_SUFFIXES or name.startswith("."):
            wanted = False
        (keep if wanted else skip).append(path)
    kept = set(keep)
    # A diffusers repo: its components' folders only, not the single-file checkpoints beside
    # them; and the default precision, not also its fp16/ema variants (diffusers' own choice).
    if "model_index.json" in kept:
        for path in list(keep):
            if "/" not in path and path.endswith(".safetensors"):
                kept.discard(path)
    for path in list(keep):
        stem, _, ext = path.rpartition(".")
        base, _, variant = stem.rpartition(".")
        if ext == "safetensors" and base and variant and f"{base}.safetensors" in kept:
            kept.discard(path)  # unet/diffusion_pytorch_model.fp16.safetensors beside the default one
    keep = [p for p in keep if p in kept]
    return keep, sorted(set(paths) - set(keep))


def _api(endpoint: str | None, token: str | bool | None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint, token=token)


def plan(repo_id: str, revision: str | None = None, endpoint: str | None = None,
         token: str | bool | None = None) -> Plan:
    """Ask the Hub which files to fetch and their sizes (one API call)."""
    _refuse_offline(repo_id)
    with _hub_errors(repo_id, endpoint):
        info = _api(endpoint, token).model_info(repo_id, revision=revision, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings or []}
    keep, skipped = select_files(list(siblings))
    if not any(p.endswith(".safetensors") for p in keep):
        pickles = [p for p in siblings if Path(p).suffix.lower() in PICKLE_SUFFIXES]
        hint = (" It has only pickle weights, which Assetsmith never downloads: get them yourself, then "
                "`assetsmith models import` and `convert` them." if pickles else "")
        raise DownloadError(f"{repo_id} has no .safetensors weights to download.{hint}")
    files = []
    for path in keep:
        s = siblings[path]
        files.append(RemoteFile(path=path, size=int(s.size or (s.lfs.size if s.lfs else 0)),
                                sha256=s.lfs.sha256 if s.lfs else None, blob_id=s.blob_id))
    card = getattr(info, "card_data", None)
    licence = card.get("license") if card is not None and hasattr(card, "get") else None
    return Plan(repo_id=repo_id, commit=info.sha, files=tuple(files), skipped=tuple(skipped),
                licence=licence, gated=bool(getattr(info, "gated", False)))


def pull(repo_id: str, *, revision: str | None = None,
         on_progress: Callable[[Progress], None] | None = None,
         cancelled: Callable[[], bool] | None = None,
         endpoint: str | None = None, token: str | bool | None = None,
         cache_dir: str | Path | None = None, the_plan: Plan | None = None) -> Path:
    """Download what our engines load of `repo_id` into the Hugging Face cache and return the
    snapshot folder (`fits` says whether a given engine can use it). Resumes whatever an earlier pull left; raises Cancelled when `cancelled()`
    turns true (the partial file is kept), DownloadError for everything else. `the_plan`, when
    the caller has already shown it (`plan`), saves asking the Hub a second time."""
    _refuse_offline(repo_id)
    if the_plan is None:
        the_plan = plan(repo_id, revision=revision, endpoint=endpoint, token=token)
    elif the_plan.repo_id != repo_id:
        raise ValueError(f"the plan given is for {the_plan.repo_id}, not {repo_id}")
    cache = Path(cache_dir) if cache_dir is not None else hf_cache_dir()
    storage = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = storage / "snapshots" / the_plan.commit
    tracker = _Tracker(repo_id, the_plan, storage, on_progress, cancelled or (lambda: False))
    _check_space(storage, the_plan.total_bytes - tracker.done)
    marker = _marker_path(cache, repo_id)
    try:
        # The marker first: whatever fails after it (a full disk included), the snapshot is
        # known to be unfinished and is never listed as a model.
        marker.parent.mkdir(parents=True, exist_ok=True)
        _write_json(marker, {"repo_id": repo_id, "commit": the_plan.commit, "cache": str(cache),
                             "snapshot": str(snapshot), "started": time.time()})
        for f in the_plan.files:
            _fetch(the_plan, f, storage, snapshot, tracker, endpoint, token)
        ref = storage / "refs" / (revision or "main")
        ref.parent.mkdir(parents=True, exist_ok=True)
        _write_text(ref, the_plan.commit)  # now, and only now, the snapshot is the model
    except OSError as exc:
        raise _os_error(exc, storage) from None
    marker.unlink(missing_ok=True)
    tracker.emit(force=True)
    return snapshot


def fits(engine_name: str, path: Path) -> bool:
    """Whether the engine named can load the folder (its `accepts`)."""
    from engines import registry

    return bool(getattr(registry.get(engine_name), "accepts", lambda p: False)(Path(path)))


def _fetch(the_plan: Plan, f: RemoteFile, storage: Path, snapshot: Path, tracker: "_Tracker",
           endpoint: str | None, token: str | bool | None) -> None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    pointer = snapshot / f.path
    blob = storage / "blobs" / f.etag
    tracker.file = f.path
    if not blob.exists():
        url = hf_hub_url(the_plan.repo_id, f.path, revision=the_plan.commit, endpoint=endpoint)
        with _hub_errors(the_plan.repo_id, endpoint):
            meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
        if meta.etag and meta.etag != f.etag:
            raise DownloadError(f"the Hub lists {f.path} of {the_plan.repo_id} with hash {f.etag[:12]}… "
                                f"but serves {meta.etag[:12]}…; pull again later")
        partial = blob.with_name(blob.name + ".incomplete")
        blob.parent.mkdir(parents=True, exist_ok=True)
        if partial.exists() and partial.stat().st_size > f.size:
            partial.unlink()  # longer than the file: not ours to resume
        resume = partial.stat().st_size if partial.exists() else 0
        headers = build_hf_headers(token=token)
        if meta.location != url and "://" in meta.location and meta.location.split("/")[2] != url.split("/")[2]:
            headers.pop("authorization", None)  # a signed CDN address takes no token
        with open(partial, "ab") as out, _hub_errors(the_plan.repo_id, endpoint), _chunks(CHUNK_BYTES):
            http_get(meta.location or url, _CheckedWriter(out, tracker), resume_size=resume, headers=headers,
                     expected_size=f.size, displayed_filename=f.path, tqdm_class=_Silent)
            out.flush()
            os.fsync(out.fileno())
        _verify(partial, f, the_plan.repo_id)
        os.replace(partial, blob)
    else:
        tracker.add(0)
    if not pointer.exists():
        pointer.parent.mkdir(parents=True, exist_ok=True)
        try:
            pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        except OSError:  # no symlinks here (some Windows setups): huggingface_hub copies too
            shutil.copy2(blob, pointer)


def _verify(partial: Path, f: RemoteFile, repo_id: str) -> None:
    """sha256 for LFS files, git's blob sha1 for small ones: what the Hub publishes."""
    if f.sha256:
        digest, expected = hashlib.sha256(), f.sha256
    elif f.blob_id:
        digest, expected = hashlib.sha1(f"blob {partial.stat().st_size}\0".encode()), f.blob_id
    else:
        return
    with open(partial, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{f.path} of {repo_id} arrived corrupted (its checksum does not match the Hub's); "
                            "the damaged file was deleted: pull again to fetch it anew")


@contextlib.contextmanager
def _chunks(size: int):
    """http_get's read size (a module constant it reads at each call), for the call's duration."""
    from huggingface_hub import constants

    saved = constants.DOWNLOAD_CHUNK_SIZE
    constants.DOWNLOAD_CHUNK_SIZE = min(saved, size)
    try:
        yield
    finally:
        constants.DOWNLOAD_CHUNK_SIZE = saved


class _Silent:
    """A tqdm stand-in for http_get: progress goes through our events, not to the terminal."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass

    def close(self):
        pass


class _CheckedWriter:
    """The partial file as http_get sees it: each chunk is written first, then counted and the
    cancel flag checked, so a cancel never loses a chunk that arrived."""

    def __init__(self, out, tracker: "_Tracker"):
        self._out, self._tracker = out, tracker

    def write(self, data: bytes) -> int:
        n = self._out.write(data)
        self._out.flush()
        self._tracker.add(len(data))
        return n

    def __getattr__(self, name):  # seek / tell / truncate when a server ignores Range
        return getattr(self._out, name)


class _Tracker:
    """Bytes done of the whole pull, speed over the last seconds, ETA; checks for cancel."""

    def __init__(self, repo_id: str, the_plan: Plan, storage: Path, on_progress, cancelled):
        self.repo_id, self.total, self.file = repo_id, the_plan.total_bytes, ""
        self.on_progress, self.cancelled = on_progress, cancelled
        self.done = 0
        for f in the_plan.files:  # what earlier pulls left counts as done
            blob = storage / "blobs" / f.etag
            partial = blob.with_name(blob.name + ".incomplete")
            if blob.exists():
                self.done += f.size
            elif partial.exists() and partial.stat().st_size <= f.size:
                self.done += partial.stat().st_size
        self._samples = [(time.monotonic(), self.done)]
        self._last_emit = 0.0

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        self._samples.append((now, self.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.pop(0)
        self.emit()
        if self.cancelled():
            raise Cancelled()

    def emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.on_progress is None or (not force and now - self._last_emit < 0.1 and self.done < self.total):
            return
        self._last_emit = now
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        speed = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        eta = (self.total - self.done) / speed if speed > 0 else None
        self.on_progress(Progress(self.repo_id, self.file, self.done, self.total, speed, eta))


# -- half-written downloads -------------------------------------------------------------------------

def _marker_path(cache: Path, repo_id: str) -> Path:
    key = hashlib.sha1(str(Path(cache).resolve()).encode()).hexdigest()[:10]
    return settings.home() / "downloads" / f"{repo_id.replace('/', '--')}-{key}.json"


def pending() -> list[dict]:
    """Downloads started and not finished (cancelled, crashed, failed): pull again to resume."""
    folder = settings.home() / "downloads"
    out = []
    for marker in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):  # a damaged marker is skipped, never a crash of the lists
            out.append({**data, "marker": str(marker)})
    return out


def pending_snapshots(cache: Path) -> set[Path]:
    """Snapshot folders in `cache` that a download has not finished: never listed as models."""
    cache = str(Path(cache).resolve())
    return {Path(d["snapshot"]) for d in pending()
            if d.get("cache") and d.get("snapshot") and str(Path(d["cache"]).resolve()) == cache}


def discard(repo_id: str, cache_dir: str | Path | None = None) -> int:
    """Forget an unfinished download: delete its partial files, its unfinished snapshot with the
    blobs no other snapshot uses, and its marker. Returns bytes freed."""
    cache = Path(cache_dir) if cache_dir is not None else hf_cache_dir()
    marker = _marker_path(cache, repo_id)
    storage = cache / ("models--" + repo_id.replace("/", "--"))
    freed = 0
    for partial in (storage / "blobs").glob("*.incomplete") if (storage / "blobs").is_dir() else []:
        freed += partial.stat().st_size
        partial.unlink()
    # The unfinished snapshot too (unless a ref names it), and the blobs only it used: left there,
    # it would be listed as a model with files missing once the marker is gone.
    try:
        snapshot = json.loads(marker.read_text()).get("snapshot")
    except (OSError, ValueError, AttributeError):
        snapshot = None
    refs_dir = storage / "refs"
    refs = {r.read_text().strip() for r in refs_dir.rglob("*") if r.is_file()} if refs_dir.is_dir() else set()
    if snapshot and Path(snapshot).parent == storage / "snapshots" and Path(snapshot).name not in refs \
            and Path(snapshot).is_dir():
        shutil.rmtree(snapshot)
        used = {p.resolve() for p in (storage / "snapshots").rglob("*") if p.is_symlink()}
        for blob in (storage / "blobs").iterdir() if (storage / "blobs").is_dir() else []:
            if blob.is_file() and blob.resolve() not in used:
                freed += blob.stat().st_size
                blob.unlink()
        if not any((storage / "snapshots").iterdir()) and not refs:
            shutil.rmtree(storage)
    marker.unlink(missing_ok=True)
    return freed


# -- errors that say what to do -------------------------------------------------------------------

def _refuse_offline(repo_id: str) -> None:
    if settings.offline():
        why = (f"{settings.OFFLINE_ENV} is set" if os.environ.get(settings.OFFLINE_ENV, "").strip()
               else "it is on in preferences")
        raise DownloadError(f"offline mode is on ({why}), so {repo_id} cannot be downloaded: Assetsmith makes "
                            "no network call. Turn offline mode off (`assetsmith models offline off`) to download")


class _hub_errors:
    """Turn huggingface_hub's and httpx's exceptions into one clear DownloadError."""

    def __init__(self, repo_id: str, endpoint: str | None):
        self.repo_id, self.endpoint = repo_id, endpoint

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, (Cancelled, DownloadError)):
            return False
        import httpx2
        from huggingface_hub import constants
        from huggingface_hub.errors import (
            EntryNotFoundError, GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled,
            RepositoryNotFoundError, RevisionNotFoundError,
        )

        where = self.endpoint or constants.ENDPOINT
        rid = self.repo_id
        if isinstance(exc, OfflineModeIsEnabled):
            message = (f"huggingface_hub is in offline mode ({settings.OFFLINE_ENV}), so {rid} cannot be "
                       "downloaded; unset it and turn offline mode off")
        elif isinstance(exc, GatedRepoError):
            message = (f"{rid} is gated: accept its conditions on its Hub page while logged in, then log in "
                       "here too (`hf auth login`) and pull again")
        elif isinstance(exc, RevisionNotFoundError):
            message = f"{rid} has no such revision on {where}"
        elif isinstance(exc, EntryNotFoundError):
            message = f"a file of {rid} is missing on {where}; the repository may have changed, pull again"
        elif isinstance(exc, RepositoryNotFoundError):
            message = (f"no model {rid} on {where} (check the spelling: OWNER/NAME); if it is private, "
                       "log in with `hf auth login` first")
        elif isinstance(exc, HfHubHTTPError) and exc.response is not None and exc.response.status_code in (401, 403):
            message = f"{where} refused access to {rid} ({exc.response.status_code}): log in with `hf auth login`"
        elif isinstance(exc, HfHubHTTPError):
            message = f"{where} answered with an error for {rid}: {str(exc).splitlines()[0]}; try again later"
        elif isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout, LocalEntryNotFoundError)):
            message = (f"cannot reach {where} ({type(exc).__name__}): check your network connection. "
                       "What was downloaded is kept; pull again to resume")
        elif isinstance(exc, httpx2.TransportError):
            # Connected, then cut or stalled (http_get has already retried a few times).
            message = (f"the connection to {where} was lost while downloading {rid} ({type(exc).__name__}); "
                       "what arrived is kept: check your network and pull again to resume")
        elif isinstance(exc, OSError) and exc.errno is None and "Consistency check failed" in str(exc):
            message = (f"a file of {rid} arrived with the wrong size (the connection was cut?); "
                       "pull again to resume")
        else:
            return False
        raise DownloadError(message) from None


def _os_error(exc: OSError, storage: Path) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DownloadError(f"the disk is full (writing in {storage.parent}): free some space, or move the "
                             "Hugging Face cache (HF_HOME) to a larger disk, then pull again to resume")
    return DownloadError(f"could not write the download in {storage.parent}: {exc.strerror or exc}")


def _check_space(storage: Path, needed: int) -> None:
    probe = storage
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed + DISK_MARGIN > free:
        raise DownloadError(f"not enough disk space: the download needs {human_size(needed)} more and "
                            f"{probe} has {human_size(free)} free. Free some space or move the Hugging Face "
                            "cache (HF_HOME) to a larger disk")


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _write_json(path: Path, data: dict) -> None:
    _write_text(path, json.dumps(data, indent=2))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -- for the window: downloads as jobs, one at a time, with JobEvents ----------------------------

class DownloadManager:
    """Runs pulls one after another on a worker thread; cancel stops one at its next chunk.

    Events (studio.jobs.JobEvent, from the worker thread): queued, started, progress
    (progress=(done, total) bytes, result=Progress), finished (result=snapshot path),
    cancelled, failed (error=the message for the user)."""

    def __init__(self, endpoint: str | None = None, token: str | bool | None = None):
        self.endpoint, self.token = endpoint, token
        self._ids = itertools.count(1)
        self._queue: queue.Queue = queue.Queue()
        self._cancel: dict[int, threading.Event] = {}
        self._listeners: list[Callable[[JobEvent], None]] = []
        self._worker = threading.Thread(target=self._run, name="downloads", daemon=True)
        self._worker.start()

    def subscribe(self, callback: Callable[[JobEvent], None]) -> None:
        self._listeners.append(callback)

    def submit(self, repo_id: str) -> int:
        job_id = next(self._ids)
        self._cancel[job_id] = threading.Event()
        self._queue.put((job_id, repo_id))
        self._emit(JobEvent("queued", job_id, result=repo_id))
        return job_id

    def cancel(self, job_id: int) -> None:
        if job_id in self._cancel:
            self._cancel[job_id].set()

    def shutdown(self) -> None:
        for flag in self._cancel.values():
            flag.set()
        self._queue.put(None)
        self._worker.join(timeout=10)

    def _emit(self, event: JobEvent) -> None:
        for callback in list(self._listeners):
            callback(event)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            job_id, repo_id = item
            flag = self._cancel[job_id]
            if flag.is_set():
                self._emit(JobEvent("cancelled", job_id))
                continue
            self._emit(JobEvent("started", job_id, result=repo_id))
            try:
                path = pull(repo_id, endpoint=self.endpoint, token=self.token, cancelled=flag.is_set,
                            on_progress=lambda p, i=job_id: self._emit(
                                JobEvent("progress", i, progress=(p.done_bytes, p.total_bytes), result=p)))
            except Cancelled:
                self._emit(JobEvent("cancelled", job_id))
            except ModelError as exc:
                self._emit(JobEvent("failed", job_id, error=str(exc)))
            except Exception as exc:  # a bug must not kill the worker; say what it was
                self._emit(JobEvent("failed", job_id, error=f"{type(exc).__name__}: {exc}"))
            else:
                self._emit(JobEvent("finished", job_id, result=path))
            finally:
                self._cancel.pop(job_id, None)
