"""Running one invocation of a handler the way Lambda's Python runtime does.

Two ``Invoker`` implementations: ``thread`` (the handler runs in the calling
thread) and ``process`` (warm worker processes, one Lambda execution
environment each). A worker is split in its parent side (``worker_handle``)
and its child side (``worker_main``, standard library only). ``handlers``
imports and calls a handler string; ``output`` captures what it prints;
``trace_env`` puts each run's trace id in the environment in constant memory.
Every error is worded by ``localbridge.lambda_errors``. Imports only the
shared vocabulary (``model``, ``events``, ``lambda_errors``, ``launch``), which
is standard library only, so a worker process imports nothing more.
"""
