"""The one way a probe process hands results to the judge: a framed file with a per-run nonce.

The judge names the file and sends the nonce on the child's stdin; the child writes the frame once,
at the end of its run:

    b"NWK1" | nonce (32 ASCII hex) | u64 length | JSON | u64 length | NPZ

The JSON carries strings only (step errors, notes); the NPZ carries the numeric outputs. `decode`
is the trusted side: it never unpickles (`allow_pickle=False`), accepts only boolean, integer and
floating arrays of bounded size, truncates every string and rejects anything else. Printing
to stdout or exiting early can therefore not produce a result; a frame without the right
nonce is ignored.

This module is imported on both sides, so it needs nothing but numpy and the standard library.
"""

from __future__ import annotations

import io
import json
import signal
import struct
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"NWK1"
NONCE_LENGTH = 32
MAX_FRAME_BYTES = 64 * 1024 * 1024
MAX_ARRAY_SIZE = 4_000_000
MAX_OUTPUTS = 2_000
MAX_TEXT = 400
NUMERIC_KINDS = "biuf"
# The signal the runner sends just before it kills a probe that ran out of time: the probe then
# writes every thread's stack to stderr (C-level faulthandler, so even a loop that never returns
# to Python shows), and the judge names where the student's code was stopped.
STACK_SIGNAL = signal.SIGUSR1
# The file a probe creates in its output folder once the submission is imported.
IMPORTED_MARK = "imported"


class ChannelError(ValueError):
    """A frame that is missing, malformed or not from this run."""


@dataclass
class StepError:
    """An exception a step of the probe raised, as plain strings.

    `where` is "path:line" inside the submission (relative), or "" without a student frame.
    """

    type: str
    message: str
    where: str = ""
    not_implemented: bool = False

    def describe(self) -> str:
        text = f"{self.type}: {self.message}" if self.message else self.type
        return f"{text} ({self.where})" if self.where else text


@dataclass
class ProbeOutput:
    """Everything one probe run reported: numeric outputs and the errors of failed steps."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, StepError] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ProbeOutput(arrays={len(self.arrays)}, errors={sorted(self.errors)!r})"


def _text(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def encode(output: ProbeOutput, nonce: str) -> bytes:
    """The frame for `output` (untrusted side)."""
    meta = {
        "errors": {
            name: {
                "type": error.type,
                "message": error.message,
                "where": error.where,
                "not_implemented": error.not_implemented,
            }
            for name, error in output.errors.items()
        }
    }
    meta_bytes = json.dumps(meta).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **output.arrays)
    npz = buffer.getvalue()
    return b"".join(
        [
            MAGIC,
            nonce.encode("ascii"),
            struct.pack(">Q", len(meta_bytes)),
            meta_bytes,
            struct.pack(">Q", len(npz)),
            npz,
        ]
    )


def _read_block(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 8 > len(data):
        raise ChannelError("truncated frame")
    (length,) = struct.unpack(">Q", data[offset : offset + 8])
    offset += 8
    if length > len(data) - offset:
        raise ChannelError("truncated frame")
    return data[offset : offset + length], offset + length


def decode(data: bytes, nonce: str) -> ProbeOutput:
    """Validate and unpack a frame (trusted side). Raises ChannelError on anything unexpected."""
    if len(data) > MAX_FRAME_BYTES:
        raise ChannelError("frame too large")
    head = MAGIC + nonce.encode("ascii")
    if not data.startswith(head):
        raise ChannelError("frame without this run's header")
    meta_bytes, offset = _read_block(data, len(head))
    npz, offset = _read_block(data, offset)
    if offset != len(data):
        raise ChannelError("trailing bytes after the frame")
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ChannelError(f"malformed metadata: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("errors", {}), dict):
        raise ChannelError("malformed metadata")
    output = ProbeOutput()
    for name, record in list(meta.get("errors", {}).items())[:MAX_OUTPUTS]:
        if not isinstance(record, dict):
            raise ChannelError("malformed step error")
        output.errors[_text(name)] = StepError(
            type=_text(record.get("type", "")),
            message=_text(record.get("message", "")),
            where=_text(record.get("where", "")),
            not_implemented=record.get("not_implemented") is True,
        )
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as archive:
            names = archive.files
            if len(names) > MAX_OUTPUTS:
                raise ChannelError("too many outputs")
            for name in names:
                array = archive[name]
                if not isinstance(array, np.ndarray) or type(array) is not np.ndarray:
                    raise ChannelError(f"output {name!r} is not a plain array")
                if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
                    raise ChannelError(f"output {name!r} has non-numeric dtype {array.dtype}")
                if array.size > MAX_ARRAY_SIZE:
                    raise ChannelError(f"output {name!r} is too large")
                output.arrays[_text(name)] = np.array(array, copy=True)
    except ChannelError:
        raise
    except Exception as error:  # a corrupt archive raises many kinds of errors
        raise ChannelError(f"malformed arrays: {type(error).__name__}") from None
    return output
