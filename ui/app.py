"""Starts the desktop app: the QApplication, a project, the main window."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from studio.project import Project, ProjectError


def default_project() -> Path:
    documents = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())
    return Path(documents) / "Assetsmith" / "Default.assetsmith"


def open_project(path: Path) -> Project | None:
    """Open `path`; on failure say why and let the user pick another folder or quit."""
    while True:
        try:
            return Project.open(path)
        except ProjectError as exc:
            box = QMessageBox(QMessageBox.Critical, "Cannot open the project", str(exc))
            choose = box.addButton("Choose another folder…", QMessageBox.AcceptRole)
            box.addButton("Quit", QMessageBox.RejectRole)
            box.exec()
            if box.clickedButton() is not choose:
                return None
            folder = QFileDialog.getExistingDirectory(None, "Open or create a project folder")
            if not folder:
                return None
            path = Path(folder)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="assetsmith", description="Open the Assetsmith window.")
    parser.add_argument("--project", type=Path, help="project folder (created when missing)")
    args, qt_args = parser.parse_known_args(argv)
    app = QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("Assetsmith")
    app.setOrganizationName("Assetsmith")
    app.setStyle("Fusion")
    from ui.gc_guard import GuiThreadGC
    from ui.main_window import MainWindow

    collector = GuiThreadGC(parent=app)
    project = open_project(args.project or default_project())
    if project is None:
        return 1
    window = MainWindow(project)
    window.show()
    # Ctrl+C in the terminal closes the window like the close button (the GC timer gives
    # Python a chance to run the handler while Qt's loop runs).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    code = app.exec()
    window.shutdown()  # however the loop ended: cancel every job, join the workers
    project.close()
    collector.stop()
    return code
