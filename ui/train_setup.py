"""The Train workspace's left column: what to train and on what, built from
engines/train/schema.py TRAINERS with no code per trainer.

Trainer choice; the base model (for a trainer whose schema takes `base`, listed for its
`base_engine`); the data folder; the model's name; the presets (studio/train_presets.py) that
fill the form; and every setting of the trainer's schema (a ParamForm per trainer, each
setting's help as its tooltip), kept per trainer across switches.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QStackedWidget, QToolButton,
    QVBoxLayout, QWidget,
)

from engines.api import ParamError
from engines.train import schema
from studio import train_presets
from ui.base_model_picker import BaseModelPicker
from ui.param_form import ParamForm
from ui.workspace import form_label, heading

TITLES = {  # how a trainer is offered; one with no entry shows as "NAME — its data"
    "gan": "GAN — sprites, icons, textures",
    "vae": "VAE — smooth variations",
    "lora-diffusion": "Diffusion LoRA — your style",
    "lora-text": "Text LoRA — your writing",
    "causal-lm": "Language model — from your text",
    "wavegan": "WaveGAN — short sound effects",
}
DATA_HINTS = {"images": "a folder of images (searched recursively)", "text": "a folder of .txt, .md or .jsonl files",
              "audio": "a folder of .wav, .flac or .ogg clips"}


def shown_params(engine: str) -> tuple:
    """The trainer's settings as the form shows them: with the trainer's own defaults (a LoRA's
    learning rate and steps), so every value it will use is visible; `base` has its own picker."""
    defaults = schema.spec(engine).defaults
    return tuple(replace(p, default=defaults[p.name]) if p.name in defaults else p
                 for p in schema.all_params(engine) if p.name != "base")


def title(engine: str) -> str:
    return TITLES.get(engine, f"{engine} — {schema.spec(engine).data}")


class TrainSetup(QWidget):
    scan_requested = Signal()
    engine_changed = Signal(str)

    def __init__(self, project_root: Path, parent: QWidget | None = None):
        super().__init__(parent)
        labels: list[QLabel] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.DontWrapRows)
        column.addLayout(form)
        column.addStretch(1)
        self.engine = QComboBox(toolTip="What to train")
        self.engine.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.engine.setMinimumContentsLength(12)
        for name in schema.TRAINERS:
            self.engine.addItem(title(name), name)
            self.engine.setItemData(self.engine.count() - 1, f"{name}: learns from {schema.spec(name).data}", 3)
        form.addRow(form_label("Train", labels), self.engine)
        self.base = BaseModelPicker(project_root)
        self.base_label = form_label("Base model", labels)
        form.addRow(self.base_label, self.base)
        self.folder = QLineEdit()
        browse = QPushButton("Browse…", toolTip="Choose the folder to learn from")
        browse.clicked.connect(self._browse)
        self.scan_button = QToolButton(text="Scan", toolTip="Check the folder: what is kept, skipped and why")
        self.scan_button.clicked.connect(self.scan_requested)
        self.folder.returnPressed.connect(self.scan_requested)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        row.addWidget(self.scan_button)
        form.addRow(form_label("Data", labels), row)
        self.name = QLineEdit(placeholderText="e.g. sprites: the model becomes project:sprites")
        form.addRow(form_label("Model name", labels), self.name)
        self.preset_buttons: dict[str, QPushButton] = {}
        presets = QHBoxLayout()
        for preset in train_presets.NAMES:
            button = QPushButton(preset.capitalize())
            button.clicked.connect(lambda _=False, p=preset: self.apply_preset(p))
            self.preset_buttons[preset] = button
            presets.addWidget(button)
        form.addRow(form_label("Preset", labels), presets)
        # One form per trainer, without `base` (the picker above holds it).
        self.forms = {name: ParamForm(shown_params(name)) for name in schema.TRAINERS}
        self.form_stack = QStackedWidget()
        for params in self.forms.values():
            self.form_stack.addWidget(params)
        form.addRow(heading("Settings"))
        form.addRow(self.form_stack)
        all_labels = labels + [label for params in self.forms.values() for label in params.labels]
        width = max(label.sizeHint().width() for label in all_labels)
        for label in all_labels:
            label.setMinimumWidth(width)
        self.engine.currentIndexChanged.connect(self._engine_chosen)
        self._engine_chosen()

    # -- the trainer ----------------------------------------------------------------------
    def engine_name(self) -> str:
        return self.engine.itemData(self.engine.currentIndex())

    def set_engine(self, engine: str) -> None:
        self.engine.setCurrentIndex(self.engine.findData(engine))

    def params(self) -> ParamForm:
        return self.forms[self.engine_name()]

    def takes_base(self) -> bool:
        return any(p.name == "base" for p in schema.all_params(self.engine_name()))

    def _engine_chosen(self) -> None:
        engine = self.engine_name()
        self.form_stack.setCurrentWidget(self.forms[engine])
        spec = schema.spec(engine)
        self.base.setVisible(self.takes_base())
        self.base_label.setVisible(self.takes_base())
        if self.takes_base():  # a LoRA's base is of the engine it adapts; a causal-lm's, of its own
            self.base.set_engine(spec.base_engine or spec.engine)
        self.folder.setPlaceholderText(DATA_HINTS.get(spec.data, "the data folder"))
        for preset, values in train_presets.presets(engine).items():
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
            self.preset_buttons[preset].setToolTip(f"{train_presets.HELP[preset]}\n{shown}")
        self.engine_changed.emit(engine)

    # -- values ---------------------------------------------------------------------------
    def values(self) -> dict:
        """The run's parameters as set (ParamError, shown under the form, when one is bad)."""
        params = self.params().values()
        if self.takes_base() and self.base.value():
            params["base"] = self.base.value()
        return params

    def apply_preset(self, preset: str) -> None:
        """Fill the form with a preset; what it does not set stays as it was."""
        for key, value in train_presets.presets(self.engine_name())[preset].items():
            self.params().set_value(key, value)

    def apply_run(self, engine: str, params: dict, data: str, name: str = "") -> list[str]:
        """The settings of an earlier run, to repeat it; returns what could not be used."""
        self.set_engine(engine)
        form = self.forms[engine]
        for p in shown_params(engine):  # back to the defaults first: a run lists only what it set
            form.set_value(p.name, p.default)
        skipped = []
        for key, value in params.items():
            if key == "base":
                self.base.set_value(str(value))
                continue
            try:
                form.set_value(key, value)
            except (KeyError, StopIteration, TypeError, ValueError, ParamError):
                skipped.append(key)
        self.folder.setText(data)
        self.name.setText(name)
        return skipped

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the folder to learn from", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.scan_requested.emit()
