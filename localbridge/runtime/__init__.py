"""The runtime: fire every function at its instants, durably, as EventBridge does.

Owns the loop that waits on the clock (``loop``), dispatch of attempts under
concurrency limits (``dispatch``), AWS's asynchronous retry rules
(``retries``), what happens to ticks missed while down (``catchup``), replay
and redrive (``replay``), and putting a runtime together (``assemble``).
Imports ``schedules``, ``project``, ``invokers`` and ``ledger``; never
``lambda_api`` or ``cli``.
"""
