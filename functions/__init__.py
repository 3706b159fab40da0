"""Scheduled metric jobs: one Chalice Blueprint per module, plus shared helpers.

Modules whose names start with ``_`` are helpers; every other module is a job
and holds a ``Blueprint``. ``find_blueprints`` imports them all, so adding a job
is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from chalice.app import Blueprint


def job_modules() -> list[str]:
    """Dotted names of the job modules in this package, sorted."""
    return sorted(
        f"{__name__}.{module.name}"
        for module in pkgutil.iter_modules(__path__)
        if not module.name.startswith("_")
    )


def find_blueprints() -> list[Blueprint]:
    """Every ``Blueprint`` defined at the top level of a job module."""
    found: list[Blueprint] = []
    for name in job_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, Blueprint) and value not in found:
                found.append(value)
    return found
