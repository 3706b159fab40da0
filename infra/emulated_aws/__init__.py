"""An emulated AWS on 127.0.0.1:4566 without Docker: moto as the control plane,
localbridge as the data plane.

The path of one deploy and one scheduled time T:
``chalice deploy`` (``AWS_ENDPOINT_URL=http://127.0.0.1:4566``) creates the
role, the functions and the schedule rules in moto, running in this process
(``router`` sends every request but Lambda ``Invoke`` to moto). The
``engine``'s watcher reads moto's backends directly (``moto_state``), unpacks
each deployed zip once per CodeSha256 (``packages``) and gives localbridge's
``Runtime`` one ``FunctionSpec`` per scheduled function, with the deployed
handler, environment, timeout and memory. At T the runtime records the tick
in its ledger and runs the handler in a warm worker process whose task root
is the unpacked package, never the working tree; the output goes to the
function's CloudWatch log group in moto (``logs_sink``). ``chalice invoke``
reaches the same runtime through the router's Invoke route.

Imports moto (only here, never in ``localbridge``) and localbridge's public
parts: the runtime, the process invoker, the ledger, the Invoke operation.
"""
