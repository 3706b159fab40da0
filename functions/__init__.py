"""Scheduled metric jobs: one Chalice Blueprint per module, plus shared helpers."""
