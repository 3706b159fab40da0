"""Generator for the registrations database (``python -m data``)."""
