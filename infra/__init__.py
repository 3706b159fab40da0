"""Deploy scripts: LocalStack (docker compose), AWS (chalice), the local dev runner."""
