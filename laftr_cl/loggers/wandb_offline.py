"""Reads what a wandb run wrote offline (``wandb/offline-run-*/run-<id>.wandb``).

Current wandb releases keep an offline run's config, history and summary only in that one file
(a LevelDB-style log of protobuf ``Record`` messages) until ``wandb sync`` uploads it; the
Python reader wandb once shipped for it is gone. This module reads it with wandb's own protobuf
classes, so tests and offline comparisons can check what a run logged without any network.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Iterator

from wandb.proto import wandb_internal_pb2

_HEADER = 7  # b":W&B", a 2-byte magic, a version byte
_BLOCK = 32768
_RECORD_HEADER = 7  # crc32, length (uint16 LE), type (uint8)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _payloads(data: bytes) -> Iterator[bytes]:
    if data[:4] != b":W&B":
        raise ValueError("not a wandb run file (it does not start with ':W&B')")
    pos, pending = _HEADER, b""
    while pos + _RECORD_HEADER <= len(data):
        block_left = _BLOCK - pos % _BLOCK
        if block_left < _RECORD_HEADER:  # the rest of a block too short for a header is padding
            pos += block_left
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        pos += _RECORD_HEADER
        chunk = data[pos:pos + length]
        pos += length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""
        else:  # zero padding at the end of the file
            return


def read_offline_run(run_dir: str | Path) -> dict[str, Any]:
    """The ``id``, ``config``, ``summary``, ``history`` (list of dicts), ``tags``, ``group`` and
    ``name`` of one offline run folder (``.../wandb/offline-run-<time>-<id>``)."""
    files = list(Path(run_dir).glob("run-*.wandb"))
    if len(files) != 1:
        raise FileNotFoundError(f"{run_dir} holds {len(files)} run-*.wandb files, expected one")
    out: dict[str, Any] = {"id": "", "config": {}, "summary": {}, "history": [], "tags": [], "group": "",
                           "name": ""}
    for payload in _payloads(files[0].read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out.update(id=record.run.run_id, tags=list(record.run.tags), group=record.run.run_group,
                       name=record.run.display_name)
            _merge(out["config"], record.run.config.update)
        elif kind == "config":
            _merge(out["config"], record.config.update)
        elif kind == "summary":
            _merge(out["summary"], record.summary.update)
        elif kind == "history":
            out["history"].append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                   for item in record.history.item})
    return out


def _merge(target: dict[str, Any], items: Any) -> None:
    for item in items:
        key = item.key or "/".join(item.nested_key)
        target[key] = json.loads(item.value_json)
