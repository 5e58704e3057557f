"""Recorded EEG as a live stream: scenarios, pacing, LSL publishing."""
