"""Tools that drive the runtime to measure it (bench, the stream evaluation); not part of it.

Beside the commands in the layers: the runtime never imports them.
"""
