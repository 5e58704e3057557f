"""HealthStatusBar: where the data come from and how the pipeline keeps up; red while the
stream is lost or the pipeline has failed."""

from __future__ import annotations

from PyQt6.QtWidgets import QLabel, QSizePolicy, QStatusBar

from monitor.ui import theme

#: field -> what it says (its tooltip)
FIELDS = {
    "source": "source name · source_id · hostname",
    "rate": "sampling rate: declared by the source (measured over the last 5 s)",
    "channels": "EEG channels classified / channels in the stream",
    "device": "where the model runs",
    "infer": "inference time of the last batch (all channels of one window)",
    "latency": "end to end: from the newest sample's timestamp to its result (live LSL only)",
    "buffer": "ring buffer fill",
    "skipped": "windows skipped so far to stay real time",
    "record": "the recording (Record button): its file and size so far",
    "health": "stream health",
}


class HealthStatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.message = QLabel("")
        # the message may be long: it is cut, never widening the window
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message.setStyleSheet(f"color: {theme.MUTED};")
        self.addWidget(self.message, 1)
        self.labels: dict[str, QLabel] = {}
        for name, tip in FIELDS.items():
            label = QLabel("")
            label.setObjectName(name)
            label.setToolTip(tip)
            self.labels[name] = label
            self.addPermanentWidget(label)
        self.health = ""
        self.set_health("idle", "no stream")

    def set_fields(self, **texts: str) -> None:
        for name, text in texts.items():
            label = self.labels[name]
            if label.text() != text:
                label.setText(text)

    def set_message(self, text: str) -> None:
        first = text.splitlines()[0] if text else ""
        if self.message.text() != first:
            self.message.setText(first)
            self.message.setToolTip(text)

    def set_health(self, health: str, text: str) -> None:
        """``health``: ok, recovered, lost, error, idle or finished."""
        self.set_fields(health=text)
        if health == self.health:
            return
        self.health = health
        if health in ("lost", "error"):
            self.setStyleSheet(f"QStatusBar {{ background: {theme.ERROR}; }}"
                               "QLabel { color: white; font-weight: bold; }")
        else:
            color = {"ok": theme.NORMAL, "recovered": theme.NORMAL}.get(health, theme.MUTED)
            self.setStyleSheet(f"QLabel#health {{ color: {color}; font-weight: bold; }}")
