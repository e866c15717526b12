"""The gallery and the queue panel on a real project made with the tiny Stable Diffusion and
GPT-2 models: filters, favorites, tags, trash, re-make, export; the queue's order and cancel."""
import pytest
from PySide6.QtWidgets import QMessageBox

from studio.cli import main
from studio.project import Project
from ui.gc_guard import GuiThreadGC
from ui.main_window import MainWindow


@pytest.fixture(scope="module")
def made(tmp_path_factory, tiny_sd, tiny_gpt2):
    """A project with three image generations (one of two outputs) and one text generation."""
    root = tmp_path_factory.mktemp("gallery") / "G"
    for prompt, seed, count in (("red potion", 1, 2), ("blue sword", 2, 1), ("green shield", 3, 1)):
        assert main(["generate", "--engine", "diffusion", "--model", str(tiny_sd), "--prompt", prompt, "--seed",
                     str(seed), "--count", str(count), "--param", "num_steps=2", "--param", "width=64",
                     "--param", "height=64", "--project", str(root)]) == 0
    assert main(["generate", "--engine", "causal-lm", "--model", str(tiny_gpt2), "--prompt", "potion names",
                 "--seed", "4", "--param", "max_new_tokens=8", "--project", str(root)]) == 0
    return root


@pytest.fixture
def window(qtbot, made, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Ok)  # no modal dialogs in tests
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    collector = GuiThreadGC()
    project = Project.open(made)
    main_window = MainWindow(project)
    qtbot.addWidget(main_window)
    main_window.show()
    yield main_window
    main_window.close()
    project.close()
    collector.stop()


def test_filters_find_outputs(qtbot, window):
    gallery = window.gallery
    window.tabs.setCurrentWidget(gallery)
    assert gallery.model.rowCount() == 5
    gallery.search.setText("POTION")  # case-insensitive, both modalities
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 3)
    gallery.modality.setCurrentIndex(gallery.modality.findData("text"))
    assert gallery.model.rowCount() == 1
    gallery.search.clear()
    gallery.modality.setCurrentIndex(gallery.modality.findData("image"))
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 4)
    assert gallery.engine.findData("diffusion") >= 0 and gallery.engine.findData("causal-lm") >= 0
    labels = {gallery.model.index(row).data() for row in range(gallery.model.rowCount())}
    assert labels == {"red potion", "blue sword", "green shield"}  # a cell names what it shows


def test_favorite_tag_trash_and_restore(qtbot, window):
    gallery, project = window.gallery, window.project
    gallery.select_row(0)
    first = gallery.current()
    gallery.toggle_favorite()
    assert project.output(first.id).favorite
    gallery.add_tag("hero")
    assert project.output(first.id).tags == ["hero"]
    gallery.favorites.setChecked(True)
    assert gallery.model.rowCount() == 1 and gallery.model.record(0).id == first.id
    gallery.favorites.setChecked(False)
    gallery.tag.setText("hero")
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 1)
    gallery.tag.clear()
    qtbot.waitUntil(lambda: gallery.model.rowCount() == 5)
    gallery.select_row(0)
    gallery.delete_selected()
    assert gallery.model.rowCount() == 4 and project.output(first.id).trashed
    assert first.path.is_file()  # the trash keeps the file until it is emptied
    project.restore(first.id)
    project.set_favorite(first.id, False)
    project.remove_tag(first.id, "hero")
    gallery.refresh()
    assert gallery.model.rowCount() == 5


def test_remake_says_identical_and_links_the_parent(qtbot, window):
    gallery = window.gallery
    gallery.modality.setCurrentIndex(gallery.modality.findData("image"))
    gallery.select_row(gallery.model.rowCount() - 1)  # the oldest: red potion, seed 1
    original = gallery.current()
    with qtbot.waitSignal(gallery.remade, timeout=60000) as signal:
        assert gallery.remake() is not None
    assert signal.args == [original.id, True]
    (newest,) = window.project.query(search="red potion")[:1]
    assert newest.parent_id == original.generation_id
    assert "identical" in window.statusBar().currentMessage()


def test_export_copies_the_selected_files(qtbot, window, tmp_path):
    gallery = window.gallery
    gallery.select_row(0)
    worker = gallery.export_selected(str(tmp_path / "out"))
    with qtbot.waitSignal(worker.returned, timeout=10000):
        pass
    assert [p.name for p in (tmp_path / "out").iterdir()] == [gallery.current().path.name]


def test_queue_panel_orders_and_cancels(qtbot, window, tiny_sd):
    image = window.image
    image.model.setText(str(tiny_sd))
    image.prompt.setPlainText("a long one")
    image.params.set_value("num_steps", 200)
    ids = []
    image.submitted.connect(ids.append)
    for _ in range(3):
        assert image.generate(), window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: len(ids) == 3)  # queued in the order clicked
    queue, runner = window.queue, window.runner
    qtbot.waitUntil(lambda: runner.get(ids[0]).state == "running", timeout=30000)
    qtbot.waitUntil(lambda: queue.job_ids() == ids)
    queue.tree.clearSelection()
    queue._items[ids[2]].setSelected(True)
    queue.move_selected(-1)  # the last waiting job runs sooner
    assert [j.id for j in runner.queued()] == [ids[2], ids[1]]
    assert queue.job_ids() == [ids[0], ids[2], ids[1]]
    runner.cancel_all()
    qtbot.waitUntil(lambda: all(runner.get(i).done for i in ids), timeout=30000)
    qtbot.waitUntil(lambda: all(queue._items[i].text(2) == "cancelled" for i in ids))
    # The columns are as wide as their usual text, and stay put as texts change (measuring
    # every row again at each progress step is what they are spared).
    header, metrics = queue.tree.header(), queue.tree.fontMetrics()
    widths = [header.sectionSize(c) for c in (0, 2, 3, 4)]
    assert header.sectionSize(2) > metrics.horizontalAdvance("cancelled")
    assert header.sectionSize(3) > metrics.horizontalAdvance("200/200 · 100%")
    queue._items[ids[0]].setText(2, "failed: " + "a long reason " * 10)
    qtbot.wait(50)
    assert [header.sectionSize(c) for c in (0, 2, 3, 4)] == widths
    queue.remove_ended()
    assert queue.job_ids() == [] and queue.live() == []
