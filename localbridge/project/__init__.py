"""The Chalice project: its scheduled functions and the settings a stage gives them.

Owns reading ``.chalice/config.json`` for a stage, once per load (``config``,
with the package's one error type, ``ConfigError``), discovery (the app is
imported in a short-lived subprocess, never in the scheduler), per-function
reliability settings (``settings``), the one path that puts them together
into ``FunctionSpec``s (``loading``), and watching the sources for hot reload
(``watch``). Imports the shared vocabulary and ``schedules``; nothing that
runs functions.
"""
