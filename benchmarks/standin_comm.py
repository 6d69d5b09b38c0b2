"""A stand-in for a kernel's comm, for the benchmarks that time what a widget sends.

Widgets made while :func:`serializing_comms` is active get a :class:`SerializingComm`: each
message is encoded as the kernel would (the state as JSON, arrays and pictures as binary
buffers apart) and counted, and nothing is sent. So a benchmark times a move up to the point
where the message would leave for the browser, and can read how many messages and bytes it
caused (:data:`SENT`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import comm

__all__ = ["SENT", "SerializingComm", "serializing_comms"]

#: The size in bytes (JSON + buffers) of every message sent since the benchmark last cleared it.
SENT: list[int] = []


class SerializingComm:
    """A comm that encodes each message as a kernel session would, counts it, and sends nothing."""

    comm_id = "bench"
    kernel = "bench"  # ipywidgets sends only through a comm that has a kernel

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def open(self, *args: object, **kwargs: object) -> None:
        pass

    def on_msg(self, *args: object, **kwargs: object) -> None:
        pass

    def close(self, *args: object, **kwargs: object) -> None:
        pass

    def send(self, data: dict | None = None, metadata: object = None, buffers=None) -> None:
        text = json.dumps(data, default=str, allow_nan=False, separators=(",", ":"))
        # a buffer that could not be sent fails here, as it would in a kernel
        size = sum(memoryview(buffer).cast("B").nbytes for buffer in buffers or ())
        SENT.append(len(text.encode()) + size)


@contextlib.contextmanager
def serializing_comms() -> Iterator[None]:
    """Every widget made inside gets a :class:`SerializingComm`."""
    original, comm.create_comm = comm.create_comm, SerializingComm
    try:
        yield
    finally:
        comm.create_comm = original
