"""store.metrics_prometheus(): the metrics as Prometheus text (podsync_metrics_prometheus)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import podsync
from _support import entities


def samples(text: str) -> dict[str, float]:
    """{'name{labels}': value} of every sample line."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_exposition_of_a_writer_and_a_replica(writer: podsync.Writer, replica: podsync.Replica) -> None:
    writer.put_many(1, np.arange(1, 11, dtype=np.uint64), entities(np.arange(1, 11)))
    frames = writer.flush(copy=True)
    for frame in frames:
        replica.apply(frame)
    replica.apply(frames[0])  # a duplicate
    text = writer.metrics_prometheus()
    assert text.endswith("\n") and "\0" not in text
    metrics = writer.metrics()
    s = samples(text)
    assert s["podsync_frames_out_total"] == metrics["frames_out"] == len(frames)
    assert s["podsync_records_out_total"] == metrics["records_out"] == 10
    assert s["podsync_frames_out_wire_bytes_total"] == metrics["wire_bytes_out"]
    # Every metric has HELP and TYPE lines; every sample name starts with podsync_.
    names = set(re.findall(r"^# TYPE (\w+) (counter|gauge|histogram)$", text, re.MULTILINE))
    assert ("podsync_frames_out_total", "counter") in names
    assert ("podsync_encode_duration_seconds", "histogram") in names
    assert all(k.startswith("podsync_") for k in s)
    assert s['podsync_encode_duration_seconds_bucket{le="+Inf"}'] == s["podsync_encode_duration_seconds_count"] == len(frames)
    r = samples(replica.metrics_prometheus())
    assert r["podsync_frames_applied_total"] == 1
    duplicates = [v for k, v in r.items() if "duplicate" in k]  # (the exact name is the library's)
    assert duplicates == [1] and replica.metrics()["duplicates"] == 1


def test_labels(writer: podsync.Writer) -> None:
    text = writer.metrics_prometheus({"store": 'a"b\\c\nd', "role": "writer"})
    assert 'podsync_frames_out_total{store="a\\"b\\\\c\\nd",role="writer"} 0' in text
    assert writer.metrics_prometheus('store="x"').count('store="x"') == len(samples(writer.metrics_prometheus()))
    assert writer.metrics_prometheus({}) == writer.metrics_prometheus() == writer.metrics_prometheus("")
    for bad in ({"le": "1"}, {"1abc": "x"}, {"__x": "y"}, 'store="x'):
        with pytest.raises(podsync.InvalidArgument) as info:
            writer.metrics_prometheus(bad)
        assert info.value.message  # the library names what is wrong
    with pytest.raises(podsync.InvalidArgument, match="NUL"):
        writer.metrics_prometheus({"store": "a\0b"})
    with pytest.raises(podsync.ArgumentTypeError):
        writer.metrics_prometheus({"store": 1})  # type: ignore[dict-item]
    with pytest.raises(podsync.ArgumentTypeError):
        writer.metrics_prometheus(42)  # type: ignore[arg-type]
    writer.close()
    with pytest.raises(podsync.ClosedError):
        writer.metrics_prometheus()
