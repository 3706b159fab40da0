"""The one exception type jobs raise for a data source they cannot use."""

from __future__ import annotations


class RegistrationsError(RuntimeError):
    """The registrations DB is missing, unreadable or lacks the expected table.

    The message names the DB (as configured in ``REGISTRATIONS_DB``) and the problem.
    """
