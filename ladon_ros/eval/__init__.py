"""The rate-accuracy study (``ladon-ros eval``): metrics, runs, report."""
