"""Entry point of a worker process: ``python -m lockgate.worker``.

Imports the handler once, answers ``ready`` (or ``init_error``), then serves one invocation
at a time until its control pipe closes. Configuration comes from the environment the
gateway sets: ``LOCKGATE_HANDLER``, ``LOCKGATE_CODE_DIR``, ``LOCKGATE_LOG_LIMIT`` and the
``AWS_LAMBDA_*`` variables Lambda itself sets.
"""

from __future__ import annotations

import os
import sys

from lockgate.worker.runtime import serve


def main() -> int:
    # The control channel moves off fds 0/1 first, so the handler's own prints cannot
    # corrupt it; fds 1/2 then become the capture pipe and 0 reads nothing.
    control_in = os.dup(0)
    control_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return serve(control_in, control_out, os.environ)


if __name__ == "__main__":
    sys.exit(main())
