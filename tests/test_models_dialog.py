"""The Models dialog on the real core: list, filter, download with progress / cancel / resume
from the fake Hub, import, convert, remove with its warning, and the workspace's
"Get more models…" filling the model field. No modal dialog ever blocks: QMessageBox and
QFileDialog are answered by the tests."""
import json

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPushButton

import hubfake
from hubfake import FakeHub, big_safetensors, fake_sd, gpt2_files, put_in_hf_cache, write_safetensors
from studio import downloads, models, settings
from studio.jobs import JobRunner
from studio.project import Project
from ui.bridge import JobBridge
from ui.gc_guard import GuiThreadGC
from ui.models_dialog import ModelsDialog

env, online = hubfake.env, hubfake.online  # fixtures


@pytest.fixture
def boxes(monkeypatch):
    """Every message box the dialog shows, answered Yes / OK, recorded as (kind, title, text)."""
    class Shown(list):
        reply = QMessageBox.Yes  # what a question gets; tests change it

    shown = Shown()

    def answer(kind, reply=None):
        def box(parent, title, text, *a, **k):
            shown.append((kind, title, text))
            return reply if reply is not None else shown.reply
        return box

    monkeypatch.setattr(QMessageBox, "warning", answer("warning", QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "information", answer("information", QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "question", answer("question"))
    return shown


@pytest.fixture
def gc_guard():
    collector = GuiThreadGC()  # as the app does: no Qt object is collected on a worker thread
    yield
    collector.stop()


def open_dialog(qtbot, **kw) -> ModelsDialog:
    dialog = ModelsDialog(**kw)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.status.text().endswith(("found.", "resumes them.")), timeout=20000)
    return dialog


def refreshed(qtbot, dialog, action):
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        action()


def row_texts(table, row):
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_lists_searches_and_filters_by_engine(qtbot, env, tmp_path, tiny_gpt2, gc_guard):
    _, cache = env
    fake_sd(models.library_dir() / "pixel-sd")
    put_in_hf_cache(cache, "tester/tiny-gpt2", tiny_gpt2)
    have = downloads.recommended("causal-lm")[1]["repo_id"]  # one of the recommended, already here
    put_in_hf_cache(cache, have, tiny_gpt2)
    (tmp_path / "P").mkdir()
    project = Project.open(tmp_path / "P")
    write_safetensors(project.root / "models" / "mine.safetensors", ["lora_unet_x"])
    dialog = open_dialog(qtbot, project=project)

    assert set(dialog.visible_refs()) >= {"tester/tiny-gpt2", "project:mine.safetensors",
                                          str((models.library_dir() / "pixel-sd").resolve())}
    dialog.select("tester/tiny-gpt2")
    row = dialog.installed.currentRow()
    name, kind, engines, family, size, source, licence = row_texts(dialog.installed, row)
    assert (name, kind, engines, family, source) == ("tester/tiny-gpt2", "model", "causal-lm", "gpt2", "huggingface")
    assert size.endswith("KB") and licence == "—"

    dialog.search.setText("pixel")
    assert dialog.visible_refs() == [str((models.library_dir() / "pixel-sd").resolve())]
    dialog.search.clear()
    dialog.set_engine("causal-lm")
    assert sorted(r for r in dialog.visible_refs() if not r.startswith("starter:")) == sorted([have, "tester/tiny-gpt2"])
    recommended = {dialog.recommended.item(r, 1).text() for r in range(dialog.recommended.rowCount())}
    assert recommended == {"causal-lm"} and dialog.recommended.rowCount() == len(downloads.recommended("causal-lm"))
    marked = [dialog.recommended.item(r, 0).text() for r in range(dialog.recommended.rowCount())
              if "✓ downloaded" in dialog.recommended.item(r, 0).text()]
    assert marked == [f"{have}  ✓ downloaded"]
    dialog.set_engine(None)
    assert dialog.recommended.rowCount() == len(downloads.recommended())
    first = row_texts(dialog.recommended, 0)
    assert first[0] == downloads.recommended()[0]["repo_id"] and first[2].endswith("GB")
    dialog.recommended.selectRow(0)  # picking one puts it in the download field
    assert dialog.repo.text() == downloads.recommended()[0]["repo_id"] and dialog.download_button.isEnabled()
    # In tests HF_HUB_OFFLINE=1 decides: the box says so and cannot be unticked.
    assert dialog.offline.isChecked() and not dialog.offline.isEnabled()
    project.close()


def test_download_with_progress_then_use_it(qtbot, online, tiny_gpt2, boxes, gc_guard):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        dialog = open_dialog(qtbot, engine="causal-lm", choose=True, endpoint=hub.endpoint)
        seen = []
        dialog.progress.valueChanged.connect(seen.append)
        dialog.repo.setText("tester/gpt2")
        with qtbot.waitSignal(dialog.models_changed, timeout=20000):
            dialog.download_button.click()
            assert dialog.downloading() and dialog.progress.isVisible() and dialog.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: "tester/gpt2" in dialog.visible_refs(), timeout=20000)
    assert seen and seen[-1] == 1000
    assert not dialog.downloading() and not dialog.progress.isVisible() and boxes == []
    assert dialog.status.text().startswith("Downloaded tester/gpt2 to ")
    chosen = []
    dialog.model_chosen.connect(chosen.append)
    assert dialog.select("tester/gpt2") and dialog.use_button.isEnabled()
    dialog.use_button.click()
    assert chosen == ["tester/gpt2"]


def test_cancel_mid_file_then_download_again_resumes(qtbot, online, tiny_gpt2, tmp_path, boxes, gc_guard):
    _, cache = online
    files = {"model.safetensors": big_safetensors(tmp_path / "big.safetensors", 3 << 20).read_bytes(),
             "config.json": (tiny_gpt2 / "config.json").read_bytes()}
    with FakeHub("tester/big", files) as hub:
        hub.chunk_delay = 0.05
        dialog = open_dialog(qtbot, endpoint=hub.endpoint)
        assert dialog.download("tester/big")
        assert not dialog.download("tester/big")  # one at a time
        qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=20000)
        assert "/s" in dialog.progress.format() and " of " in dialog.progress.format()
        dialog.cancel_button.click()
        qtbot.waitUntil(lambda: not dialog.downloading(), timeout=20000)
        assert "cancelled; what arrived is kept: Download again to resume" in dialog.status.text()
        [partial] = (cache / "models--tester--big" / "blobs").glob("*.incomplete")
        kept = partial.stat().st_size
        assert 0 < kept < len(files["model.safetensors"])
        assert "tester/big" not in dialog.visible_refs() and boxes == []

        hub.chunk_delay = 0
        with qtbot.waitSignal(dialog.models_changed, timeout=20000):
            assert dialog.download("tester/big")
        assert hub.ranges == [f"bytes={kept}-"]
        qtbot.waitUntil(lambda: "tester/big" in dialog.visible_refs(), timeout=20000)


def test_failed_download_says_why(qtbot, online, tiny_gpt2, boxes, gc_guard):
    with FakeHub("tester/gpt2", gpt2_files(tiny_gpt2)) as hub:
        dialog = open_dialog(qtbot, endpoint=hub.endpoint)
        dialog.repo.setText("tester/nope")
        dialog.download_button.click()
        qtbot.waitUntil(lambda: bool(boxes), timeout=20000)
    [(kind, title, text)] = boxes
    assert (kind, title) == ("warning", "Download failed") and text.startswith("no model tester/nope on")
    assert dialog.status.text() == text and not dialog.downloading() and dialog.download_button.isEnabled()
    assert not dialog.download("not a repo") and "not a Hub repository id" in dialog.status.text()


def test_offline_mode_box_and_download_refused(qtbot, env, monkeypatch, boxes, gc_guard):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    dialog = open_dialog(qtbot)
    assert dialog.offline.isEnabled() and not dialog.offline.isChecked()
    dialog.offline.setChecked(True)
    assert json.loads((env[0] / "settings.json").read_text())["offline"] is True
    assert dialog.download("tester/x")
    qtbot.waitUntil(lambda: bool(boxes), timeout=20000)
    assert "offline mode is on (it is on in preferences)" in boxes[0][2]


def test_import_link_convert_and_remove(qtbot, env, tmp_path, boxes, monkeypatch, gc_guard):
    import torch

    f = write_safetensors(tmp_path / "outside" / "dream.safetensors", ["model.diffusion_model.x"])
    project = Project.open(tmp_path / "P")
    dialog = open_dialog(qtbot, project=project)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(f), ""))
    dialog.link.setChecked(True)
    refreshed(qtbot, dialog, dialog.import_file.click)
    link = models.library_dir() / "dream.safetensors"
    assert link.is_symlink() and str(f.resolve()) in dialog.visible_refs()
    dialog.select(str(f.resolve()))
    assert row_texts(dialog.installed, dialog.installed.currentRow())[5] == "library (link)"

    # The same file again: refused, with the reason in a box.
    dialog.import_file.click()
    assert boxes[-1][:2] == ("warning", "Cannot import") and "already in" in boxes[-1][2]

    # Convert a pickle: a child process, then a report.
    ckpt = tmp_path / "outside" / "old.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.w": torch.ones(2)}, "global_step": 3}, ckpt)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(ckpt), ""))
    with qtbot.waitSignal(dialog.models_changed, timeout=60000):
        dialog.convert_button.click()
    kind, title, text = boxes[-1]
    assert (kind, title) == ("information", "Converted to .safetensors")
    assert "old.safetensors: 1 tensors" in text and "global_step" in text
    assert (tmp_path / "outside" / "old.safetensors").is_file()

    # A copy used by a generation of the project: the warning names it, No keeps it.
    dialog.link.setChecked(False)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(tmp_path / "outside" / "old.safetensors"), ""))
    refreshed(qtbot, dialog, dialog.import_file.click)
    copy = models.library_dir() / "old.safetensors"
    ref = str(copy.resolve())
    recipe = {"engine": "diffusion", "model": ref, "prompt": "p", "negative_prompt": "", "seed": 1}
    writer = project.writer(recipe)
    writer.add(index=0, seed=1, kind="image", ext="png", data=b"x", recipe=recipe, content_sha256="c")
    generation = writer.finish("finished")
    assert dialog.select(ref) and dialog.remove_button.isEnabled()
    boxes.reply = QMessageBox.No
    assert dialog.remove_selected() is False and copy.is_file()
    kind, title, text = boxes[-1]
    assert (kind, title) == ("question", "Remove model")
    assert f"It frees {downloads.human_size(copy.stat().st_size)}" in text and str(copy) in text
    assert f"1 generation(s) of this project were made with it ({generation.id})" in text
    boxes.reply = QMessageBox.Yes
    with qtbot.waitSignal(dialog.listed, timeout=20000):
        assert dialog.remove_selected() is True
    assert not copy.exists() and ref not in dialog.visible_refs()
    assert "freed" in dialog.status.text()
    project.close()


def test_closing_during_a_download_asks_and_cancels(qtbot, online, tiny_gpt2, tmp_path, boxes, gc_guard):
    files = {"model.safetensors": big_safetensors(tmp_path / "big.safetensors", 3 << 20).read_bytes(),
             "config.json": (tiny_gpt2 / "config.json").read_bytes()}
    with FakeHub("tester/big", files) as hub:
        hub.chunk_delay = 0.05
        dialog = open_dialog(qtbot, endpoint=hub.endpoint)
        dialog.show()
        dialog.download("tester/big")
        qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=20000)
        boxes.reply = QMessageBox.No
        dialog.reject()
        assert dialog.isVisible() and dialog.downloading()  # No: it goes on
        boxes.reply = QMessageBox.Yes
        dialog.reject()
        assert not dialog.isVisible()
        qtbot.waitUntil(lambda: not dialog.downloading(), timeout=20000)
        assert "cancelled" in dialog.status.text()
    assert [b[1] for b in boxes] == ["Download running", "Download running"]


def test_workspace_get_more_models_fills_the_field(qtbot, env, tmp_path, gc_guard):
    from ui.workspace import Workspace

    f = write_safetensors(tmp_path / "dream.safetensors", ["model.diffusion_model.x"])
    info = models.import_model(f)
    project = Project.open(tmp_path / "P")
    runner = JobRunner()
    bridge = JobBridge(runner)
    workspace = Workspace("diffusion", project, runner, bridge)
    qtbot.addWidget(workspace)
    button = next(b for b in workspace.findChildren(QPushButton) if b.text() == "Get more models…")
    button.click()
    dialog = workspace.models_dialog
    qtbot.waitUntil(lambda: info.ref in dialog.visible_refs(), timeout=20000)
    assert dialog.engine() == "diffusion" and dialog.use_button.isVisible()
    assert all("diffusion" == dialog.recommended.item(r, 1).text() for r in range(dialog.recommended.rowCount()))
    dialog.select(info.ref)
    dialog.use_button.click()
    assert workspace.model.text() == info.ref and not dialog.isVisible()
    button.click()  # the same dialog again, still filtered to the engine
    assert workspace.models_dialog is dialog and dialog.isVisible()
    dialog.reject()
    bridge.close()
    runner.shutdown()
    project.close()


def test_main_window_models_action(qtbot, tmp_path, monkeypatch, gc_guard):
    from ui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Ok)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    project = Project.open(tmp_path / "P")
    main = MainWindow(project)
    qtbot.addWidget(main)
    [action] = [a for m in main.menuBar().actions() for a in m.menu().actions() if a.text() == "Models…"]
    assert action.shortcut().toString() == "Ctrl+M"
    action.trigger()
    dialog = main.models_dialog
    assert dialog.isVisible() and not dialog.isModal() and not dialog.use_button.isVisible()
    assert any("Ctrl+M" in keys for keys, _ in main.shortcuts)
    main.close()
    project.close()


def test_add_your_folder_lists_its_models_in_place(qtbot, env, tmp_path, gc_guard):
    comfy = tmp_path / "ComfyUI" / "models" / "checkpoints"
    ckpt = write_safetensors(comfy / "dream.safetensors", ["model.diffusion_model.x", "cond_stage_model.transformer.y"])
    dialog = open_dialog(qtbot)
    assert not dialog.add_folder(tmp_path / "nowhere") and "is not a folder" in dialog.status.text()
    refreshed(qtbot, dialog, lambda: dialog.add_folder(comfy.parent))
    assert any(ref.endswith("dream.safetensors") for ref in dialog.visible_refs())
    assert settings.model_folders() == [comfy.parent.resolve()] and ckpt.is_file()
