"""The console: schedules, runs with their logs, dead letters and results in a browser,
and Prometheus metrics, served by ``localbridge run`` (or ``localbridge console``).

Sits beside ``lambda_api``: imports the runtime, the ledger, the schedules and
the shared vocabulary; ``cli`` imports it. One role per module:

- ``server``: the HTTP server (standard library, threads) and server-sent events;
- ``app``: routes a request to a page, its JSON twin, ``/metrics``, a static
  file or an action;
- ``guard``: protection of actions against cross-site requests;
- ``actions``: invoke (at a time, with a payload), replay, pause, resume,
  redrive, purge;
- ``views``: what each page shows, as data; ``render``: as HTML, through the
  Jinja2 templates in ``templates/`` (autoescaped) and the files in ``static/``;
- ``charts``: charts laid out on the server, drawn as SVG by a template macro;
- ``numbers``: any value a job posted, as text and (when it can be) as a float;
- ``results``: the results API read into a series per metric;
- ``metrics``: the Prometheus registry of this process;
- ``sources``: the runtime (``run``) or only a ledger (``console``) behind it all;
- ``service``: the console as a service of ``run``, or on its own.
"""

# Here rather than in ``server``, so the command line can name them without
# importing an HTTP server.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
