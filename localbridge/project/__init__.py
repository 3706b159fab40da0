"""The Chalice project: its scheduled functions and the settings a stage gives them.

Owns discovery (the app is imported in a short-lived subprocess, never in the
scheduler), reading ``.chalice/config.json`` for a stage, per-function
reliability settings, and watching the sources for hot reload. Imports the
shared vocabulary and ``schedules``; nothing that runs functions.
"""
