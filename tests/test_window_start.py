"""What the window's start is trimmed by (bench/README.md, start-up) still does what it did."""
import sys

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from ui import theme
from ui.pyside_feature import quick_feature_check


def test_the_quicker_feature_check_gives_pysides_answers():
    """PySide6 asks of each module imported after it whether its source says "PySide6"; the
    quicker check reads the file's bytes and must answer alike, for modules with and without
    Qt, a package, and one with no source file."""
    import inspect

    import json
    import studio.project
    import ui.workspace

    assert quick_feature_check() and quick_feature_check()  # in place, and once only
    feature = sys.modules["shibokensupport.feature"]
    assert feature._mod_uses_pyside.quick

    def pysides_own(module):
        try:
            return "PySide6" in inspect.getsource(module)
        except (TypeError, OSError):
            return False

    for module in (ui.workspace, studio.project, json, sys.modules["ui"], sys, sys.modules["_sqlite3"]):
        assert feature._mod_uses_pyside(module) == pysides_own(module), module.__name__
    assert feature._mod_uses_pyside(ui.workspace) and not feature._mod_uses_pyside(studio.project)


def test_themes_set_the_palette_they_name(qapp):
    """Dark: ours. Light: the style's own, even on a dark desktop. System (on a light desktop):
    the palette an application has before any is set, which is the desktop's."""
    app = QApplication.instance()
    first = QPalette(app.palette())
    try:
        theme.apply(app, "dark")
        assert app.palette().color(QPalette.Window) == theme.dark_palette().color(QPalette.Window)
        theme.apply(app, "light")
        assert app.palette() == app.style().standardPalette()
        theme.apply(app, "dark")
        theme.apply(app, "system")  # the offscreen platform has no dark scheme
        assert not theme.is_dark("system")
        assert app.palette() == first
    finally:
        app.setPalette(first)
