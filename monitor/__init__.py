"""The live pipeline (source -> buffer -> worker -> smoother -> alerts -> sinks) and its faces."""
