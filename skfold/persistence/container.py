"""The file: a safetensors container whose header is read, and checked, before any data.

Layout (``safetensors``' own): 8 bytes giving the header's length, the header (JSON: each
tensor's dtype, shape and byte range, and ``__metadata__``), then the tensors' bytes, raw and
uncompressed. skfold's ``__metadata__`` holds ``format`` (``"skfold"``), ``format_version``,
``metadata`` (JSON text: the estimator) and ``digest`` (SHA-256 over the metadata, the tensor
table and the data), so that a file altered by accident is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile

import safetensors.torch
import torch

FORMAT = "skfold"
FORMAT_VERSION = 2
#: The largest header a file may declare (the metadata's JSON, growth history included).
MAX_HEADER_BYTES = 64 * 2**20
#: Bytes per element of each dtype a skfold file may hold.
ITEM_SIZES = {"F64": 8, "F32": 4, "U8": 1, "I64": 8}
_CHUNK = 2**20


def write(destination, metadata, tensors):
    """Write ``metadata`` (JSON-ready) and ``tensors`` (name -> CPU tensor) to ``destination``,
    a path (written atomically) or a binary file object."""
    text = json.dumps(metadata, allow_nan=False, sort_keys=True)
    digest = _digest(text, {name: (_dtype(t), list(t.shape),
                                   t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
                            for name, t in tensors.items()})
    blob = safetensors.torch.save(tensors, metadata={
        "format": FORMAT, "format_version": str(FORMAT_VERSION), "metadata": text,
        "digest": digest})
    if not isinstance(destination, (str, os.PathLike)):
        destination.write(blob)
        return
    path = os.fspath(destination)
    fd, tmp = tempfile.mkstemp(prefix=".skfold-", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read(source, expected_tensors):
    """``(metadata, tensors)`` of a file; ``expected_tensors(metadata)`` gives the
    ``{name: (dtype, shape)}`` the metadata implies, checked against the header before any
    data is read. Every failure is a ``ValueError``."""
    name = source if isinstance(source, (str, os.PathLike)) else "the file object"
    with _opened(source) as f:
        head = _read_exactly(f, 8, name)
        _refuse_other_formats(head, name)
        length = int.from_bytes(head, "little")
        if length > MAX_HEADER_BYTES:
            _refuse_pickles(head, name)
            raise ValueError(f"{name!r} is not a skfold model file: it would declare a header "
                             f"of {length} bytes (at most {MAX_HEADER_BYTES}).")
        header_bytes = _read_exactly(f, length, name)
        text, digest, table = _parse_header(head, header_bytes, name)
        try:
            metadata = json.loads(text)
            expected = expected_tensors(metadata)
        except (KeyError, TypeError, IndexError, AttributeError, RecursionError,
                ValueError) as exc:
            raise ValueError(f"{name!r} is corrupt or not a skfold model file: its metadata "
                             f"could not be read ({type(exc).__name__}: {exc}).") from exc
        _check_table(table, expected, name)
        size = max((entry["data_offsets"][1] for entry in table.values()), default=0)
        body = _read_exactly(f, size, name)
        if f.read(1):
            raise ValueError(f"{name!r} has bytes after its last tensor: not a file skfold "
                             "wrote.")
    content = {key: (entry["dtype"], entry["shape"],
                     body[entry["data_offsets"][0]:entry["data_offsets"][1]])
               for key, entry in table.items()}
    if _digest(text, content) != digest:
        raise ValueError(f"{name!r} is corrupt: its content does not match its digest (the "
                         "file was altered or damaged after it was saved).")
    try:
        tensors = safetensors.torch.load(head + header_bytes + body)
    except Exception as exc:  # the library's own checks of the layout
        raise ValueError(f"{name!r} is not a valid safetensors file: {exc}") from exc
    return metadata, tensors


# --------------------------------------------------------------------------- helpers
#: safetensors' names of torch's dtypes.
_DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
                torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def _dtype(tensor):
    return _DTYPE_NAMES[tensor.dtype]


def _digest(metadata_text, content):
    """SHA-256 of the metadata and of every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(metadata_text.encode())
    for key, (dtype, shape, data) in sorted(content.items()):
        digest.update(json.dumps([key, dtype, list(shape)]).encode())
        digest.update(data)
    return digest.hexdigest()


@contextlib.contextmanager
def _opened(source):
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield f
    else:
        yield source


def _read_exactly(f, n, name):
    """``n`` bytes, read in chunks so that a file shorter than it says allocates no more than
    it holds."""
    parts, left = [], n
    while left:
        part = f.read(min(left, _CHUNK))
        if not part:
            raise ValueError(f"{name!r} is truncated or not a skfold model file: it ends "
                             f"{left} bytes before what its header declares.")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _refuse_other_formats(head, name):
    if head.startswith(b"PK\x03\x04"):
        raise ValueError(
            f"{name!r} is a zip archive: a torch.save file, or a model saved by skfold 0.1 "
            "(format version 1), which this skfold does not read because such a file cannot "
            "be checked before it is decompressed. Refusing to load it. A skfold 0.1 model "
            "has to be fitted again with this skfold (or, from a trusted source only, loaded "
            "with skfold 0.1).")



def _refuse_pickles(head, name):
    """A pickle (protocol 2 or later, as pickle, joblib and torch.save write) gets its own
    message."""
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        raise ValueError(f"{name!r} is a pickle, not a skfold model file; refusing to load it. "
                         "(Models saved with pickle or joblib must be loaded with those, and "
                         "only from a trusted source.)")


def _parse_header(head, header_bytes, name):
    try:
        header = json.loads(header_bytes)
    except (UnicodeDecodeError, ValueError) as exc:
        _refuse_pickles(head, name)
        raise ValueError(f"{name!r} is not a skfold model file (no readable header).") from exc
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{name!r} is not a skfold model file (written by skfold.save).")
    version = meta.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ValueError(f"{name!r} has format version {version!r}; this skfold reads version "
                         f"{FORMAT_VERSION} (a newer skfold may read it).")
    if not (isinstance(meta.get("metadata"), str) and isinstance(meta.get("digest"), str)):
        raise ValueError(f"{name!r} is corrupt: its header lacks the metadata or the digest.")
    table = {k: v for k, v in header.items() if k != "__metadata__"}
    return meta["metadata"], meta["digest"], table


def _check_table(table, expected, name):
    """The header's tensors are exactly the ones the metadata implies, laid out end to end."""
    if set(table) != set(expected):
        extra, missing = sorted(set(table) - set(expected)), sorted(set(expected) - set(table))
        raise ValueError(f"{name!r} is corrupt: its tensors are not the ones its model declares"
                         f" (unexpected: {extra[:5]}, missing: {missing[:5]}).")
    end = 0
    for key, entry in sorted(table.items(), key=lambda kv: _start(kv[1], name)):
        dtype, shape = expected[key]
        if not isinstance(entry, dict) or entry.get("dtype") != dtype or entry.get(
                "shape") != list(shape):
            raise ValueError(f"{name!r} is corrupt: tensor {key!r} is declared as "
                             f"{entry.get('dtype') if isinstance(entry, dict) else entry!r} "
                             f"{entry.get('shape') if isinstance(entry, dict) else ''}; the "
                             f"model needs {dtype} {list(shape)}.")
        start, stop = entry["data_offsets"]
        size = ITEM_SIZES[dtype]
        for n in shape:
            size *= n
        if start != end or stop - start != size:
            raise ValueError(f"{name!r} is corrupt: tensor {key!r}'s bytes are not where its "
                             "shape says.")
        end = stop


def _start(entry, name):
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0
                    for o in offsets) and offsets[0] <= offsets[1]):
        raise ValueError(f"{name!r} is corrupt: a tensor's byte range is malformed.")
    return offsets[0]
