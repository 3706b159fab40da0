"""The results API: a small FastAPI service storing metric results in SQLite."""
