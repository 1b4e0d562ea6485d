"""The cross-language conformance fixtures (Tests/fixtures/conformance, written by
Tests/fixtures/make_fixtures.c): the frames of frames.bin, applied in order to a fresh replica of
schema.bin, must reproduce expected.txt line by line, as in the C, Swift and Rust suites."""

from __future__ import annotations

import pathlib
import struct

import podsync

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "Tests" / "fixtures" / "conformance"


def test_replica_reproduces_the_expected_lines() -> None:
    frames = (FIXTURES / "frames.bin").read_bytes()
    expected = (FIXTURES / "expected.txt").read_text().splitlines()
    offset = deliveries = finals = 0
    with podsync.Replica((FIXTURES / "schema.bin").read_bytes()) as replica:
        for line in expected:
            if line.startswith("#"):
                continue
            words = line.split()
            if words[0] == "delivery":
                (length,) = struct.unpack_from("<Q", frames, offset + 16)
                frame = frames[offset : offset + length]
                offset += length
                result = replica.apply(frame)
                assert f"PODSYNC_{result.name}" == words[2], line
                assert replica.version == int(words[3]), line
                assert replica.digest() == int(words[4], 16), line
                deliveries += 1
            elif words[0] == "final":
                assert replica.version == int(words[1])
                assert replica.digest() == int(words[2], 16)
                assert replica.count(1) == int(words[3])
                assert replica.count(7) == int(words[4])
                finals += 1
    assert deliveries > 0 and finals == 1
    assert offset == len(frames), "every frame of frames.bin was applied"
