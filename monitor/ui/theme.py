"""Colours and the style sheet: a dark clinical look, with the class colours used everywhere."""

from __future__ import annotations

from model.data import CLASSES

BACKGROUND = "#0f1318"
PANEL = "#171c23"
BORDER = "#2a313b"
TEXT = "#d9dee6"
MUTED = "#8b95a3"
TRACE = "#9cc7f0"
GRID = "#222933"

SEIZURE = "#e5484d"
TUMOR = "#f0a020"
NORMAL = "#3fb950"
UNKNOWN = "#39414d"
ERROR = "#b3261e"

#: class name -> colour, in the order of model.data.CLASSES
CLASS_COLORS: dict[str, str] = {
    c: {"seizure": SEIZURE, "tumor": TUMOR, "normal": NORMAL}[c] for c in CLASSES}


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


STYLE_SHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 10pt; }}
QGroupBox {{ border: 1px solid {BORDER}; border-radius: 4px; margin-top: 14px;
             padding: 6px 6px 4px 6px; background: {PANEL}; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 4px; color: {MUTED}; }}
QGroupBox QWidget {{ background: {PANEL}; }}
QPushButton {{ background: #242b35; border: 1px solid {BORDER}; border-radius: 3px;
               padding: 4px 10px; }}
QPushButton:hover {{ background: #2e3743; }}
QPushButton:checked {{ background: #3a4656; border-color: {TRACE}; }}
QPushButton:disabled {{ color: #59616d; }}
QComboBox, QLineEdit, QDoubleSpinBox, QSpinBox {{ background: #0f1318; border: 1px solid {BORDER};
               border-radius: 3px; padding: 2px 4px; }}
QTableWidget {{ background: {PANEL}; gridline-color: {BORDER}; border: 1px solid {BORDER}; }}
QHeaderView::section {{ background: #202731; color: {MUTED}; border: none; padding: 3px; }}
QStatusBar {{ background: #141920; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ background: transparent; padding: 0 6px; }}
QSplitter::handle {{ background: {BORDER}; }}
"""
