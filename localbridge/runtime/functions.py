"""The runtime's record of a function: its spec and its anchored schedule.

``FunctionSpec`` (``localbridge.model``) is what the project deploys; a
``Function`` adds the ``Schedule`` the runtime anchored for it (a rate counts
from when its rule was first seen, which only the ledger knows). It lives
here, not in ``model``, because the shared vocabulary sits below ``schedules``.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbridge.model import FunctionSettings, FunctionSpec
from localbridge.schedules import Schedule


@dataclass(frozen=True)
class Function:
    """A scheduled function with everything the runtime needs to fire and run it."""

    spec: FunctionSpec
    schedule: Schedule

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def settings(self) -> FunctionSettings:
        return self.spec.settings


class UnknownFunctionError(KeyError):
    """No scheduled function of that name."""

    def __str__(self) -> str:
        return str(self.args[0])
