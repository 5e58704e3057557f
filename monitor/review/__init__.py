"""Looking back at a recording: reading it (this monitor's own BrainVision recordings, any file
mne reads, LabRecorder's XDF), the model pass where it holds no predictions, reviewers'
labels, scoring against its annotations, and the HTML report. No Qt here: the review window
is in ``monitor.ui.review_window``."""
