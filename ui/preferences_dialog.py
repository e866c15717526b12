"""Preferences the core keeps (studio.settings), so the CLI sees the same: the CPU thread count
that generations and training use unless a recipe or a run says otherwise."""
from __future__ import annotations

import os

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QMessageBox, QSpinBox, QVBoxLayout

from studio import settings

THREADS_SHOWN_MAX = 256  # the spin box's top; settings.json takes up to settings.THREADS_MAX


class PreferencesDialog(QDialog):
    def __init__(self, automatic_threads: int | None = None, parent=None):
        super().__init__(parent, windowTitle="Preferences")
        self.threads = QSpinBox(minimum=0, maximum=THREADS_SHOWN_MAX)
        automatic = f"{automatic_threads} here" if automatic_threads else "the physical cores"
        self.threads.setSpecialValueText(f"Automatic ({automatic})")
        self.threads.setValue(min(settings.threads(), THREADS_SHOWN_MAX))
        self.threads.setToolTip("Also `assetsmith threads N|auto`: the window and the command line share it")
        note = QLabel(
            "On the CPU the thread count changes the bits of a result. Every recipe records the count "
            f"it was made with, and a re-make uses that one. This machine has {os.cpu_count()} logical cores; "
            "fewer threads leave the others to the window and other programs.",
            wordWrap=True)
        form = QFormLayout()
        form.addRow("CPU threads:", self.threads)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def accept(self) -> None:
        try:
            settings.set_threads(self.threads.value())
        except settings.SettingsError as exc:  # a full disk or a read-only home: say so, keep the dialog open
            QMessageBox.warning(self, "Cannot save the preferences", f"{exc}, then press OK again.")
            return
        super().accept()
