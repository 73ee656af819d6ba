"""Probes as data: suite files and the loader that expands them."""
