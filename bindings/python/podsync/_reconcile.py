"""Reconciliation of two stores of one process (library 0.7.0): :func:`podsync.reconcile`."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import U32_MAX, ApplyResult, ArgumentTypeError, InternalError, Status, checked_int
from ._frames import peek
from ._store import Frame, Store


@dataclass(frozen=True)
class ReconcileResult:
    """What one reconciliation (:func:`podsync.reconcile`) exchanged and did."""

    #: summary messages exchanged, both ways (the replica's first summary included)
    messages: int
    #: bytes of those messages
    summary_bytes: int
    #: bytes of the repair frame (0 when the responder had nothing to repair)
    repair_bytes: int
    #: a repair frame was applied to the replica
    repaired: bool
    #: what :meth:`Store.apply` returned for the repair (``ApplyResult.OK``), None without one
    result: ApplyResult | None

    @property
    def total_bytes(self) -> int:
        """Everything that crossed between the two stores: summaries plus repair."""
        return self.summary_bytes + self.repair_bytes


def reconcile(replica: Store, responder: Store, *, level: int = 0, max_messages: int = 32) -> ReconcileResult:
    """Runs a whole reconciliation between two stores of this process (library 0.7.0): heals
    `replica` (diverged, below the catch-up floor, restored from an old checkpoint, of another
    term, or simply behind) from `responder` (the writer, or an up-to-date replica) with a repair
    frame holding only the records of the hash-tree buckets in which they differ, then returns a
    :class:`ReconcileResult`. Afterwards the replica holds the responder's state (as of its last
    flush) at its version, follows its stream and term, is no longer diverged, and continues with
    the responder's deltas. Stores that already agree exchange one summary and nothing else
    (``repaired`` False).

    It is the loop a host runs across processes, where the host carries the messages (any
    transport; each message holds all the exchange needs, so a lost one is sent again or the
    exchange started over)::

        (message,) = replica.summary()                 # replica side
        while True:
            answer = responder.reconcile(message)      # responder side: [], [summary] or [repair]
            if not answer:
                break                                  # nothing to repair
            if podsync.peek(answer[0]).is_repair:
                replica.apply(answer[0])               # replica side: the responder's state
                break
            (message,) = replica.reconcile(answer[0])  # replica side: descend one level

    `level` is the first summary's (:meth:`Store.summary`; 0: chosen from the record count).
    Messages stay in the stores' outboxes (no copies); this call releases them before returning,
    and, as any producing call, it invalidates frames either store handed out before.

    Raises what the calls raise: :class:`Diverged` if the responder is diverged or out of sync,
    :class:`WrongRole` if `replica` is a writer (a writer is never repaired),
    :class:`ViewsAliveError` if the replica's records are viewed, or, for a relay, those of one of
    its feeds (the repair cannot be applied; nothing changed), :class:`DigestMismatch` if the
    repair did not bring the replica to the responder's digest (it is then diverged: run it
    again, or fall back to a snapshot); :class:`InternalError` if the exchange does not end
    within `max_messages` messages."""
    for name, store in (("replica", replica), ("responder", responder)):
        if not isinstance(store, Store):
            raise ArgumentTypeError(f"{name} must be a podsync.Store, got {type(store).__name__}", call="reconcile")
    limit = checked_int("max_messages", max_messages, 1, U32_MAX)
    messages = summary_bytes = 0
    held: list[Frame] = []  # every message and frame produced, released at the end
    try:
        out = replica.summary(level)
        held += out
        (message,) = out
        while True:
            messages += 1
            summary_bytes += len(message)
            answer = responder.reconcile(message)
            held += answer
            if not answer:
                return ReconcileResult(messages, summary_bytes, 0, False, None)
            (frame,) = answer
            info = peek(frame)
            if info.is_repair:
                result = replica.apply(frame)
                return ReconcileResult(messages, summary_bytes, len(frame), True, result)
            if not info.is_summary:
                raise InternalError(
                    Status.E_INTERNAL, f"the responder answered a frame of flags {info.flags:#x}", call="reconcile"
                )
            if messages >= limit:
                raise InternalError(
                    Status.E_INTERNAL, f"the reconciliation did not end within {limit} messages", call="reconcile"
                )
            messages += 1
            summary_bytes += len(frame)
            out = replica.reconcile(frame)
            held += out
            (message,) = out
    finally:
        for view in held:
            if isinstance(view, memoryview):
                try:
                    view.release()
                except BufferError:  # pragma: no cover - nothing here keeps a buffer of them
                    pass
