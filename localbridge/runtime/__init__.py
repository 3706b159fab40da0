"""The runtime: fire every function at its instants, durably, as EventBridge does.

Owns the loop that waits on the clock (``loop``) and its record of a
function with its anchored schedule (``functions``), dispatch of attempts
under concurrency limits (``dispatch``, on the threads of ``pool``), recording
their outcomes (``outcomes``), the run log line (``runlog``), AWS's
asynchronous retry rules (``retries``), what happens to ticks missed while
down (``catchup``), replay and redrive (``replay``), and putting a runtime
together (``assemble``). May import the shared vocabulary, ``schedules``,
``project``, ``invokers`` and ``ledger``; never ``lambda_api`` or ``cli``.
"""
