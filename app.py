"""The Chalice app: every Blueprint found in ``functions/`` is registered.

Chalice requires a module-level ``app`` here; everything else (settings, DB,
HTTP session) is created per invocation inside the jobs.
"""

from chalice.app import Chalice

from functions import find_blueprints


def create_app() -> Chalice:
    app = Chalice(app_name="metric-jobs")
    for blueprint in find_blueprints():
        app.register_blueprint(blueprint)
    return app


app = create_app()
