"""The model manager: discovery from every source, settings, import / remove, downloads.

Everything is local: an isolated ASSETSMITH_HOME and Hugging Face cache per test, tiny models
or hand-written safetensors headers, and (for pulls) a fake Hub on 127.0.0.1."""
import hashlib
import json
import os
import shutil
import threading
import time

import pytest

import hubfake
from hubfake import FakeHub, by_ref, fake_sd, gpt2_files, put_in_hf_cache, write_safetensors
from studio import downloads, models, settings
from studio.models import ModelError

env, online = hubfake.env, hubfake.online  # fixtures


# -- discovery -----------------------------------------------------------------------------------

def test_discover_finds_every_source_and_describes_it(env, tmp_path, tiny_gpt2):
    home, cache = env
    project = tmp_path / "proj"
    shutil.copytree(tiny_gpt2, project / "models" / "my-gpt2")
    fake_sd(models.library_dir() / "my-sd")
    fake_sd(tmp_path / "xl", cls="StableDiffusionXLPipeline")
    put_in_hf_cache(cache, "tester/tiny-xl", tmp_path / "xl")
    put_in_hf_cache(cache, "tester/tiny-gpt2", tiny_gpt2, commit="b" * 40)
    # An AUTOMATIC1111 models folder, used in place.
    a1111 = tmp_path / "a1111" / "models"
    ckpt = write_safetensors(a1111 / "Stable-diffusion" / "dream.safetensors",
                             ["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.x"])
    write_safetensors(a1111 / "Lora" / "style.safetensors", ["lora_unet_down_blocks_0.lora_down.weight"])
    write_safetensors(a1111 / "VAE" / "vae.safetensors", ["encoder.conv_in.weight", "decoder.conv_out.weight"])
    write_safetensors(a1111 / "embeddings" / "bad-hands.safetensors", ["emb_params"])
    pickle = a1111 / "Stable-diffusion" / "old.ckpt"
    pickle.write_bytes(b"\x80\x04pickle")
    (a1111 / "Stable-diffusion" / "notes.txt").write_text("not a model")
    settings.add_model_folder(tmp_path / "a1111")

    found = by_ref(models.discover(project))

    gpt2 = found["project:my-gpt2"]
    assert (gpt2.source, gpt2.kind, gpt2.family, gpt2.name) == ("project", "model", "gpt2", "my-gpt2")
    assert gpt2.engines == ("causal-lm",)
    assert gpt2.size_bytes == sum(p.stat().st_size for p in tiny_gpt2.rglob("*") if p.is_file())

    lib = found[str((models.library_dir() / "my-sd").resolve())]
    assert (lib.source, lib.kind, lib.family, lib.linked) == ("library", "model", "sd1", False)
    assert lib.engines == ("diffusion",)

    hub_gpt2 = found["tester/tiny-gpt2"]
    assert hub_gpt2.source == "huggingface"
    assert hub_gpt2.path == cache / "models--tester--tiny-gpt2" / "snapshots" / ("b" * 40)
    assert hub_gpt2.engines == ("causal-lm",) and hub_gpt2.family == "gpt2"
    # Snapshots hold links: the size is that of the blobs they point at.
    assert hub_gpt2.size_bytes == gpt2.size_bytes
    assert found["tester/tiny-xl"].family == "sdxl" and found["tester/tiny-xl"].engines == ("diffusion",)

    described = {m.path.name: m for m in found.values() if m.source == "folder"}
    assert set(described) == {"dream.safetensors", "style.safetensors", "vae.safetensors", "bad-hands.safetensors",
                              "old.ckpt"}  # notes.txt is no model
    assert (described["dream.safetensors"].kind, described["dream.safetensors"].family) == ("checkpoint", "sd1")
    assert described["dream.safetensors"].engines == ("diffusion",)
    assert described["dream.safetensors"].ref == str(ckpt.resolve())
    assert described["style.safetensors"].kind == "lora" and described["style.safetensors"].engines == ("diffusion",)
    assert described["vae.safetensors"].kind == "vae" and described["vae.safetensors"].engines == ()
    assert described["bad-hands.safetensors"].kind == "embedding"
    assert described["old.ckpt"].kind == "pickle" and described["old.ckpt"].engines == ()
    # to_dict is JSON-ready (the CLI prints it).
    assert json.loads(json.dumps(gpt2.to_dict()))["engines"] == ["causal-lm"]


@pytest.mark.parametrize("keys,family", [
    (["model.diffusion_model.x", "conditioner.embedders.1.model.y"], "sdxl"),
    (["model.diffusion_model.x", "cond_stage_model.model.transformer.y"], "sd2"),
    (["model.diffusion_model.x"], "sd1"),
])
def test_single_file_checkpoint_family(tmp_path, keys, family):
    f = write_safetensors(tmp_path / "m.safetensors", keys)
    assert models._kind_and_family(f) == ("checkpoint", family)


def test_damaged_safetensors_header_is_unknown_not_an_error(tmp_path):
    f = tmp_path / "junk.safetensors"
    f.write_bytes((1 << 40).to_bytes(8, "little") + b"{}")  # a header size no real file has
    assert models.safetensors_keys(f) == []
    assert models._kind_and_family(f) == ("unknown", None)
    g = tmp_path / "short.safetensors"
    g.write_bytes(b"\x10\0\0\0\0\0\0\0{not json")
    assert models._kind_and_family(g) == ("unknown", None)


def test_sd2_folder_and_licence_from_model_card(env, tmp_path):
    sd2 = fake_sd(models.library_dir() / "sd2", cross_attention_dim=1024)
    (sd2 / "README.md").write_text("---\nlicense: other\nlicense_name: my-licence\n---\n# A model\n")
    gpt = models.library_dir() / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    write_safetensors(gpt / "model.safetensors", ["w"])
    (gpt / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    found = {m.name: m for m in models.discover()}
    assert (found["sd2"].family, found["sd2"].licence) == ("sd2", "my-licence")
    assert (found["gpt"].family, found["gpt"].licence, found["gpt"].engines) == ("llama", "apache-2.0", ("causal-lm",))


def test_hf_cache_leaves_out_half_written_snapshots(env, tmp_path, tiny_gpt2):
    _, cache = env
    good = put_in_hf_cache(cache, "tester/good", tiny_gpt2)
    broken = put_in_hf_cache(cache, "tester/broken", tiny_gpt2)
    # A blob that is not there (a copy cut short, a cache cleaned by hand): a dangling link.
    target = (broken / "model.safetensors").resolve()
    target.unlink()
    assert (broken / "model.safetensors").is_symlink() and not (broken / "model.safetensors").exists()
    refs = {m.ref for m in models.discover()}
    assert "tester/good" in refs and "tester/broken" not in refs
    assert models._hf_cache_snapshots() == [("tester/good", good)]


def test_hf_cache_follows_refs_main_else_newest_snapshot(env, tmp_path, tiny_gpt2):
    _, cache = env
    old = put_in_hf_cache(cache, "tester/m", tiny_gpt2, commit="1" * 40)
    new = put_in_hf_cache(cache, "tester/m", tiny_gpt2, commit="2" * 40, ref=False)
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert models._hf_cache_snapshots() == [("tester/m", old)]  # refs/main names the old one
    (cache / "models--tester--m" / "refs" / "main").unlink()
    assert models._hf_cache_snapshots() == [("tester/m", new)]  # no ref: the newest


def test_pending_download_is_not_listed_until_finished(env, tiny_gpt2):
    _, cache = env
    snapshot = put_in_hf_cache(cache, "tester/pulling", tiny_gpt2, ref=False)
    marker = downloads._marker_path(cache, "tester/pulling")
    marker.parent.mkdir(parents=True)
    downloads._write_json(marker, {"repo_id": "tester/pulling", "commit": "a" * 40, "cache": str(cache),
                                   "snapshot": str(snapshot), "started": time.time()})
    assert downloads.pending_snapshots(cache) == {snapshot}
    assert downloads.pending_snapshots(cache / "elsewhere") == set()  # another cache's download
    assert [d["repo_id"] for d in downloads.pending()] == ["tester/pulling"]
    assert "tester/pulling" not in {m.ref for m in models.discover()}
    marker.unlink()
    assert "tester/pulling" in {m.ref for m in models.discover()}


def test_damaged_download_marker_is_ignored(env):
    _, cache = env
    folder = settings.home() / "downloads"
    folder.mkdir()
    (folder / "cut.json").write_text('{"repo_id": "x/y", "snap')
    (folder / "list.json").write_text("[1, 2]")
    assert downloads.pending() == []
    assert downloads.pending_snapshots(cache) == set()


def test_dot_names_are_work_in_progress_and_skipped(env, tmp_path):
    fake_sd(models.library_dir() / ".importing-x-123")
    fake_sd(tmp_path / "proj" / "models" / ".half")
    fake_sd(tmp_path / "proj" / "models" / "whole")
    assert [m.ref for m in models.discover(tmp_path / "proj") if m.source != "starter"] == ["project:whole"]
    assert [m for m in models.discover(tmp_path / "no-project") if m.source != "starter"] == []


def test_starters_are_listed_and_cannot_be_removed(env, tmp_path, monkeypatch):
    monkeypatch.setattr(models, "RESOURCES", tmp_path / "resources")
    fake_sd(tmp_path / "resources" / "models" / "diffusion" / "tiny")
    starter = by_ref(models.discover())["starter:diffusion/tiny"]
    assert (starter.source, starter.family, starter.engines) == ("starter", "sd1", ("diffusion",))
    with pytest.raises(ModelError, match="starter model that ships"):
        models.plan_removal("starter:diffusion/tiny")
    assert starter.path.is_dir()


def test_list_models_for_an_engine(env, tmp_path, tiny_gpt2):
    from engines import registry

    fake_sd(models.library_dir() / "sd")
    write_safetensors(tmp_path / "ckpts" / "c.safetensors", ["model.diffusion_model.x"])
    write_safetensors(tmp_path / "ckpts" / "l.safetensors", ["lora_unet_x"])
    settings.add_model_folder(tmp_path / "ckpts")
    put_in_hf_cache(env[1], "tester/gpt2", tiny_gpt2)
    diffusion = {m["path"].rsplit("/", 1)[-1]: m for m in models.list_models(registry.get("diffusion"))
                 if m["source"] != "starter"}
    assert set(diffusion) == {"sd", "c.safetensors"}  # a LoRA is no model to load on its own
    lm = [m["ref"] for m in models.list_models(registry.get("causal-lm")) if m["source"] != "starter"]
    assert lm == ["tester/gpt2"]


# -- settings ------------------------------------------------------------------------------------

def test_settings_round_trip(env, tmp_path, monkeypatch):
    home, _ = env
    assert settings.load() == settings.DEFAULTS
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings.set_offline(True)
    folder = tmp_path / "mine"
    folder.mkdir()
    settings.add_model_folder(folder)
    settings.add_model_folder(folder)  # twice: listed once
    assert json.loads((home / "settings.json").read_text()) == {"offline": True, "model_folders": [str(folder)],
                                                                 "threads": 0}
    assert settings.offline() is True and settings.model_folders() == [folder]
    settings.remove_model_folder(folder)
    settings.set_offline(False)
    assert settings.load() == {"offline": False, "model_folders": [], "threads": 0} and settings.offline() is False
    with pytest.raises(ValueError, match="not a folder"):
        settings.add_model_folder(tmp_path / "missing")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "", '{"offline": "yes", "model_folders": "abc"}',
                                  '{"threads": true}', '{"threads": 2.5}', '{"threads": "4"}'])
def test_damaged_settings_read_as_defaults(env, monkeypatch, text):
    home, _ = env
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    (home / "settings.json").write_text(text)
    assert settings.load() == settings.DEFAULTS
    assert settings.offline() is False and settings.model_folders() == [] and settings.threads() == 0
    settings.set_offline(True)  # and saving over it works
    assert settings.load()["offline"] is True


def test_threads_setting_is_a_whole_number_from_zero_for_automatic(env):
    home, _ = env
    assert settings.threads() == 0
    settings.set_threads(3)
    assert settings.threads() == 3 and json.loads((home / "settings.json").read_text())["threads"] == 3
    for bad in (-1, settings.THREADS_MAX + 1, 2.0, True, "4"):
        with pytest.raises(ValueError, match="whole number from 0"):
            settings.set_threads(bad)
    assert settings.threads() == 3
    (home / "settings.json").write_text('{"threads": -5}')  # hand-edited out of range: automatic
    assert settings.threads() == 0


def test_unknown_keys_in_file_are_dropped_and_unknown_setting_raises(env):
    home, _ = env
    (home / "settings.json").write_text('{"offline": true, "theme": "dark"}')
    assert settings.load() == {"offline": True, "model_folders": [], "threads": 0}
    with pytest.raises(ValueError, match="unknown setting 'theme'"):
        settings.save({"theme": "light"})


@pytest.mark.parametrize("value,expected", [("1", True), ("ON", True), ("true", True), ("0", False),
                                            ("no", False), ("", None), (None, None)])
def test_offline_obeys_hf_hub_offline(env, monkeypatch, value, expected):
    settings.set_offline(True)
    if value is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
    # Set (non-empty), the variable decides; unset or empty, the preference does.
    assert settings.offline() is (True if expected is None else expected)


# -- import and remove ---------------------------------------------------------------------------

def test_import_copies_a_folder_leaving_pickles_out(env, tmp_path, tiny_gpt2):
    src = tmp_path / "src" / "gpt"
    shutil.copytree(tiny_gpt2, src)
    (src / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    info = models.import_model(src)
    dest = models.library_dir() / "gpt"
    assert info.path == dest and info.source == "library" and not info.linked
    assert info.engines == ("causal-lm",) and info.ref == str(dest.resolve())
    assert not (dest / "pytorch_model.bin").exists() and (dest / "model.safetensors").is_file()
    assert (src / "pytorch_model.bin").exists()  # the source is left as it was
    assert not [p for p in models.library_dir().iterdir() if p.name.startswith(".")]
    assert by_ref(models.discover())[info.ref].kind == "model"
    with pytest.raises(ModelError, match="already in"):
        models.import_model(src)
    assert models.import_model(src, name="gpt-b").name == "gpt-b"


def test_import_link_and_into_project(env, tmp_path):
    f = write_safetensors(tmp_path / "dream.safetensors", ["model.diffusion_model.x"])
    linked = models.import_model(f, link=True)
    assert linked.linked and (models.library_dir() / "dream.safetensors").is_symlink()
    assert linked.kind == "checkpoint" and linked.ref == str(f.resolve())
    project = tmp_path / "proj"
    info = models.import_model(f, project_root=project)
    assert info.ref == "project:dream.safetensors" and (project / "models" / "dream.safetensors").is_file()
    assert not (project / "models" / "dream.safetensors").is_symlink()
    assert models.resolve(info.ref, type("E", (), {"name": "diffusion"}), project).path.is_file()


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth"])
def test_import_refuses_pickles_with_the_way_out(env, tmp_path, suffix):
    f = tmp_path / f"model{suffix}"
    f.write_bytes(b"\x80\x04pickle")
    with pytest.raises(ModelError, match=r"pickle.*models convert"):
        models.import_model(f)
    assert not models.library_dir().exists() or not any(models.library_dir().iterdir())


def test_import_refuses_bad_input(env, tmp_path):
    with pytest.raises(ModelError, match="nothing to import"):
        models.import_model(tmp_path / "missing.safetensors")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match="not a model file"):
        models.import_model(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="no .safetensors"):
        models.import_model(tmp_path / "empty")
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="only pickle weights"):
        models.import_model(tmp_path / "pickled")


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ".."])
def test_import_refuses_names_that_would_not_be_listed(env, tmp_path, name):
    f = write_safetensors(tmp_path / "dream.safetensors", ["model.diffusion_model.x"])
    with pytest.raises(ModelError, match="name"):
        models.import_model(f, name=name)
    assert not (tmp_path / "escape").exists() and not (env[0] / "escape").exists()


def test_remove_library_copy_and_link(env, tmp_path, tiny_gpt2):
    copy = models.import_model(tiny_gpt2)
    plan = models.plan_removal(copy.ref)
    assert plan.paths == (copy.path,) and plan.size_bytes == copy.size_bytes > 0 and plan.used_by == 0
    assert models.remove(plan) == copy.size_bytes and not copy.path.exists()
    assert tiny_gpt2.is_dir()
    f = write_safetensors(tmp_path / "x.safetensors", ["lora_unet_x"])
    link = models.import_model(f, link=True)
    plan = models.plan_removal(str(models.library_dir() / "x.safetensors"))
    assert plan.size_bytes == 0  # a link frees nothing
    models.remove(plan)
    assert not (models.library_dir() / "x.safetensors").is_symlink() and f.is_file()  # the file itself stays
    assert link.ref not in by_ref(models.discover())


def test_remove_hf_cache_repo_counts_blobs_once(env, tiny_gpt2):
    _, cache = env
    put_in_hf_cache(cache, "tester/gpt2", tiny_gpt2, commit="1" * 40)
    put_in_hf_cache(cache, "tester/gpt2", tiny_gpt2, commit="2" * 40, ref=False)  # same blobs
    plan = models.plan_removal("tester/gpt2")
    assert plan.paths == (cache / "models--tester--gpt2",)
    weights = sum(p.stat().st_size for p in tiny_gpt2.rglob("*") if p.is_file())
    assert plan.size_bytes == weights + 40  # each blob once, and refs/main
    assert json.loads(json.dumps(plan.to_dict()))["model"]["ref"] == "tester/gpt2"
    models.remove(plan)
    assert not (cache / "models--tester--gpt2").exists()


def test_remove_refuses_user_folders_unknown_and_used_models(env, tmp_path):
    f = write_safetensors(tmp_path / "mine" / "c.safetensors", ["model.diffusion_model.x"])
    settings.add_model_folder(tmp_path / "mine")
    with pytest.raises(ModelError, match="your own model folder"):
        models.plan_removal(str(f))
    assert f.is_file()
    with pytest.raises(ModelError, match="no model"):
        models.plan_removal("nobody/nothing")
    info = models.import_model(write_safetensors(tmp_path / "used.safetensors", ["model.diffusion_model.x"]))

    class Project:  # what plan_removal asks of the open studio Project
        root = tmp_path / "proj"

        def values(self, column):
            assert column == "model"
            return [info.ref, "other"]

        def query(self, model, include_trashed):
            assert model == [info.ref] and include_trashed
            return ["gen1", "gen2"]

    plan = models.plan_removal(info.ref, Project())
    assert plan.used_by == 2
    with pytest.raises(ModelError, match="used by 2 generation"):
        models.remove(plan)
    assert info.path.is_file()
    models.remove(plan, force=True)
    assert not info.path.exists()


# -- downloads: what needs no network ------------------------------------------------------------

def test_select_files_keeps_what_engines_load():
    listing = ["model_index.json", "v1-5-pruned.safetensors", "v1-5-pruned.ckpt", "unet/config.json",
               "unet/diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors",
               "unet/diffusion_pytorch_model.bin", "text_encoder/model.onnx", "onnx/unet/model.safetensors",
               "flax_model.msgpack", "README.md", ".gitattributes", "tokenizer/vocab.json", "sample.png"]
    keep, skip = downloads.select_files(listing)
    assert keep == ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                    "README.md", "tokenizer/vocab.json"]
    assert sorted(keep + skip) == sorted(listing)
    keep, _ = downloads.select_files(["config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"])
    assert keep == ["config.json", "model.safetensors", "tokenizer.json"]  # no model_index: top-level weights stay


def test_offline_mode_refuses_to_download_before_any_network_call(env, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("network call in offline mode")

    monkeypatch.setattr(downloads, "_api", no_network)
    with pytest.raises(downloads.DownloadError, match="offline mode is on.*HF_HUB_OFFLINE"):
        downloads.pull("tester/x")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings.set_offline(True)
    with pytest.raises(downloads.DownloadError, match="offline mode is on.*preferences"):
        downloads.plan("tester/x")
    assert downloads.pending() == []


def test_recommended_list_is_well_formed():
    rows = downloads.recommended()
    assert rows and all(r["repo_id"].count("/") == 1 and r["size_bytes"] > 0 for r in rows)
    assert {r["engine"] for r in downloads.recommended("diffusion")} == {"diffusion"}
    from engines import registry

    assert {r["engine"] for r in rows} <= set(registry.names())


def test_human_size():
    assert downloads.human_size(512) == "512 B"
    assert downloads.human_size(1_500_000) == "1.5 MB"
    assert downloads.human_size(2.4e12) == "2.4 TB"


# -- downloads against a fake Hub on 127.0.0.1 ---------------------------------------------------

def test_pull_from_a_fake_hub(online, tiny_gpt2):
    _, cache = online
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        the_plan = downloads.plan("tester/gpt2", endpoint=hub.endpoint)
        assert the_plan.commit == hub.commit and the_plan.skipped == ("pytorch_model.bin",)
        assert the_plan.licence == "mit"
        assert the_plan.total_bytes == sum(p.stat().st_size for p in tiny_gpt2.iterdir())
        seen = []
        snapshot = downloads.pull("tester/gpt2", endpoint=hub.endpoint, on_progress=seen.append)
    assert snapshot == cache / "models--tester--gpt2" / "snapshots" / hub.commit
    assert (cache / "models--tester--gpt2" / "refs" / "main").read_text() == hub.commit
    assert (snapshot / "model.safetensors").is_symlink()
    assert (snapshot / "model.safetensors").read_bytes() == (tiny_gpt2 / "model.safetensors").read_bytes()
    assert not (snapshot / "pytorch_model.bin").exists()
    assert seen[-1].done_bytes == seen[-1].total_bytes == the_plan.total_bytes
    assert downloads.pending() == []
    found = by_ref(models.discover())["tester/gpt2"]
    assert found.engines == ("causal-lm",) and found.source == "huggingface"
    assert downloads.fits("causal-lm", snapshot) and not downloads.fits("diffusion", snapshot)


def test_cancelled_pull_is_not_listed_and_resumes(online, tiny_gpt2):
    _, cache = online
    files = gpt2_files(tiny_gpt2)
    files = {"model.safetensors": files.pop("model.safetensors"), **files}  # fetched first
    with FakeHub("tester/gpt2", files) as hub:
        with pytest.raises(downloads.Cancelled):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint, cancelled=lambda: True)
        assert [d["repo_id"] for d in downloads.pending()] == ["tester/gpt2"]
        assert "tester/gpt2" not in {m.ref for m in models.discover()}
        [partial] = (cache / "models--tester--gpt2" / "blobs").glob("*.incomplete")
        half = len(files["model.safetensors"]) // 2
        partial.write_bytes(files["model.safetensors"][:half])  # as if the connection had been cut halfway
        assert hub.ranges == []
        seen = []
        snapshot = downloads.pull("tester/gpt2", endpoint=hub.endpoint, on_progress=seen.append)
        assert hub.ranges == [f"bytes={half}-"]  # resumed where it stopped, not started over
        assert seen[0].done_bytes >= half
    assert downloads.pending() == [] and "tester/gpt2" in {m.ref for m in models.discover()}
    assert (snapshot / "model.safetensors").read_bytes() == (tiny_gpt2 / "model.safetensors").read_bytes()


def test_corrupted_file_is_deleted_and_reported(online, tiny_gpt2):
    _, cache = online
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        good = hub.served["model.safetensors"]
        hub.served["model.safetensors"] = bytes(len(good))  # right size, wrong bytes
        with pytest.raises(downloads.DownloadError, match="corrupted"):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint)
        blobs = cache / "models--tester--gpt2" / "blobs"
        assert not (blobs / hashlib.sha256(good).hexdigest()).exists()
        assert not list(blobs.glob("*.incomplete"))
        assert "tester/gpt2" not in {m.ref for m in models.discover()}
        with pytest.raises(downloads.DownloadError, match="no model tester/other"):
            downloads.plan("tester/other", endpoint=hub.endpoint)


def test_discard_forgets_an_unfinished_download(online, tiny_gpt2):
    _, cache = online
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        calls = iter(range(10_000))
        # Cancel partway: some files done and linked, one partial.
        with pytest.raises(downloads.Cancelled):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint, cancelled=lambda: next(calls) > 3)
    partials = list((cache / "models--tester--gpt2" / "blobs").glob("*.incomplete"))
    assert partials
    repo = cache / "models--tester--gpt2"
    on_disk = sum(p.stat().st_size for p in repo.rglob("*") if p.is_file() and not p.is_symlink())
    freed = downloads.discard("tester/gpt2")
    assert freed == on_disk > 0
    assert not repo.exists()  # nothing else was in that repo: all of it goes
    assert downloads.pending() == []
    assert not list((cache / "models--tester--gpt2").rglob("*.incomplete"))
    # Forgotten means gone from the lists too, not shown as a model with files missing.
    assert "tester/gpt2" not in {m.ref for m in models.discover()}


def test_download_manager_events(online, tiny_gpt2):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        manager = downloads.DownloadManager(endpoint=hub.endpoint)
        events, done = [], threading.Event()

        def on_event(e):
            events.append(e)
            if e.kind in ("finished", "failed", "cancelled") and e.job_id == 2:
                done.set()

        manager.subscribe(on_event)
        first = manager.submit("tester/gpt2")
        second = manager.submit("tester/missing")
        assert done.wait(20)
        manager.shutdown()
    kinds = {(e.job_id, e.kind) for e in events}
    assert {(first, "queued"), (first, "started"), (first, "finished"), (second, "failed")} <= kinds
    failed = next(e for e in events if e.kind == "failed")
    assert "no model tester/missing" in failed.error
    assert any(e.kind == "progress" and e.progress[0] == e.progress[1] for e in events if e.job_id == first)


def test_discard_keeps_the_finished_revision(online, tiny_gpt2):
    _, cache = online
    files = gpt2_files(tiny_gpt2)
    with FakeHub("tester/gpt2", files) as hub:
        old = downloads.pull("tester/gpt2", endpoint=hub.endpoint)
    # The next revision: config.json unchanged (its blob shared), then new weights.
    newer = {"config.json": files["config.json"], "model.safetensors": files["model.safetensors"] + b"\0" * 8}
    calls = iter(range(1000))
    with FakeHub("tester/gpt2", newer, commit="d" * 40) as hub:
        with pytest.raises(downloads.Cancelled):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint, cancelled=lambda: next(calls) >= 1)
    pending = cache / "models--tester--gpt2" / "snapshots" / ("d" * 40)
    assert (pending / "config.json").is_symlink() and not (pending / "model.safetensors").exists()
    assert downloads.discard("tester/gpt2") > 0
    assert not pending.exists()
    assert not list((cache / "models--tester--gpt2" / "blobs").glob("*.incomplete"))
    assert by_ref(models.discover())["tester/gpt2"].path == old
    assert (old / "model.safetensors").read_bytes() == files["model.safetensors"]  # its blobs are kept
    assert all((old / f).is_file() for f in files if f != "pytorch_model.bin")


def test_unreachable_hub_and_full_disk_say_what_to_do(online, tiny_gpt2, monkeypatch):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        endpoint = hub.endpoint
    with pytest.raises(downloads.DownloadError, match="cannot reach .*check your network"):
        downloads.plan("tester/gpt2", endpoint=endpoint)  # the server is gone
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        monkeypatch.setattr(downloads.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
        with pytest.raises(downloads.DownloadError, match="not enough disk space"):
            downloads.pull("tester/gpt2", endpoint=hub.endpoint)
    assert downloads.pending() == [] and not any(m.ref == "tester/gpt2" for m in models.discover())
