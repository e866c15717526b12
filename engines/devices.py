"""Devices, dtypes, threads and library versions. torch is imported inside the functions."""
from __future__ import annotations

import functools
import gc
import os
import re
import sys
from pathlib import Path

LIBRARIES = ("torch", "diffusers", "transformers", "peft", "accelerate", "assetsmith")


def resolve(device: str = "auto") -> str:
    """"auto" picks CUDA, then Apple's MPS, then the CPU; an explicit device must exist."""
    if device == "cpu":
        return device  # no torch import for it
    if "torch" not in sys.modules:
        load_torch_library()
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if re.fullmatch(r"cuda(:\d+)?", device):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} is not available: no CUDA GPU was found (use cpu or auto)")
        index = device.partition(":")[2]
        if index and int(index) >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        return device
    if device == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError("device 'mps' is not available on this machine (use cpu or auto)")
        return device
    raise ValueError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps")


def load_torch_library() -> bool:
    """Load libtorch_cpu (430 MB: mapping it and running its static initialisers takes 0.1-0.3 s)
    through libc's dlopen, called by ctypes, which lets go of Python's lock while it runs;
    `import torch` then finds it loaded. An import holds that lock through its whole dlopen, and
    a window's thread waits that long (bench/README.md, the warm-up). Linux only; False when it
    was not loaded here, which leaves the loading, and any error, to the import."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False
    library = Path(spec.submodule_search_locations[0]) / "lib" / "libtorch_cpu.so"
    if not library.is_file():
        return False
    libc = ctypes.CDLL(None)
    libc.dlopen.restype = ctypes.c_void_p
    libc.dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    return bool(libc.dlopen(os.fsencode(library), os.RTLD_NOW))  # kept open, as the import keeps it


def default_dtype(device: str) -> str:
    """Half precision on GPUs (the memory and the speed), full precision on the CPU."""
    return "float32" if device == "cpu" else "float16"


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]


@functools.cache
def automatic_threads() -> int:
    """torch's own thread count (the physical cores, or OMP_NUM_THREADS), read once: before
    the first job sets another."""
    import torch

    return torch.get_num_threads()


def cuda_count() -> int:
    """CUDA GPUs this process may use (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def set_threads(n: int) -> None:
    """The CPU thread count changes the bits of a result, so a re-make sets the recorded one."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def versions() -> dict[str, str]:
    """The libraries' versions (a copy: a recipe keeps its own)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    # Read once: the metadata is 50 ms of Python holding its lock (a job's first step stalled
    # the window), and what runs is what was imported, even if a newer one is installed since.
    from importlib import metadata

    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def empty_cache(device: str) -> None:
    """Give freed memory back: Python's cycles first, then the GPU allocator's cache."""
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
    elif device == "mps":
        import torch

        torch.mps.empty_cache()


def total_memory(device: str) -> int:
    """Bytes of memory a model on `device` can use (MPS shares the machine's memory)."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    import psutil

    return psutil.virtual_memory().total


def free_memory(device: str) -> int:
    """Bytes free on a CUDA device now (what other programs and engines left); the total
    memory elsewhere, where there is no such figure."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.mem_get_info(torch.device(device))[0]
    return total_memory(device)


def bf16_supported(device: str) -> bool:
    """Whether a CUDA device computes in bfloat16 natively (Ampere and later)."""
    if not device.startswith("cuda"):
        return False
    import torch

    return torch.cuda.is_bf16_supported()


def quiet_libraries() -> None:
    """Silence the libraries' own progress bars and chatter: progress is ours to report,
    and the CLI's stderr is for one clear line."""
    import diffusers
    import transformers

    for lib in (diffusers, transformers):
        lib.utils.logging.disable_progress_bar()
        lib.utils.logging.set_verbosity_error()
