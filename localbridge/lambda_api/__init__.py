"""The Lambda Invoke API on 127.0.0.1: what ``chalice invoke``, awscli and boto3 call.

``operation`` answers the ``Invoke`` operation with no HTTP in it; ``server``
puts it on HTTP; ``backends`` are what it runs functions with (the runtime
with its ledger and retries, or an invoker directly); ``service`` runs it
beside ``localbridge run``; ``deployed_record`` writes the
``.chalice/deployed`` file ``chalice invoke`` reads. May import ``runtime``
and everything below it; never ``cli``.
"""

# Here rather than in ``server``, so the command line can name them without
# importing the server.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001
