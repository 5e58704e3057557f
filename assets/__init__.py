"""What the program ships: the trained checkpoint, demo recordings, screenshot."""
