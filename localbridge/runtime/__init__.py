"""The runtime: fire every function at its instants, durably, as EventBridge does.

Owns the loop that arms, waits on the clock and fires (``loop``, ``firing``;
its docstring follows one tick top-down) and its record of a function with
its anchored schedule (``functions``), dispatch of attempts under concurrency
limits on worker threads (``dispatch``, ``worker_threads``), settling what the runs did - the
group commit, the observers (``observers``), the run log line (``runlog``) -
in ``settle``, AWS's asynchronous retry rules (``retries``), what happens to
ticks missed while down (``catchup``), what a start finds already done and
fires next (``resume``), replay and redrive (``replay``), the
faults that stop it (``faults``: the ledger refused a write), and
putting a runtime together (``assemble``). May import the shared vocabulary, ``schedules``,
``project``, ``invokers`` and ``ledger``; never ``lambda_api`` or ``cli``.
"""
