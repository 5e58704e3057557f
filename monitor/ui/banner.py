"""StateBanner: NORMAL / TUMOR WARNING / SEIZURE ALERT at a glance; ErrorBanner: a failure."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from monitor.ui import theme

#: state -> (title, background, foreground, flash background)
STATES = {
    "normal": ("NORMAL", "#12301c", theme.NORMAL, None),
    "tumor": ("TUMOR WARNING", theme.TUMOR, "#111111", None),
    "seizure": ("SEIZURE ALERT", theme.SEIZURE, "#ffffff", "#4a1115"),
    "seizure_ended": ("SEIZURE ALERT (ENDED)", theme.SEIZURE, "#ffffff", "#4a1115"),
    "idle": ("NO STREAM", theme.PANEL, theme.MUTED, None),
    "connecting": ("CONNECTING…", theme.PANEL, theme.MUTED, None),
    "finished": ("STOPPED", theme.PANEL, theme.MUTED, None),
    "error": ("ERROR", theme.ERROR, "#ffffff", None),
}


class StateBanner(QFrame):
    """The big state line; ``show_state`` is cheap to call every frame (it only restyles on a
    change), ``flash`` alternates the alert colours while an alarm is unacknowledged."""

    acknowledge_clicked = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setMinimumHeight(84)
        self.title = QLabel("NO STREAM")
        self.title.setObjectName("bannerTitle")
        self.detail = QLabel("")
        self.detail.setObjectName("bannerDetail")
        self.acknowledge = QPushButton("Acknowledge  [Space]")
        self.acknowledge.setObjectName("acknowledge")
        self.acknowledge.setEnabled(False)
        self.acknowledge.setMinimumHeight(44)
        self.acknowledge.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.acknowledge.clicked.connect(self.acknowledge_clicked)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        row = QHBoxLayout(self)
        row.setContentsMargins(18, 8, 18, 8)
        row.addLayout(text, 1)
        row.addWidget(self.acknowledge, 0, Qt.AlignmentFlag.AlignVCenter)
        self.state = ""
        self._flash_on = False
        self.show_state("idle", "")

    def show_state(self, state: str, detail: str, unacknowledged: bool = False) -> None:
        if state != self.state:
            self.state = state
            self.title.setText(STATES[state][0])
            self._flash_on = False
            self._restyle()
        if self.detail.text() != detail:
            self.detail.setText(detail)
        if self.acknowledge.isEnabled() != unacknowledged:
            self.acknowledge.setEnabled(unacknowledged)

    def flash(self, on: bool) -> None:
        """Alternate the background (called by the window's timer while the alarm sounds)."""
        if on != self._flash_on and STATES[self.state][3] is not None:
            self._flash_on = on
            self._restyle()

    def _restyle(self) -> None:
        _, bg, fg, flash_bg = STATES[self.state]
        if self._flash_on and flash_bg:
            bg = flash_bg
        self.setStyleSheet(
            f"QFrame#banner {{ background: {bg}; border-radius: 4px; }}"
            f"QLabel {{ background: transparent; color: {fg}; }}"
            "QLabel#bannerTitle { font-size: 26pt; font-weight: bold; letter-spacing: 2px; }"
            "QLabel#bannerDetail { font-size: 12pt; }"
            "QPushButton#acknowledge { font-size: 12pt; font-weight: bold; padding: 6px 18px;"
            " background: #ffffff; color: #8a1016; border: 2px solid #ffffff; }"
            "QPushButton#acknowledge:disabled { background: transparent; color: rgba(255,255,"
            "255,90); border: 1px solid rgba(255,255,255,60); }")


class ErrorBanner(QFrame):
    """A failure of the source or the worker, in full; hidden until one happens."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setStyleSheet(f"QFrame {{ background: {theme.ERROR}; border-radius: 4px; }}"
                           "QLabel { background: transparent; color: white; }"
                           "QPushButton { background: transparent; color: white;"
                           " border: 1px solid white; padding: 2px 10px; }")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 6)
        row.addWidget(self.label, 1)
        row.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_error(self, text: str) -> None:
        self.label.setText(text)
        self.show()
