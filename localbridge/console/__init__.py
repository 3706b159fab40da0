"""The console: schedules, runs with their logs, dead letters and results in a browser,
and Prometheus metrics, served by ``localbridge run`` (or ``localbridge console``).

Sits beside ``lambda_api``: imports the runtime, the ledger, the schedules and
the shared vocabulary; ``cli`` imports it. One role per module:

- ``server``: the HTTP server (standard library, threads) and server-sent events;
- ``app``: routes a request to a page, its JSON twin, ``/metrics`` or an action;
- ``guard``: protection of actions against cross-site requests;
- ``actions``: invoke, pause, resume, redrive, purge;
- ``views``: what each page shows, as data; ``pages`` and ``layout``: as HTML;
- ``charts``: SVG charts drawn on the server (nothing loaded from a network);
- ``results``: the results API read into a series per metric;
- ``metrics``: the Prometheus registry of this process;
- ``sources``: the runtime (``run``) or only a ledger (``console``) behind it all;
- ``service``: the console as a service of ``run``, or on its own.
"""

# Here rather than in ``server``, so the command line can name them without
# importing an HTTP server.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
