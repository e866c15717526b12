"""Shared fixtures. Tiny real models are built once per session; nothing touches the network
or the user's real settings and caches."""
import os
import tempfile

# Before anything imports huggingface_hub: no network, and a cache of our own.
_HOME = tempfile.mkdtemp(prefix="assetsmith-tests-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = os.path.join(_HOME, "hf")
os.environ["ASSETSMITH_HOME"] = os.path.join(_HOME, "assetsmith")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")  # QSettings of the window
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item):
    """A window's background warm-up may still be importing when its test ends, and the ML
    libraries register loggers as they import. pytest's log capture walks logging's logger
    table without logging's lock as teardown starts, and a logger added meanwhile broke that
    walk once in CI ("dictionary changed size during iteration"). So teardown waits for the
    imports first (studio.jobs counts the warm-ups under way)."""
    jobs = sys.modules.get("studio.jobs")
    deadline = time.monotonic() + 300
    while jobs is not None and jobs.collector_paused() and time.monotonic() < deadline:
        time.sleep(0.05)
    return (yield)


@pytest.fixture(scope="module")
def pinned_threads():
    """The CPU thread count changes the bits: a module comparing outputs runs with one count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def restore_threads():
    """A module whose runs set their own thread count leaves the process's as it found it."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    """A tiny Stable Diffusion pipeline saved as a diffusers folder (random weights)."""
    from engines.tiny_models import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory):
    """A tiny SDXL pipeline (two text encoders, text_time embedding) as a diffusers folder."""
    from engines.tiny_models import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory):
    """A tiny GPT-2 (base model, plain completion) with a tokenizer trained offline."""
    from engines.tiny_models import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")


@pytest.fixture(scope="session")
def tiny_chat(tmp_path_factory):
    """The same tiny GPT-2 with a chat template, as chat models have."""
    from engines.tiny_models import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-chat", chat=True)


@pytest.fixture(scope="session")
def tiny_musicgen(tmp_path_factory):
    """A tiny MusicGen (T5 + EnCodec 32 kHz + 4 codebooks), MusicGen's generation config."""
    from engines.tiny_models import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("models") / "tiny-musicgen")


@pytest.fixture(scope="session")
def tiny_vits(tmp_path_factory):
    """A tiny single-speaker VITS laid out as MMS-TTS models are (16 kHz, characters)."""
    from engines.tiny_models import build_tiny_vits

    return build_tiny_vits(tmp_path_factory.mktemp("models") / "tiny-vits")


@pytest.fixture(scope="session")
def tiny_vits_voices(tmp_path_factory):
    """The same tiny VITS with three speakers, so `voice` has choices."""
    from engines.tiny_models import build_tiny_vits

    return build_tiny_vits(tmp_path_factory.mktemp("models") / "tiny-vits-voices", num_speakers=3)


@pytest.fixture(scope="session")
def tiny_wavegan(tmp_path_factory):
    """A tiny WaveGAN generator (8 kHz, 2048 samples, width 2) with seeded random weights."""
    from engines.tiny_models import build_tiny_wavegan

    return build_tiny_wavegan(tmp_path_factory.mktemp("models") / "tiny-wavegan")


@pytest.fixture(scope="session")
def tiny_bark(tmp_path_factory):
    """A tiny Bark (semantic, coarse, fine + EnCodec 24 kHz) with two voice presets: one listed
    in speaker_embeddings_path.json (.npy files), one as Bark's own .npz."""
    from engines.tiny_models import build_tiny_bark

    return build_tiny_bark(tmp_path_factory.mktemp("models") / "tiny-bark")
