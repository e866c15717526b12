"""Starts the desktop app: the QApplication, a project, the main window."""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QApplication

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
            from PySide6.QtWidgets import QFileDialog, QMessageBox  # dialogs: imported when one opens

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


def start_project(settings) -> Path:
    """The last project opened, when it is still there; else the default one."""
    from ui.main_window import recent_projects

    for path in recent_projects(settings):
        if (Path(path) / "project.db").is_file():
            return Path(path)
    return default_project()


def screenshot_and_quit(window, path: Path) -> None:
    """The time since the process started on stdout, the window saved as a PNG, then quit."""
    painted = time.time()  # before psutil's import, which is the measurement's, not the start's
    import psutil

    print(f"first paint {painted - psutil.Process().create_time():.3f} s after the process started", flush=True)
    if not window.grab().save(str(path)):
        print(f"could not save {path}", file=sys.stderr)
    window.close()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="assetsmith", description="Open the Assetsmith window.")
    parser.add_argument("--project", type=Path, help="project folder (created when missing)")
    parser.add_argument("--tab", help="the tab to show first (Image, Text, Gallery …)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="save a picture of the window once it is painted, print how long the start "
                             "took, and quit (for docs, checks and the startup benchmark)")
    args, qt_args = parser.parse_known_args(argv)
    # Fusion as a Qt option, not setStyle(): the QStyle that setStyle() returns would be wrapped
    # for Python, and making its enums (several hundred names) is 8 ms of the start. Qt reads
    # options in order, so a `-style` the user gives still wins.
    app = QApplication([sys.argv[0], "-style", "Fusion", *qt_args])
    app.setApplicationName("Assetsmith")
    app.setOrganizationName("Assetsmith")
    from PySide6.QtCore import QSettings

    from ui import theme
    from ui.gc_guard import GuiThreadGC
    from ui.main_window import MainWindow
    from ui.widgets import AfterFirstPaint

    settings = QSettings()
    theme.apply(app, settings.value("theme", "system"))
    theme.follow_system(app, lambda: QSettings().value("theme", "system"))
    collector = GuiThreadGC(parent=app)
    project = open_project(args.project or start_project(settings))
    if project is None:
        return 1
    state = {"window": None, "project": project}

    def show(project: Project) -> None:
        window = MainWindow(project)
        window.project_requested.connect(switch)
        state["window"], state["project"] = window, project
        if args.tab:
            window.show_tab(args.tab)
        if args.screenshot:
            AfterFirstPaint(window, lambda: screenshot_and_quit(window, args.screenshot))
        window.show()

    def switch(path: str) -> None:
        """Another project: the old window closes (asking if work runs), then the new opens."""
        old_window, old_project = state["window"], state["project"]
        if not old_window.close():
            return
        new = open_project(Path(path))
        old_project.close()
        if new is None:
            app.quit()
            return
        show(new)

    app.setQuitOnLastWindowClosed(False)  # a project switch closes the window before the next opens
    app.lastWindowClosed.connect(lambda: state["window"].isVisible() or app.quit())
    show(project)
    # Ctrl+C in the terminal closes the window like the close button (the GC timer gives
    # Python a chance to run the handler while Qt's loop runs).
    signal.signal(signal.SIGINT, lambda *_: state["window"].close())
    code = app.exec()
    state["window"].shutdown()  # however the loop ended: cancel every job, join the workers
    state["project"].close()
    collector.stop()
    return code
