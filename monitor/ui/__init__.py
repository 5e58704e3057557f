"""The desktop dashboard."""
