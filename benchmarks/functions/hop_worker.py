"""The worker of the "bare + process hop" reference (``hop_app.py``): as little as a warm
worker process can be.

A loop over the process's stdin and stdout pipes: read a frame (a 4-byte big-endian length,
then that many bytes of JSON), decode it, call the benchmark's echo handler, encode the result
and write it back as a frame. No context object, no log capture, no deadline, no error
reporting: a bad frame ends the process, and so does end of file on stdin (the app closed the
pipe or died).

Run by ``hop_app.py`` as ``python benchmarks/functions/hop_worker.py``.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` from any cwd

from benchmarks.functions.handlers import echo

LENGTH = struct.Struct(">I")


def main() -> int:
    # Buffered: the first read of a frame fetches the whole frame in one `read` syscall.
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while len(head := stdin.read(LENGTH.size)) == LENGTH.size:
        (size,) = LENGTH.unpack(head)
        result = json.dumps(echo(json.loads(stdin.read(size)), None), separators=(",", ":"))
        reply = result.encode()
        stdout.write(LENGTH.pack(len(reply)) + reply)
        stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
