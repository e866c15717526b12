"""Model references: paths, starters, project models, the Hugging Face cache; hashes; pickles."""
import hashlib
import os
import shutil

import pytest

from studio import models
from studio.models import ModelError


class Diffusion:
    name = "diffusion"
    default_model = None

    @staticmethod
    def accepts(path):
        return (path / "model_index.json").is_file()


def test_path_resolves_to_absolute_portable_ref(tiny_sd, monkeypatch):
    monkeypatch.chdir(tiny_sd.parent)
    resolved = models.resolve(tiny_sd.name, Diffusion)
    assert resolved.path == tiny_sd.resolve() and resolved.ref == str(tiny_sd.resolve())
    assert resolved.name == tiny_sd.name


def test_missing_and_default(tmp_path):
    with pytest.raises(ModelError, match="no default model"):
        models.resolve(None, Diffusion)
    with pytest.raises(ModelError, match="not found"):
        models.resolve(str(tmp_path / "nothing"), Diffusion)
    with pytest.raises(ModelError, match="not in the Hugging Face cache"):
        models.resolve("someone/some-model", Diffusion)
    with pytest.raises(ModelError, match="starter model"):
        models.resolve("starter:diffusion/none", Diffusion)
    with pytest.raises(ModelError, match="no project"):
        models.resolve("project:mine", Diffusion)


@pytest.mark.parametrize("suffix", [".ckpt", ".bin", ".pt", ".pth"])
def test_pickle_files_are_refused(tmp_path, suffix):
    f = tmp_path / f"model{suffix}"
    f.write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelError, match="pickle.*safetensors"):
        models.resolve(str(f), Diffusion)


def test_pickle_only_folder_is_refused(tmp_path):
    (tmp_path / "unet").mkdir(parents=True)
    (tmp_path / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="only pickle weights"):
        models.resolve(str(tmp_path), Diffusion)


def test_project_model_and_hf_cache(tmp_path, tiny_sd):
    project = tmp_path / "proj"
    shutil.copytree(tiny_sd, project / "models" / "mine")
    assert models.resolve("project:mine", Diffusion, project).path == project / "models" / "mine"
    # A model in the Hugging Face cache layout is found offline by its hub id.
    cache = os.path.join(os.environ["HF_HOME"], "hub")
    repo = tmp_path.joinpath(cache, "models--tester--tiny-sd")
    shutil.copytree(tiny_sd, repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    try:
        resolved = models.resolve("tester/tiny-sd", Diffusion)
        assert resolved.ref == "tester/tiny-sd" and resolved.name == "tiny-sd"
        listed = {m["ref"]: m["source"] for m in models.list_models(Diffusion, project)}
        assert listed["tester/tiny-sd"] == "huggingface" and listed["project:mine"] == "project"
    finally:
        shutil.rmtree(repo)


def test_content_hash_of_file_and_folder(tmp_path, tiny_sd):
    f = tmp_path / "w.safetensors"
    f.write_bytes(b"weights")
    assert models.content_hash(f) == hashlib.sha256(b"weights").hexdigest()
    h = models.content_hash(tiny_sd)
    assert len(h) == 64 and models.content_hash(tiny_sd) == h
    copy = shutil.copytree(tiny_sd, tmp_path / "copy")
    assert models.content_hash(copy) == h  # content, not location
    weights = sorted(copy.rglob("*.safetensors"))[0]
    weights.write_bytes(weights.read_bytes()[:-1] + b"\1")
    assert models.content_hash(copy) != h  # the cache notices the change (size/mtime key)
