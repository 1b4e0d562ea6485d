"""Tables, RESULTS.md and the plot for benchmarks/suite.py (pure functions of the results dict)."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path
from typing import Any

REF = "podsync"  # ratios are to PodSync (Python) in the same case

# ---------------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------------


def ftime(s: float | None) -> str:
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.1f} µs" if s < 1e-4 else f"{s * 1e6:.0f} µs"


def fbytes(b: float | None) -> str:
    if b is None:
        return "—"
    if b >= 1e6:
        return f"{b / 1e6:.2f} MB"
    if b >= 1e3:
        return f"{b / 1e3:.1f} kB"
    return f"{b:.0f} B"


def fratio(r: float | None) -> str:
    if r is None:
        return ""
    if r >= 10:
        return f"{r:.0f}×"
    if r >= 0.1:
        return f"{r:.2f}×"
    return f"{r:.3f}×"


def med(xs: list[float] | None) -> float | None:
    return statistics.median(xs) if xs else None


def pct(xs: list[float] | None, q: float) -> float | None:
    """The q-quantile by nearest rank (an observed sample: p99 of 1,000 ticks is the 10th worst)."""
    if not xs:
        return None
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ratio(x: float | None, ref: float | None) -> float | None:
    if x is None or ref is None or ref == 0:
        return None
    return x / ref


def sums(*series: list[float] | None) -> list[float] | None:
    if any(s is None or not s for s in series):
        return None
    n = min(len(s) for s in series)  # type: ignore[arg-type]
    return [sum(s[i] for s in series) for i in range(n)]  # type: ignore[index]


def table(header: list[str], rows: list[list[str]], align: str) -> str:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------------


class Row:
    """One system's figures in one phase: medians of encode, bytes, apply, encode + apply."""

    def __init__(
        self,
        name: str,
        encode: list[float] | None,
        nbytes: float | None,
        apply: list[float] | None,
        status: str = "ok",
        check: str = "",
        reps: int | None = None,
        total: list[float] | None = None,
        note: str = "",
    ) -> None:
        self.name, self.status, self.check, self.note = name, status, check, note
        self.encode, self.bytes, self.apply = med(encode), nbytes, med(apply)
        tot = total if total is not None else sums(encode, apply)
        self.total = med(tot)
        # the worst repetition: encode + apply, or apply alone where there is no encode
        worst_of = tot if tot else (apply if encode is None else None)
        self.worst = max(worst_of) if worst_of else None
        self.reps = reps


def py_row(entry: dict[str, Any], phase: str) -> Row:
    p = entry[phase]
    status = p["status"]
    reps = len(p["total"])
    if status == "ok":
        check = p.get("check", "")
        if p.get("reason"):
            check += f" ({p['reason']})"
        return Row(entry["name"], p["encode"], med(p["bytes"]), p["apply"], "ok", check, reps, p["total"])
    if status == "not converged":
        return Row(entry["name"], None, None, None, status, f"**NO** — {p.get('check', '')}")
    return Row(entry["name"], None, None, None, status, f"{status}: {p.get('reason', '')}")


def _thousands(text: str) -> str:
    return re.sub(r"\b\d{4,}\b", lambda m: f"{int(m.group(0)):,}", text)


def c_check(c: dict[str, Any], *names: str) -> tuple[str, bool]:
    checks = [c["checks"].get(n) for n in names]
    if c.get("exit") not in (0, 3) or any(x is None for x in checks):
        return f"**NO** — C program exit {c.get('exit')}: {c.get('stderr', '')[:200]}", False
    if all(x["ok"] for x in checks):  # type: ignore[index]
        return "yes: " + _thousands(", ".join(x["detail"] for x in checks)), True  # type: ignore[index]
    return "**NO** — " + "; ".join(x["detail"] for x in checks if not x["ok"]), False  # type: ignore[index]


def c_rows(case: dict[str, Any], phase: str, level: int) -> list[Row]:
    c = case.get("c")
    if not c:
        return []
    s, v = c["series"], c["values"]
    rows: list[Row] = []
    rs = case["record_size"]
    if phase == "tick":
        chk, ok = c_check(c, "tick.podsync", "tick.podsync.digest")
        enc = sums(s.get("tick.podsync.put"), s.get("tick.podsync.flush"))
        rows.append(
            Row(
                "PodSync (C)",
                enc if ok else None,
                v.get("tick.podsync.bytes") if ok else None,
                s.get("tick.podsync.apply") if ok else None,
                "ok" if ok else "not converged",
                chk,
                len(enc or []),
            )
        )
        if "tick.podsync_zstd.put" in s:
            chk, ok = c_check(c, "tick.podsync_zstd")
            enc = sums(s.get("tick.podsync_zstd.put"), s.get("tick.podsync_zstd.flush"))
            rows.append(
                Row(
                    f"PodSync + zstd {v.get('compression_level', level):.0f} (C)",
                    enc if ok else None,
                    v.get("tick.podsync_zstd.bytes") if ok else None,
                    s.get("tick.podsync_zstd.apply") if ok else None,
                    "ok" if ok else "not converged",
                    chk,
                )
            )
        chk, ok = c_check(c, "tick.reference")
        rows.append(
            Row(
                "reference store (C): apply only",
                None,
                None,
                s.get("tick.reference.apply") if ok else None,
                "ok" if ok else "not converged",
                chk,
                total=None,
            )
        )
        chk, ok = c_check(c, "tick.floor")
        rows.append(
            Row(
                "floor: C gather + scatter memcpy",
                s.get("tick.floor.gather"),
                v.get("tick.floor.bytes"),
                s.get("tick.floor.scatter"),
                "ok" if ok else "not converged",
                chk,
            )
        )
    else:
        chk, ok = c_check(c, "snapshot.podsync", "snapshot.podsync.digest")
        rows.append(
            Row(
                "PodSync (C)",
                s.get("snapshot.podsync.encode") if ok else None,
                v.get("snapshot.podsync.bytes") if ok else None,
                s.get("snapshot.podsync.apply") if ok else None,
                "ok" if ok else "not converged",
                chk,
            )
        )
        if "snapshot.podsync_zstd.encode" in s:
            chk, ok = c_check(c, "snapshot.podsync_zstd")
            rows.append(
                Row(
                    f"PodSync + zstd {v.get('compression_level', level):.0f} (C)",
                    s.get("snapshot.podsync_zstd.encode") if ok else None,
                    v.get("snapshot.podsync_zstd.bytes") if ok else None,
                    s.get("snapshot.podsync_zstd.apply") if ok else None,
                    "ok" if ok else "not converged",
                    chk,
                )
            )
        rows.append(
            Row(
                "floor: C memcpy (touched / fresh dst)",
                s.get("memcpy.touched"),
                case["n"] * rs,
                s.get("memcpy.fresh"),
                "ok",
                "(a copy of the same bytes)",
                total=sums(s.get("memcpy.touched"), s.get("memcpy.fresh")),
            )
        )
        rows.append(
            Row(
                "reference store (C): load into empty, presized",
                None,
                None,
                s.get("bulk.reference.load"),
                "ok",
                "(bulk load of the same records)",
                total=None,
            )
        )
    return rows


def render_phase(case: dict[str, Any], phase: str, level: int) -> tuple[str, list[str]]:
    failures: list[str] = []
    entries = case["systems"]
    ref = py_row(entries[REF], phase) if REF in entries else None
    rows = [py_row(e, phase) for e in entries.values()]
    for e in entries.values():
        st = e[phase]["status"]
        if st in ("not converged", "failed"):
            failures.append(f"{case['layout']} N={case['n']} {phase}: {e['name']} {st}")
    crow = c_rows(case, phase, level)
    for r in crow:
        if r.status != "ok":
            failures.append(f"{case['layout']} N={case['n']} {phase}: {r.name} {r.status}")

    def cells(r: Row) -> list[str]:
        if r.status != "ok" and r.total is None and r.apply is None:
            return [r.name, "—", "", "—", "", "—", "", "—", "", "—", r.check]
        return [
            f"**{r.name}**" if r.name == "PodSync (Python)" else r.name,
            ftime(r.encode),
            fratio(ratio(r.encode, ref.encode if ref else None)),
            fbytes(r.bytes),
            fratio(ratio(r.bytes, ref.bytes if ref else None)),
            ftime(r.apply),
            fratio(ratio(r.apply, ref.apply if ref else None)),
            ftime(r.total),
            fratio(ratio(r.total, ref.total if ref else None)),
            ftime(r.worst),
            r.check,
        ]

    body = [cells(r) for r in rows]
    if crow:
        note = (
            "*same workload from C (benchmarks/c/suite_bench.c, same run; encode = put_many + flush of "
            "rows already gathered)*"
            if phase == "tick"
            else "*same workload from C (benchmarks/c/suite_bench.c, same run)*"
        )
        body.append([note, "", "", "", "", "", "", "", "", "", ""])
        body += [cells(r) for r in crow]
    hdr = [
        "system",
        "encode",
        "×",
        "bytes",
        "×",
        "apply",
        "×",
        "encode + apply",
        "×",
        "worst",
        "replica = writer",
    ]
    reps = max((len(e[phase]["total"]) for e in entries.values()), default=0)
    k = case["tick_records"]
    if phase == "tick":
        title = (
            f"### Tick — {case['title']}: N = {case['n']:,}, {k:,} records change per tick\n\n"
            f"Median of {reps} ticks (after one warm-up tick); × = ratio to PodSync (Python) in the same "
            f"run, lower is better in every column; worst = the slowest tick's encode + apply."
        )
    else:
        title = (
            f"### Snapshot — whole state, {case['record_size']} B records, N = {case['n']:,}\n\n"
            f"Median of {reps} snapshots, each applied to a fresh replica; × = ratio to PodSync (Python); "
            f"worst = the slowest snapshot's encode + apply."
        )
    text = title + "\n\n" + table(hdr, body, "lrrrrrrrrrl")
    c = case.get("c")
    if phase == "tick" and c and "tick.podsync.delta_since" in c["series"]:
        d_time = ftime(med(c["series"]["tick.podsync.delta_since"]))
        d_bytes = fbytes(c["values"].get("tick.podsync.delta_bytes"))
        text += (
            f"\n\nPodSync (C) `delta_since(v - 1)` after a tick (a catch-up frame of those {k:,} changes): "
            f"{d_time}, {d_bytes}."
        )
    return text, failures


# ---------------------------------------------------------------------------------------------------
# Goals
# ---------------------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**MISSED**")


def find_case(results: dict[str, Any], layout: str, n: int) -> dict[str, Any] | None:
    return next((c for c in results["cases"] if c["layout"] == layout and c["n"] == n), None)


def planned_cases(results: dict[str, Any]) -> list[tuple[str, int]]:
    """The cases of the configuration (those left out by --only included), then any other run."""
    out = [(layout, int(n)) for layout, n in results["config"].get("cases", [])]
    out += [(c["layout"], c["n"]) for c in results["cases"] if (c["layout"], c["n"]) not in out]
    return out


def issue_goals(results: dict[str, Any]) -> str:
    """One row per goal of issue 15: measured in this run, target, met / MISSED / not measured."""
    level = results.get("podsync_zstd_level", 0)
    zname = f"PodSync + zstd {level}" if level else "PodSync + zstd"
    rows: list[list[str]] = []

    def add(goal: str, n: int | str, r: float | None, limit: float, detail: str, why: str = "") -> None:
        nn = f"{n:,}" if isinstance(n, int) else n
        if r is None:
            measured = f"not measured ({why})" if why else "not measured"
            rows.append([goal, nn, measured, f"≤ {limit:.2f}×", "not measured"])
        else:
            rows.append([goal, nn, f"{fratio(r)} ({detail})", f"≤ {limit:.2f}×", verdict(r <= limit)])

    def tick_of(case: dict[str, Any] | None, key: str) -> tuple[Row | None, str]:
        if case is None:
            return None, "no such case in this run"
        e = case["systems"].get(key)
        if e is None:
            nocomp = key == "podsync_zstd" and not level
            return None, f"{key} not run" + (": this library has no compression" if nocomp else "")
        r = py_row(e, "tick")
        return (r, "") if r.status == "ok" and r.bytes else (None, f"{e['name']}: {r.status}")

    # bytes a tick against the hand-written numpy encoder, every workload case
    for layout, n in planned_cases(results):
        case = find_case(results, layout, n)
        ps, why = tick_of(case, "podsync_zstd")
        nx, why2 = tick_of(case, "numpy_xor_zstd")
        r = ratio(ps.bytes, nx.bytes) if ps and nx else None
        add(
            f"bytes a tick, {layout}: {zname} (Python) / numpy XOR+shuffle+zstd-1",
            n,
            r,
            0.85,
            f"{fbytes(ps.bytes if ps else None)} / {fbytes(nx.bytes if nx else None)}",
            why or why2,
        )
    # bytes a tick against pyarrow IPC + zstd, the 40 B entity
    for layout, n in planned_cases(results):
        if layout != "entity40":
            continue
        case = find_case(results, layout, n)
        ps, why = tick_of(case, "podsync_zstd")
        ar, why2 = tick_of(case, "arrow_zstd")
        r = ratio(ps.bytes, ar.bytes) if ps and ar else None
        add(
            f"bytes a tick, entity40: {zname} (Python) / pyarrow IPC + zstd",
            n,
            r,
            0.5,
            f"{fbytes(ps.bytes if ps else None)} / {fbytes(ar.bytes if ar else None)}",
            why or why2,
        )

    def c_of(layout: str, n: int) -> tuple[dict[str, Any] | None, str]:
        case = find_case(results, layout, n)
        if case is None:
            return None, f"no {layout} N = {n:,} case in this run"
        if not case.get("c") or case["c"].get("exit") not in (0, 3):
            return None, "the C program did not run"
        return case["c"], ""

    # apply of a 1% tick from C against the reference store
    c, why = c_of("entity40", 1_000_000)
    s = c["series"] if c else {}
    ma, mr = med(s.get("tick.podsync.apply")), med(s.get("tick.reference.apply"))
    z = ratio(med(s.get("tick.podsync_zstd.apply")), mr)
    add(
        "apply of a 1% tick, entity40 (C): PodSync / reference store",
        1_000_000,
        ratio(ma, mr),
        1.25,
        f"{ftime(ma)} / {ftime(mr)}" + (f"; {zname}: {fratio(z)}" if z else ""),
        why,
    )
    # compressed flush + apply against plain, C and Python
    for layout, n in planned_cases(results):
        if n not in (100_000, 1_000_000):
            continue
        c, why = c_of(layout, n)
        s = c["series"] if c else {}
        plain = med(sums(s.get("tick.podsync.flush"), s.get("tick.podsync.apply")))
        comp = med(sums(s.get("tick.podsync_zstd.flush"), s.get("tick.podsync_zstd.apply")))
        if c and comp is None:
            why = "no compressed pair in the C run"
        add(
            f"flush + apply, {layout} (C): {zname} / plain",
            n,
            ratio(comp, plain),
            1.3,
            f"{ftime(comp)} / {ftime(plain)}",
            why,
        )
        case = find_case(results, layout, n)
        pz, why = tick_of(case, "podsync_zstd")
        pp, why2 = tick_of(case, "podsync")
        add(
            f"gather + put_many + flush + apply, {layout} (Python): {zname} / plain",
            n,
            ratio(pz.total, pp.total) if pz and pp else None,
            1.3,
            f"{ftime(pz.total if pz else None)} / {ftime(pp.total if pp else None)}",
            why or why2,
        )
    # steady ticks: the slowest of 1,000 against the median
    st = results.get("steady")
    sv, ss = (st["values"], st["series"]) if st else ({}, {})
    full = bool(st) and sv.get("n") == 1_000_000 and sv.get("ticks", 0) >= 1000
    why = (
        "no steady run"
        if not st
        else f"this run: N = {sv.get('n', 0):,.0f}, {sv.get('ticks', 0):,.0f} ticks"
        if not full
        else ""
    )
    refs = ss.get("steady.reference.apply") if full else None
    noise = f"; reference store, same ticks: {fratio(ratio(max(refs), med(refs)))}" if refs else ""
    for key, label in (("steady.podsync", "PodSync"), ("steady.podsync_zstd", zname)):
        if st and full and f"{key}.flush" not in ss:
            continue
        for op in ("flush", "apply"):
            xs = ss.get(f"{key}.{op}") if full else None
            mx, p50 = (max(xs), med(xs)) if xs else (None, None)
            add(
                f"steady 1% ticks, entity40 (C): max {op} / median {op}, {label}",
                "1,000,000 × 1,000 ticks",
                ratio(mx, p50),
                2.0,
                f"{ftime(mx)} / {ftime(p50)}{noise}",
                why,
            )
    # bulk load against the reference store including its allocation
    c, why = c_of("entity40", 1_000_000)
    s = c["series"] if c else {}
    mb, mr = med(s.get("bulk.podsync.put")), med(s.get("bulk.reference.load_with_alloc"))
    mbf = med(sums(s.get("bulk.podsync.put"), s.get("bulk.podsync.flush")))
    add(
        "bulk load of N new records, entity40 (C): PodSync put_many / reference load incl. allocation",
        1_000_000,
        ratio(mb, mr),
        1.25,
        f"{ftime(mb)} / {ftime(mr)}"
        + (f"; with the flush of its frame: {fratio(ratio(mbf, mr))}" if mbf else ""),
        why,
    )
    return (
        "### The goals of issue 15, from this run\n\n"
        "Measured = the ratio of medians in this run (steady: the slowest tick over the median tick, next to "
        "the same ratio for the reference store's apply of the same ticks: what the machine's own noise "
        "allows); a goal whose figures were not measured in this run says so.\n\n"
        + table(["goal", "N", "measured", "target", "result"], rows, "lrlrl")
    )


def goals(results: dict[str, Any]) -> str:
    level = results.get("podsync_zstd_level", 0)
    variants = [("podsync", "PodSync (Python)")] + (
        [("podsync_zstd", f"PodSync + zstd {level} (Python)")] if level else []
    )
    rows: list[list[str]] = []
    for case in results["cases"]:
        if case["layout"] != "entity40":
            continue
        e = case["systems"]
        arrow = py_row(e["arrow_zstd"], "tick") if "arrow_zstd" in e else None
        for key, label in variants:
            if key not in e:
                continue
            ps = py_row(e[key], "tick")
            if ps.status != "ok":
                continue
            n = f"{case['n']:,}"
            r = ratio(ps.total, arrow.total if arrow and arrow.status == "ok" else None)
            rows.append(
                [
                    f"{label}: encode + apply ≤ 0.5× pyarrow IPC + zstd",
                    n,
                    "≤ 0.50×",
                    fratio(r) or "—",
                    verdict(None if r is None else r <= 0.5),
                ]
            )
            r = ratio(ps.bytes, arrow.bytes if arrow and arrow.status == "ok" else None)
            rows.append(
                [
                    f"{label}: bytes ≤ 0.7× pyarrow IPC + zstd",
                    n,
                    "≤ 0.70×",
                    fratio(r) or "—",
                    verdict(None if r is None else r <= 0.7),
                ]
            )
            for crdt, cname in (("loro", "loro"), ("pycrdt", "pycrdt")):
                other = py_row(e[crdt], "tick") if crdt in e else None
                if other is None or other.status != "ok":
                    why = other.check if other else "not run"
                    rows.append(
                        [
                            f"{label}: ≥ 10× faster than {cname} (encode + apply)",
                            n,
                            "≥ 10×",
                            f"— ({why})",
                            "n/a",
                        ]
                    )
                    continue
                r = ratio(other.total, ps.total)
                rows.append(
                    [
                        f"{label}: ≥ 10× faster than {cname} (encode + apply)",
                        n,
                        "≥ 10×",
                        fratio(r) or "—",
                        verdict(None if r is None else r >= 10),
                    ]
                )
    py = table(
        ["goal (from Python, per 1% tick of 40 B entities)", "N", "target", "measured", "result"],
        rows,
        "lrrrl",
    )

    crow: list[list[str]] = []
    cases40 = [c for c in results["cases"] if c["layout"] == "entity40" and c.get("c")]
    if cases40:
        case = max(cases40, key=lambda c: c["n"])
        s, v = case["c"]["series"], case["c"]["values"]
        n = f"{case['n']:,}"
        k = f"{case['tick_records']:,}"

        def add(goal: str, x: str, y: str, limit: float, extra: str = "") -> None:
            mx, my = med(s.get(x)), med(s.get(y))
            r = ratio(mx, my)
            crow.append(
                [
                    goal,
                    n,
                    f"≤ {limit:.2f}×",
                    f"{fratio(r)} ({ftime(mx)} / {ftime(my)}){extra}",
                    verdict(None if r is None else r <= limit),
                ]
            )

        add(
            "bulk load: put_many of N new keys vs the reference store's load",
            "bulk.podsync.put",
            "bulk.reference.load",
            1.25,
            "; reference incl. allocation and first touch: "
            + fratio(ratio(med(s.get("bulk.podsync.put")), med(s.get("bulk.reference.load_with_alloc")))),
        )
        add(
            f"update put_many of a 1% random tick ({k} keys) vs the reference's update",
            "tick.podsync.put",
            "tick.reference.apply",
            1.25,
        )
        add(
            f"apply of a {k}-record tick on an N-record replica vs the reference's update",
            "tick.podsync.apply",
            "tick.reference.apply",
            1.25,
        )
        add(
            "snapshot encode vs memcpy of the same records (N × 40 B)",
            "snapshot.podsync.encode",
            "memcpy.touched",
            2.0,
        )
        add(
            "snapshot apply (fresh replica) vs memcpy of the same records",
            "snapshot.podsync.apply",
            "memcpy.touched",
            3.0,
            "; vs memcpy into fresh memory: "
            + fratio(ratio(med(s.get("snapshot.podsync.apply")), med(s.get("memcpy.fresh")))),
        )
    cg = table(
        ["goal (from C, 40 B records)", "N", "target", "measured (PodSync / baseline, same run)", "result"],
        crow,
        "lrrll",
    )
    return "## Goals\n\n" + issue_goals(results) + "\n\n### Earlier goals\n\n" + py + "\n\n" + cg


# ---------------------------------------------------------------------------------------------------
# Steady ticks
# ---------------------------------------------------------------------------------------------------


def steady_table(results: dict[str, Any]) -> tuple[str, list[str]]:
    st = results.get("steady")
    if not st:
        return "", []
    v, s = st["values"], st["series"]
    zlevel = v.get("compression_level", 0)
    names = ["steady.podsync", "steady.podsync.digest", "steady.reference"]
    names += ["steady.podsync_zstd"] if zlevel else []
    chk, ok = c_check(st, *names)
    failures = [] if ok else [f"steady ticks: {chk}"]
    if ok:
        chk = "yes: digests equal after every tick; every replica (and the reference store) equals the truth"
    rows = []
    series = [
        ("PodSync (C): put_many", "steady.podsync.put"),
        ("PodSync (C): flush", "steady.podsync.flush"),
        ("PodSync (C): apply", "steady.podsync.apply"),
    ]
    if zlevel:
        series += [
            (f"PodSync + zstd {zlevel:.0f} (C): put_many", "steady.podsync_zstd.put"),
            (f"PodSync + zstd {zlevel:.0f} (C): flush", "steady.podsync_zstd.flush"),
            (f"PodSync + zstd {zlevel:.0f} (C): apply", "steady.podsync_zstd.apply"),
        ]
    series.append(("reference store (C): apply", "steady.reference.apply"))
    for label, key in series:
        xs = s.get(key) if ok else None
        p50, p99, mx = med(xs), pct(xs, 0.99), max(xs) if xs else None
        rows.append(
            [label, ftime(p50), ftime(p99), ftime(mx), fratio(ratio(p99, p50)), fratio(ratio(mx, p50))]
        )
    n, ticks, k = v.get("n", 0), v.get("ticks", 0), v.get("tick_records", 0)
    bytes_note = f"frame bytes a tick: PodSync {fbytes(v.get('steady.podsync.bytes'))}"
    if zlevel:
        bytes_note += f", PodSync + zstd {zlevel:.0f} {fbytes(v.get('steady.podsync_zstd.bytes'))}"
    text = (
        f"### Steady ticks — {ticks:,.0f} consecutive ticks of {k:,.0f} random keys, N = {n:,.0f} "
        "(C, 40 B records)\n\n"
        "`suite_bench steady`: after the bulk load and one warm-up tick, every put_many, flush and apply "
        "is timed on its own, next to the reference store's apply of the same ticks (the order rotates "
        f"every tick); p99 by nearest rank; {bytes_note}. Replica = writer: {chk}.\n\n"
    )
    text += table(["", "p50", "p99", "max", "p99 / p50", "max / p50"], rows, "lrrrrr")
    return text, failures


# ---------------------------------------------------------------------------------------------------
# Scaling tables
# ---------------------------------------------------------------------------------------------------


def scaling_tables(results: dict[str, Any]) -> tuple[str, list[str]]:
    failures: list[str] = []
    rows = []
    base = None
    for r in results["scaling"]:
        v, s = r["values"], r["series"]
        chk, ok = c_check(r, "scaling.podsync")
        if not ok:
            failures.append(f"scaling N={v.get('n')}: {chk}")
        n = v.get("n", 0)
        d = med(s.get("delta_since"))
        g = med(s.get("reference.gather"))
        if base is None:
            base = d
        rows.append(
            [
                f"{n:,.0f}",
                ftime(v.get("load.put_ns", 0) / 1e9),
                f"{v.get('rss.writer_bytes', 0) / max(n, 1):.0f} B",
                f"{v.get('rss.replica_bytes', 0) / max(n, 1):.0f} B",
                ftime(med(s.get("tick.put"))),
                ftime(med(s.get("tick.flush"))),
                ftime(d),
                fratio(ratio(d, base)),
                fbytes(v.get("delta_since.bytes")),
                ftime(g),
                fratio(ratio(d, g)),
                "yes" if ok else "**NO**",
            ]
        )
    changes = results["scaling"][0]["values"].get("changes", 0) if results["scaling"] else 0
    sc = (
        f"### Scaling — `delta_since` with {changes:,.0f} changes per tick as the state grows "
        "(C, 40 B records)\n\n"
        f"`delta_since(v - 1)` right after a tick of {changes:,.0f} random keys should cost the same at every N "
        "(O(changes), not O(state)); what does grow with N is the cost of reaching those records in memory "
        "(cache, then DRAM and TLB misses), so the floor column measures it in the same process: the "
        f"minimal C reference store finding the same {changes:,.0f} just-updated keys and copying their "
        "records out. Memory: RSS growth of the process per record for the writer (after the load, its flush "
        "and the ticks) and for a replica (after applying a snapshot); each N runs in its own process. "
        f"Median of {results['config']['scaling_reps']} ticks.\n\n"
    )
    sc += table(
        [
            "state N",
            "load (put_many)",
            "writer RSS / record",
            "replica RSS / record",
            f"tick put_many",
            "tick flush",
            "delta_since(v − 1)",
            "× smallest N",
            "delta bytes",
            "floor: reference find + copy",
            "delta_since × floor",
            "replica = writer",
        ],
        rows,
        "rrrrrrrrrrrl",
    )

    prow = []
    for r in results["putsize"]:
        v, s = r["values"], r["series"]
        chk, ok = c_check(r, "putsize.podsync")
        if not ok:
            failures.append(f"putsize {v.get('record_size')}: {chk}")
        n, size = v.get("n", 0), v.get("record_size", 0)
        b, u, m = med(s.get("put.bulk")), med(s.get("put.update")), med(s.get("memcpy"))

        def rate(t: float | None) -> tuple[str, str]:
            if not t:
                return "—", "—"
            return f"{n / t / 1e6:.1f}", f"{n * size / t / 1e9:.2f}"

        br, bg = rate(b)
        ur, ug = rate(u)
        prow.append(
            [
                f"{size:.0f} B",
                f"{n:,.0f}",
                ftime(b),
                br,
                bg,
                fratio(ratio(b, m)),
                ftime(u),
                ur,
                ug,
                fratio(ratio(u, m)),
                f"{n * size / m / 1e9:.2f}" if m else "—",
            ]
        )
    cfg = results["config"]
    pt = (
        "### Put throughput from C against the record size\n\n"
        "put_many of N new keys into an empty writer (bulk) and of the same N keys again after a flush "
        f"(update), N = min({cfg['putsize_max_n']:,}, {cfg['putsize_bytes'] / 1e6:.0f} MB / size); "
        f"× = ratio to a memcpy of the same bytes in the same run; median of {cfg['putsize_reps']}.\n\n"
    )
    pt += table(
        [
            "record",
            "N",
            "bulk put",
            "M rec/s",
            "GB/s",
            "× memcpy",
            "update put",
            "M rec/s",
            "GB/s",
            "× memcpy",
            "memcpy GB/s",
        ],
        prow,
        "rrrrrrrrrrr",
    )
    return sc + "\n\n" + pt, failures


# ---------------------------------------------------------------------------------------------------
# Whole report
# ---------------------------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> tuple[str, list[str]]:
    parts: list[str] = []
    failures: list[str] = []
    level = results.get("podsync_zstd_level", 0)
    for case in results["cases"]:
        for phase in ("tick", "snapshot"):
            text, f = render_phase(case, phase, level)
            parts.append(text)
            failures += f
        if results.get("smoke"):
            for e in case["systems"].values():
                if e["tick"]["status"] == "unavailable":
                    failures.append(f"{e['key']} unavailable: {e['tick'].get('reason')}")
    text, f = steady_table(results)
    if text:
        parts.append(text)
        failures += f
    if results["scaling"] or results["putsize"]:
        text, f = scaling_tables(results)
        parts.append(text)
        failures += f
    out = goals(results) + "\n\n## Tables\n\n" + "\n\n".join(parts)
    return out, failures


def results_md(results: dict[str, Any], text: str, plot_ok: bool) -> str:
    m = results["machine"]
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    la0 = " ".join(f"{x:.2f}" for x in m["loadavg_start"])
    la1 = " ".join(f"{x:.2f}" for x in m.get("loadavg_end", ()))
    cfg = results["config"]
    zlevel = results.get("podsync_zstd_level") or "—"
    by_doc: dict[str, list[str]] = {}
    for case in results["cases"]:
        for e in case["systems"].values():
            if e.get("doc") and e["name"] not in by_doc.setdefault(e["doc"], []):
                by_doc[e["doc"]].append(e["name"])
    docs = [f"- **{', '.join(names)}**: {doc}" for doc, names in by_doc.items()]
    head = f"""# PodSync benchmark results

Generated by `{results['command']}` on {results['date']}: the whole suite in one run of
{results['duration_s'] / 60:.1f} minutes (plus the library build and the environment setup){' — SMOKE SIZE: the figures mean nothing' if results.get('smoke') else ''}.
Do not edit by hand: run the command again.

## Machine

- CPU: {m['cpu']}, {m['nproc']} cores; memory {m['memory_gib']} GiB; {m['kernel']}; {m['distro']}
- Python {m['python']}; {m['gcc']}; libpodsync {m['libpodsync']}, built from {m.get('source', '?')}
- Python packages: {pk}
- load average at start {la0}, at the end {la1} (a shared or busy machine shows here: compare
  figures only within this run, as ratios)

## How it was measured

- Workloads: {', '.join(f"{c['layout']} N = {c['n']:,}" for c in results['cases'])}; fixed seeds; keys
  splitmix64(0..N-1) (quant20: object ids 0..N-1). Each tick changes distinct random existing keys by
  small drifts (see `benchmarks/suite.py`). Snapshots encode the writer's whole state and apply it to
  a fresh replica.
- Every system gets the writer's truth (a numpy structured array) and the positions of the changed
  rows; **encode** starts there (the gather of the changed rows is in every encode) and ends with the
  bytes to send; **apply** starts from those bytes and ends with a replica that serves reads by key.
- One process for all Python systems; each tick (and snapshot) runs every system once, in an order
  that rotates every repetition; medians of {cfg['tick_reps']} ticks after a warm-up tick and of
  {cfg['snapshot_reps']} snapshots. The C program runs the same workload right after, in the same run,
  interleaving PodSync, the minimal C reference store (`benchmarks/c/reference_store.c`) and memcpy
  ({cfg['c_reps']} repetitions). Steady ticks (C, 40 B): {cfg.get('steady_ticks', 0):,} consecutive
  ticks of {cfg.get('steady_fraction', 0):.0%} at N = {cfg.get('steady_n', 0):,}, each flush and apply
  timed on its own.
- **replica = writer** is checked for every system after its ticks and after its last snapshot: byte
  equality of every record with the writer's truth (PodSync: equal digests and the replica's table
  view; CRDTs: the replica's map equals the writer's map, which equals the truth). A system that does
  not converge shows no figures and fails the run.
- Time budget per system and case: {cfg['budget']:.0f} s for its setup, ticks and check, {cfg['snapshot_budget']:.0f} s for
  its snapshots and check, extrapolated from the smaller N of the same workload. A system that does
  not fit is reported as skipped, with the estimate; one that fits only partly runs fewer
  repetitions (noted in its row). CRDT keys are `str(key)`, computed once outside the timers.
- zstd levels: pyarrow IPC uses Arrow's default zstd level, msgpack + zstd uses the `zstandard`
  default (3), PodSync + zstd (when the library has compression) level {zlevel}.

"""
    plot = (
        "![bytes and time per system](results.png)\n\n"
        if plot_ok
        else "(the plot could not be drawn: matplotlib missing)\n\n"
    )
    tail = "\n\n## What each system does\n\n" + "\n".join(docs) + "\n"
    return head + plot + text + tail


# ---------------------------------------------------------------------------------------------------
# Plot
# ---------------------------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    panels = []  # (title, {system: {n: (bytes, total)}})
    level = results.get("podsync_zstd_level", 0)
    for layout in ("entity40", "record256", "quant20"):
        for phase in ("tick", "snapshot"):
            cases = [c for c in results["cases"] if c["layout"] == layout]
            if not cases:
                continue
            data: dict[str, dict[int, tuple[float | None, float | None]]] = {}
            for case in cases:
                rows = [py_row(e, phase) for e in case["systems"].values()] + c_rows(case, phase, level)
                for r in rows:
                    only = r.total is None and r.apply is not None and "apply only" not in r.name
                    name = r.name + (" [apply only]" if only else "")
                    if r.status == "ok":
                        data.setdefault(name, {})[case["n"]] = (
                            r.bytes,
                            r.total if r.total is not None else r.apply,
                        )
                    else:
                        data.setdefault(name, {})
            share = cases[0]["tick_records"] / cases[0]["n"]
            title = (
                f"{share:.1%} tick of {cases[0]['record_size']} B records".replace(".0%", "%")
                if phase == "tick"
                else f"snapshot of {cases[0]['record_size']} B records"
            )
            panels.append((title, data, sorted({c["n"] for c in cases})))
    if not panels:
        return False
    fig, axes = plt.subplots(len(panels), 2, figsize=(15, 5.2 * len(panels)), squeeze=False)
    colors = ["#4c72b0", "#dd8452", "#55a868"]
    for row, (title, data, ns) in enumerate(panels):
        names = list(data.keys())
        y = list(range(len(names)))
        h = 0.8 / max(1, len(ns))
        for col, (what, label) in enumerate(
            ((0, "bytes per tick" if "tick" in title else "bytes"), (1, "encode + apply time (s)"))
        ):
            ax = axes[row][col]
            for j, n in enumerate(ns):
                vals = [data[nm].get(n, (None, None))[what] for nm in names]
                pos = [yy + (j - (len(ns) - 1) / 2) * h for yy in y]
                ax.barh(
                    [p for p, v in zip(pos, vals) if v],
                    [v for v in vals if v],
                    height=h,
                    color=colors[j % len(colors)],
                    label=f"N = {n:,}",
                )
                for p, v in zip(pos, vals):
                    if v:
                        ax.text(v, p, " " + (fbytes(v) if what == 0 else ftime(v)), va="center", fontsize=7)
            ax.set_xscale("log")
            ax.set_yticks(y)
            ax.set_yticklabels(names, fontsize=8)
            for tick in ax.get_yticklabels():
                if tick.get_text().startswith("PodSync"):
                    tick.set_fontweight("bold")
            ax.invert_yaxis()
            ax.set_title(f"{title}: {label}", fontsize=10)
            ax.grid(axis="x", which="major", alpha=0.3)
            lo, hi = ax.get_xlim()
            ax.set_xlim(lo, hi * 8)  # room for the labels
            for nm, yy in zip(names, y):
                if not any(data[nm].get(n, (None, None))[what] for n in ns):
                    why = (
                        "no wire format"
                        if what == 0 and "reference store" in nm
                        else "skipped (see the table)"
                    )
                    ax.text(lo * 1.05, yy, why, va="center", fontsize=7, color="#888888")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=9, ncol=len(labels))
    fig.suptitle(
        f"PodSync benchmark — {results['date']} — lower is better (log scale); "
        f"gaps: skipped (over budget) or not applicable",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
