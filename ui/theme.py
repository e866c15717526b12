"""Light and dark themes: "system" follows the desktop's colour scheme as it changes."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

CHOICES = ("system", "light", "dark")


def is_dark(choice: str) -> bool:
    if choice == "system":
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    return choice == "dark"


def apply(app: QApplication, choice: str) -> None:
    """A dark palette of our own; for light, the desktop's colours when following the system
    (an empty palette resolves to them, or to Fusion's own where the desktop has none), and
    Fusion's own when light is chosen (even on a dark desktop)."""
    if is_dark(choice):
        app.setPalette(dark_palette())
    elif choice == "system":
        app.setPalette(QPalette())  # no QStyle wrapper: 8 ms of the window's start
    else:
        app.setPalette(app.style().standardPalette())


def follow_system(app: QApplication, current_choice) -> None:
    """Re-apply when the desktop switches scheme, while the choice is "system"."""
    def changed(*_):
        if current_choice() == "system":
            apply(app, "system")

    QGuiApplication.styleHints().colorSchemeChanged.connect(changed)


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(223, 225, 229)
    for group in (QPalette.Active, QPalette.Inactive):
        p.setColor(group, QPalette.Window, window)
        p.setColor(group, QPalette.WindowText, text)
        p.setColor(group, QPalette.Base, base)
        p.setColor(group, QPalette.AlternateBase, window)
        p.setColor(group, QPalette.ToolTipBase, window)
        p.setColor(group, QPalette.ToolTipText, text)
        p.setColor(group, QPalette.PlaceholderText, QColor(130, 133, 138))
        p.setColor(group, QPalette.Text, text)
        p.setColor(group, QPalette.Button, window)
        p.setColor(group, QPalette.ButtonText, text)
        p.setColor(group, QPalette.BrightText, QColor(255, 90, 90))
        p.setColor(group, QPalette.Highlight, QColor(53, 116, 240))
        p.setColor(group, QPalette.HighlightedText, QColor(255, 255, 255))
        p.setColor(group, QPalette.Link, QColor(90, 160, 255))
    disabled = QColor(120, 122, 126)
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, disabled)
    p.setColor(QPalette.Disabled, QPalette.Base, window)
    p.setColor(QPalette.Disabled, QPalette.Button, window)
    p.setColor(QPalette.Disabled, QPalette.Window, window)
    return p
