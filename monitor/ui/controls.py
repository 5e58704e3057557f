"""ControlPanel: choose the source, start / stop, replay speed, alert thresholds and smoothing
(applied live), and the display (freeze, trace scale)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from monitor import launch
from monitor.launch import SourceSpec
from monitor.settings import AlertSettings, ClassRule
from monitor.sources import LSLSource, Source
from monitor.ui import theme
from monitor.ui.finder import StreamChoice
from monitor.ui.traces import FIXED_SCALES_UV

DEMO, RECORDINGS = 0, 1  # the fixed entries of the source list; LSL streams follow


@dataclass(frozen=True)
class SourceRequest:
    """What the user asked to monitor; ``build_source`` turns it into a Source."""

    kind: str  # "demo", "recordings" or "lsl"
    path: Path | None = None
    scenario: str = ""
    speed: float = 1.0
    loop: bool = False
    stream: StreamChoice | None = None

    @property
    def label(self) -> str:
        if self.kind == "lsl" and self.stream is not None:
            return self.stream.label
        return "demo replay" if self.kind == "demo" else str(self.path)


def build_source(req: SourceRequest) -> Source:
    """Reads recordings (slow for a large CSV: call it off the GUI thread). Raises the
    command line's errors (UsageError, DataError, FileNotFoundError) with their messages."""
    if req.kind == "lsl":
        s = req.stream
        return LSLSource(s.name, None, s.source_id or None, s.hostname or None, timeout=10.0)
    path = req.path
    if req.kind == "recordings" and path is None:
        raise FileNotFoundError("choose a CSV file, a Bonn folder or an EEG file to replay.")
    is_csv = path is not None and path.suffix.lower() == ".csv"
    return launch.build_source(SourceSpec(
        csv=path if is_csv else None,
        bonn=path if path is not None and path.is_dir() else None,
        file=path if path is not None and not is_csv and not path.is_dir() else None,
        scenario=req.scenario.strip() or None, speed=req.speed, loop=req.loop))


def _spin(value: float, lo: float, hi: float, step: float, suffix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)
    return box


class ControlPanel(QWidget):
    start_requested = pyqtSignal(object)  # SourceRequest
    stop_requested = pyqtSignal()
    alerts_changed = pyqtSignal(object, float)  # AlertSettings, smoothing seconds
    freeze_toggled = pyqtSignal(bool)
    scale_changed = pyqtSignal(bool, float)  # auto, microvolts per lane

    def __init__(self, alerts: AlertSettings, smoothing_s: float, parent=None):
        super().__init__(parent)
        self._alerts = alerts
        self._streams: list[StreamChoice] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._source_group())
        layout.addWidget(self._alert_group(alerts, smoothing_s))
        layout.addWidget(self._display_group())

    # -- source ---------------------------------------------------------------------------
    def _source_group(self) -> QGroupBox:
        box = QGroupBox("Source")
        form = QVBoxLayout(box)
        self.source = QComboBox()
        self.source.addItems(["Demo scenario (bundled recordings)",
                              "Recordings: CSV, Bonn folder or EEG file"])
        # LSL stream labels are long: they must not widen the panel
        self.source.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(24)
        self.source.currentIndexChanged.connect(self._source_kind_changed)
        form.addWidget(self.source)
        self.found = QLabel("LSL streams: searching…")
        self.found.setStyleSheet(f"color: {theme.MUTED};")
        form.addWidget(self.found)
        path_row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("recordings to replay")
        pick_file = QPushButton("File…")
        pick_file.clicked.connect(self._pick_file)
        pick_dir = QPushButton("Folder…")
        pick_dir.clicked.connect(self._pick_dir)
        path_row.addWidget(self.path, 1)
        path_row.addWidget(pick_file)
        path_row.addWidget(pick_dir)
        self._path_row = QWidget()
        self._path_row.setLayout(path_row)
        path_row.setContentsMargins(0, 0, 0, 0)
        form.addWidget(self._path_row)
        replay = QFormLayout()
        self.scenario = QLineEdit()
        self.scenario.setPlaceholderText("e.g. normal,tumor,seizure (empty: all)")
        replay.addRow("scenario", self.scenario)
        speed_row = QHBoxLayout()
        self.speed = _spin(1.0, 0.0, 100.0, 1.0, " ×")
        self.speed.setDecimals(1)
        self.speed.setSpecialValueText("max")
        self.loop = QCheckBox("loop")
        speed_row.addWidget(self.speed, 1)
        speed_row.addWidget(self.loop)
        replay.addRow("replay speed", speed_row)
        self._replay_rows = QWidget()
        self._replay_rows.setLayout(replay)
        replay.setContentsMargins(0, 0, 0, 0)
        form.addWidget(self._replay_rows)
        buttons = QHBoxLayout()
        self.start = QPushButton("Start")
        self.start.clicked.connect(lambda: self.start_requested.emit(self.request()))
        self.stop = QPushButton("Stop")
        self.stop.clicked.connect(self.stop_requested)
        buttons.addWidget(self.start)
        buttons.addWidget(self.stop)
        form.addLayout(buttons)
        self._source_kind_changed(DEMO)
        return box

    def _source_kind_changed(self, index: int) -> None:
        self._path_row.setVisible(index == RECORDINGS)
        self._replay_rows.setVisible(index in (DEMO, RECORDINGS))

    def _pick_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Recordings to replay", "",
                                              "EEG recordings (*.csv *.edf *.bdf *.fif *.set "
                                              "*.vhdr *.txt);;All files (*)")
        if name:
            self.path.setText(name)

    def _pick_dir(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Bonn folder (Z, O, N, F, S inside)")
        if name:
            self.path.setText(name)

    def request(self) -> SourceRequest:
        i = self.source.currentIndex()
        if i >= 2:
            return SourceRequest("lsl", stream=self._streams[i - 2])
        path = Path(self.path.text().strip()).expanduser() if self.path.text().strip() else None
        return SourceRequest("demo" if i == DEMO else "recordings", path,
                             self.scenario.text(), self.speed.value(), self.loop.isChecked())

    def show_request(self, req: SourceRequest) -> None:
        """Reflect the source the window started with (from the command line)."""
        if req.kind == "lsl" and req.stream is not None:
            self.set_streams(sorted(set(self._streams) | {req.stream}, key=lambda s: s.label))
            self.source.setCurrentIndex(2 + self._streams.index(req.stream))
        else:
            self.source.setCurrentIndex(DEMO if req.kind == "demo" else RECORDINGS)
            self.path.setText(str(req.path or ""))
        self.scenario.setText(req.scenario)
        self.speed.setValue(req.speed)
        self.loop.setChecked(req.loop)

    def set_streams(self, streams: list[StreamChoice]) -> None:
        """The LSL streams now on the network (the finder's list), keeping the selection."""
        self.found.setText(f"LSL streams: {len(streams)} found" if streams else
                           "LSL streams: none found (still looking)")
        if streams == self._streams:
            return
        chosen = self.request().stream if self.source.currentIndex() >= 2 else None
        self.source.blockSignals(True)
        while self.source.count() > 2:
            self.source.removeItem(2)
        self._streams = list(streams)
        if chosen is not None and chosen not in self._streams:
            self._streams.append(chosen)  # keep what the user picked, even if it went away
        for s in self._streams:
            self.source.addItem(s.label)
        if chosen is not None:
            self.source.setCurrentIndex(2 + self._streams.index(chosen))
        self.source.blockSignals(False)

    def set_running(self, running: bool) -> None:
        self.stop.setEnabled(running)
        self.start.setText("Restart" if running else "Start")

    # -- alerts ---------------------------------------------------------------------------
    def _alert_group(self, alerts: AlertSettings, smoothing_s: float) -> QGroupBox:
        box = QGroupBox("Alerts (applied live)")
        form = QFormLayout(box)
        self._rule_boxes: dict[str, tuple[QDoubleSpinBox, QDoubleSpinBox]] = {}
        for cls, title in (("seizure", "seizure alert"), ("tumor", "tumor warning")):
            rule: ClassRule = getattr(alerts, cls)
            on, off = _spin(rule.on, 0.01, 1.0, 0.05), _spin(rule.off, 0.01, 1.0, 0.05)
            row = QHBoxLayout()
            row.addWidget(QLabel("on ≥"))
            row.addWidget(on, 1)
            row.addWidget(QLabel("off <"))
            row.addWidget(off, 1)
            label = QLabel(title)
            label.setStyleSheet(f"color: {theme.CLASS_COLORS[cls]};")
            form.addRow(label, row)
            self._rule_boxes[cls] = (on, off)
            on.valueChanged.connect(self._alerts_edited)
            off.valueChanged.connect(self._alerts_edited)
        self.smoothing = _spin(smoothing_s, 0.0, 30.0, 0.25, " s")
        self.smoothing.valueChanged.connect(self._alerts_edited)
        form.addRow("smoothing", self.smoothing)
        self.alert_problem = QLabel("")
        self.alert_problem.setStyleSheet(f"color: {theme.SEIZURE};")
        self.alert_problem.setWordWrap(True)
        self.alert_problem.hide()
        form.addRow(self.alert_problem)
        return box

    def _alerts_edited(self) -> None:
        try:
            alerts = self._alerts
            for cls, (on, off) in self._rule_boxes.items():
                alerts = replace(alerts, **{cls: replace(getattr(alerts, cls), on=on.value(),
                                                         off=off.value())})
        except ValueError as exc:
            self.alert_problem.setText(f"Not applied: {exc}.")
            self.alert_problem.show()
            return
        self.alert_problem.hide()
        self._alerts = alerts
        self.alerts_changed.emit(alerts, self.smoothing.value())

    # -- display --------------------------------------------------------------------------
    def _display_group(self) -> QGroupBox:
        box = QGroupBox("Display")
        row = QHBoxLayout(box)
        self.freeze = QPushButton("Freeze  [P]")
        self.freeze.setCheckable(True)
        self.freeze.toggled.connect(self.freeze_toggled)
        self.scale = QComboBox()
        self.scale.addItem("auto scale  [A]")
        for uv in FIXED_SCALES_UV:
            self.scale.addItem(f"{uv:g} µV / lane")
        self.scale.currentIndexChanged.connect(self._scale_chosen)
        row.addWidget(self.freeze)
        row.addWidget(self.scale, 1)
        hint = QLabel("+ / − scale")
        hint.setStyleSheet(f"color: {theme.MUTED};")
        row.addWidget(hint)
        return box

    def _scale_chosen(self, index: int) -> None:
        if index == 0:
            self.scale_changed.emit(True, 0.0)
        else:
            self.scale_changed.emit(False, FIXED_SCALES_UV[index - 1])

    def show_scale(self, auto: bool, uv: float) -> None:
        """Reflect a scale set by a key, without emitting again."""
        self.scale.blockSignals(True)
        self.scale.setCurrentIndex(0 if auto else 1 + FIXED_SCALES_UV.index(uv))
        self.scale.blockSignals(False)
