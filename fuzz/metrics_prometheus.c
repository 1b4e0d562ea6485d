/*
 * metrics_prometheus.c — libFuzzer target `metrics_prometheus`: podsync_metrics_prometheus, which
 * parses a caller's preformatted label set and formats a metrics struct as Prometheus text.
 *
 * Input: byte 0 picks the struct version (1, 2, PODSYNC_METRICS_VERSION, 0, or the byte itself),
 * bytes 1-2 (little-endian) the length L of the label set, then L bytes of labels (passed
 * NUL-terminated in an exact-size copy, so ASan sees a read past the NUL; an embedded NUL ends
 * them early, as it would in C), then the struct's counters (zero where the input ends).
 *
 * Checked, abort() on a violation:
 *   - the labels are accepted exactly when an independent parser of the header's grammar accepts
 *     them (name [a-zA-Z_][a-zA-Z0-9_]* not starting with "__", unique, not le/by/status; ="value"
 *     with only \\ \" \n escapes and no line break; comma-separated; at most 4096 bytes; UTF-8),
 *     and a version 0 struct is refused; every refusal is PODSYNC_E_INVALID_ARGUMENT;
 *   - the size query answers BUFFER_TOO_SMALL with the size; a buffer one byte short gets
 *     BUFFER_TOO_SMALL and is left untouched; the exact size gets OK and a NUL-terminated text of
 *     that size;
 *   - the text is lines of "# HELP name ...", "# TYPE name counter|gauge|histogram" and samples
 *     "name[{labels}] value"; every family has one HELP and one TYPE line, before its samples;
 *     counters end in _total, gauges in _bytes (the two gauges of metrics version 3:
 *     podsync_snapshot_held_bytes and podsync_staging_held_bytes), and every sample belongs to the
 *     family of the last TYPE line; every sample carries the caller's labels first; the counters
 *     and gauges equal the struct's fields; histogram buckets are the (wrapping) cumulative sums
 *     of the struct's and _count equals the last; a struct shows exactly the fields of its
 *     version: version-1 structs none appended in version 2 (saved_by_zero_columns ..
 *     dictionary_frames), version-2 structs none appended in version 3 (chunks_out ..
 *     staging_bytes_held), whatever bytes follow in the caller's memory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LABELS 4096

/* ------------------------------------------------------------------------------------------ */
/* The label grammar of include/podsync.h, independently                                      */
/* ------------------------------------------------------------------------------------------ */

static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static int is_letter(uint8_t b) { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_'; }
static int is_digit(uint8_t b) { return b >= '0' && b <= '9'; }

static int labels_valid(const uint8_t *s, size_t n) {
    if (n > MAX_LABELS || !utf8_valid(s, n)) return 0;
    size_t names_at[MAX_LABELS / 4], names_len[MAX_LABELS / 4], count = 0;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        if (!is_letter(s[i])) return 0;
        while (i < n && (is_letter(s[i]) || is_digit(s[i]))) i++;
        size_t len = i - start;
        if (len >= 2 && s[start] == '_' && s[start + 1] == '_') return 0;
        if ((len == 2 && memcmp(s + start, "le", 2) == 0) || (len == 2 && memcmp(s + start, "by", 2) == 0) ||
            (len == 6 && memcmp(s + start, "status", 6) == 0))
            return 0;
        for (size_t k = 0; k < count; k++)
            if (names_len[k] == len && memcmp(s + names_at[k], s + start, len) == 0) return 0;
        names_at[count] = start;
        names_len[count] = len;
        count++;
        if (n - i < 2 || s[i] != '=' || s[i + 1] != '"') return 0;
        i += 2;
        int closed = 0;
        while (i < n) {
            if (s[i] == '"') {
                closed = 1;
                i++;
                break;
            }
            if (s[i] == '\n') return 0;
            if (s[i] == '\\') {
                if (n - i < 2 || (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n')) return 0;
                i += 2;
                continue;
            }
            i++;
        }
        if (!closed) return 0;
        if (i < n) {
            if (s[i] != ',' || n - i < 2) return 0;
            i++;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The text                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* The value of the first sample line "name[{...}] value" whose name and label set start as given
   (labels_prefix may be NULL: no brace expected unless the caller has labels). */
static int find_sample(const char *text, const char *name, const char *extra, const char *labels, uint64_t *value) {
    char want[8192];
    if (labels[0] && extra) snprintf(want, sizeof want, "%s{%s,%s} ", name, labels, extra);
    else if (labels[0]) snprintf(want, sizeof want, "%s{%s} ", name, labels);
    else if (extra) snprintf(want, sizeof want, "%s{%s} ", name, extra);
    else snprintf(want, sizeof want, "%s ", name);
    size_t wl = strlen(want);
    for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, want, wl) == 0) {
            char *end = NULL;
            *value = strtoull(line + wl, &end, 10);
            FZ_REQUIRE(end && *end == '\n', "sample %s: the value is not a decimal ending the line", want);
            return 1;
        }
        if (!strchr(line, '\n')) break;
    }
    return 0;
}

static void check_structure(const char *text, size_t len, const char *labels) {
    FZ_REQUIRE(len > 0 && text[len - 1] == '\n', "the text does not end with a line break");
    size_t ll = strlen(labels);
    char family[128] = "", type[16] = "", helped[128] = "";
    /* families seen, to find a second HELP/TYPE of one name */
    static char seen[128][128];
    size_t nseen = 0;
    for (const char *line = text; line < text + len;) {
        const char *eol = memchr(line, '\n', (size_t)(text + len - line));
        FZ_REQUIRE(eol != NULL, "a line without its line break");
        size_t n = (size_t)(eol - line);
        if (line[0] == '#') {
            FZ_REQUIRE((n > 15 && strncmp(line, "# HELP podsync_", 15) == 0) || (n > 15 && strncmp(line, "# TYPE podsync_", 15) == 0),
                       "comment line \"%.*s\"", (int)n, line);
            const char *name = line + 7, *sp = memchr(name, ' ', n - 7);
            FZ_REQUIRE(sp && sp - name < 127, "comment line \"%.*s\": no name", (int)n, line);
            size_t nl = (size_t)(sp - name);
            if (line[2] == 'H') {
                FZ_REQUIRE(sp + 1 < eol, "HELP line \"%.*s\" without text", (int)n, line);
                memcpy(helped, name, nl);
                helped[nl] = 0;
                for (size_t k = 0; k < nseen; k++) FZ_REQUIRE(strcmp(seen[k], helped) != 0, "family %s appears twice", helped);
                FZ_REQUIRE(nseen < 128, "more than 128 families");
                strcpy(seen[nseen++], helped);
            } else {
                memcpy(family, name, nl);
                family[nl] = 0;
                FZ_REQUIRE(strcmp(family, helped) == 0, "TYPE line of %s does not follow its HELP line (%s)", family, helped);
                size_t tl = (size_t)(eol - sp - 1);
                FZ_REQUIRE(tl < sizeof type, "TYPE line \"%.*s\"", (int)n, line);
                memcpy(type, sp + 1, tl);
                type[tl] = 0;
                size_t fl = strlen(family);
                if (strcmp(type, "counter") == 0)
                    FZ_REQUIRE(fl > 6 && strcmp(family + fl - 6, "_total") == 0, "counter %s does not end in _total", family);
                else if (strcmp(type, "gauge") == 0)
                    FZ_REQUIRE(strcmp(family, "podsync_snapshot_held_bytes") == 0 || strcmp(family, "podsync_staging_held_bytes") == 0,
                               "gauge %s: the header defines two, podsync_snapshot_held_bytes and podsync_staging_held_bytes", family);
                else
                    FZ_REQUIRE(strcmp(type, "histogram") == 0, "TYPE line \"%.*s\"", (int)n, line);
            }
        } else {
            FZ_REQUIRE(n > 8 && strncmp(line, "podsync_", 8) == 0, "sample line \"%.*s\"", (int)n, line);
            size_t name = 0;
            while (name < n && (is_letter((uint8_t)line[name]) || is_digit((uint8_t)line[name]))) name++;
            size_t fl = strlen(family);
            int member = fl > 0 && name >= fl && memcmp(line, family, fl) == 0 &&
                         (name == fl || (strcmp(type, "histogram") == 0 &&
                                         ((name - fl == 7 && memcmp(line + fl, "_bucket", 7) == 0) ||
                                          (name - fl == 6 && memcmp(line + fl, "_count", 6) == 0))));
            FZ_REQUIRE(member, "sample line \"%.*s\" outside its family (last TYPE: %s %s)", (int)n, line, family, type);
            if (ll) FZ_REQUIRE(n > name + 1 + ll && line[name] == '{' && memcmp(line + name + 1, labels, ll) == 0 &&
                                   (line[name + 1 + ll] == '}' || line[name + 1 + ll] == ','),
                               "sample line \"%.*s\" without the labels first", (int)n, line);
            const char *sp = line + n;
            while (sp > line && sp[-1] != ' ') sp--;
            FZ_REQUIRE(sp > line && sp < eol && is_digit((uint8_t)*sp), "sample line \"%.*s\": no value", (int)n, line);
            for (const char *d = sp; d < eol; d++) FZ_REQUIRE(is_digit((uint8_t)*d), "sample line \"%.*s\": value", (int)n, line);
        }
        line = eol + 1;
    }
}

static void check_values(const char *text, const char *labels, const podsync_metrics *m, uint32_t version) {
    static const struct {
        const char *name;
        size_t offset;
    } counters[] = {
        {"podsync_frames_out_total", offsetof(podsync_metrics, frames_out)},
        {"podsync_records_out_total", offsetof(podsync_metrics, records_out)},
        {"podsync_frames_out_plain_bytes_total", offsetof(podsync_metrics, raw_bytes_out)},
        {"podsync_frames_out_wire_bytes_total", offsetof(podsync_metrics, wire_bytes_out)},
        {"podsync_frames_out_compressed_total", offsetof(podsync_metrics, compressed_frames)},
        {"podsync_writes_total", offsetof(podsync_metrics, writes)},
        {"podsync_frames_applied_total", offsetof(podsync_metrics, frames_applied)},
        {"podsync_records_applied_total", offsetof(podsync_metrics, records_applied)},
        {"podsync_frames_duplicate_total", offsetof(podsync_metrics, duplicates)},
        {"podsync_frames_gap_total", offsetof(podsync_metrics, gaps)},
        {"podsync_snapshots_stale_total", offsetof(podsync_metrics, stale)},
        {"podsync_resyncs_total", offsetof(podsync_metrics, resyncs)},
        {"podsync_coalesced_writes_total", offsetof(podsync_metrics, coalesced_writes)},
        {"podsync_frames_applied_wire_bytes_total", offsetof(podsync_metrics, wire_bytes_in)},
    };
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        uint64_t want;
        memcpy(&want, (const uint8_t *)m + counters[i].offset, 8);
        FZ_REQUIRE(find_sample(text, counters[i].name, NULL, labels, &v) && v == want, "%s: %" PRIu64 ", the struct says %" PRIu64,
                   counters[i].name, v, want);
    }
    int has = find_sample(text, "podsync_frames_out_dictionary_total", NULL, labels, &v);
    FZ_REQUIRE(version == 1 ? !has : (has && v == m->dictionary_frames), "dictionary frames: %s for a version-%u struct",
               has ? "shown" : "missing", version);
    has = find_sample(text, "podsync_encoder_saved_bytes_total", "by=\"zero_columns\"", labels, &v);
    FZ_REQUIRE(version == 1 ? !has : (has && v == m->saved_by_zero_columns), "zero_columns: %s for a version-%u struct",
               has ? "shown" : "missing", version);
    static const struct {
        const char *name, *extra;
        size_t offset;
        uint32_t since;
    } more[] = {
        {"podsync_encoder_saved_bytes_total", "by=\"key_gaps\"", offsetof(podsync_metrics, saved_by_key_gaps), 1},
        {"podsync_encoder_saved_bytes_total", "by=\"compression\"", offsetof(podsync_metrics, saved_by_compression), 1},
        {"podsync_raw_column_bytes_total", NULL, offsetof(podsync_metrics, raw_column_bytes), 2},
        {"podsync_column_trials_total", NULL, offsetof(podsync_metrics, column_trials), 2},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        uint64_t want;
        memcpy(&want, (const uint8_t *)m + more[i].offset, 8);
        has = find_sample(text, more[i].name, more[i].extra, labels, &v);
        FZ_REQUIRE(version < more[i].since ? !has : (has && v == want), "%s{%s}: %s (%" PRIu64 ", the struct says %" PRIu64
                   ") for a version-%u struct", more[i].name, more[i].extra ? more[i].extra : "", has ? "shown" : "missing", v, want,
                   version);
    }
    /* rejected applies: every error status that has a name, and the number of any other counted */
    for (int k = 1; k < PODSYNC_METRICS_STATUSES; k++) {
        const char *sname = podsync_status_name(-k);
        int known = strcmp(sname, "PODSYNC_UNKNOWN_STATUS") != 0;
        char extra[96];
        if (known) snprintf(extra, sizeof extra, "status=\"%s\"", sname);
        else snprintf(extra, sizeof extra, "status=\"%d\"", -k);
        has = find_sample(text, "podsync_frames_rejected_total", extra, labels, &v);
        FZ_REQUIRE((known || m->rejects[k] != 0) ? (has && v == m->rejects[k]) : !has,
                   "podsync_frames_rejected_total{%s}: %s (%" PRIu64 "), the struct says %" PRIu64, extra, has ? "shown" : "missing", v,
                   m->rejects[k]);
    }
    /* metrics version 3 (library 0.5.0): three counters and two gauges */
    static const struct {
        const char *name;
        size_t offset;
    } v3[] = {
        {"podsync_chunks_out_total", offsetof(podsync_metrics, chunks_out)},
        {"podsync_chunks_staged_total", offsetof(podsync_metrics, chunks_staged)},
        {"podsync_chunk_gaps_total", offsetof(podsync_metrics, chunk_gaps)},
        {"podsync_snapshot_held_bytes", offsetof(podsync_metrics, snapshot_bytes_held)},
        {"podsync_staging_held_bytes", offsetof(podsync_metrics, staging_bytes_held)},
    };
    for (size_t i = 0; i < sizeof v3 / sizeof v3[0]; i++) {
        uint64_t want;
        memcpy(&want, (const uint8_t *)m + v3[i].offset, 8);
        has = find_sample(text, v3[i].name, NULL, labels, &v);
        FZ_REQUIRE(version < 3 ? !has : (has && v == want), "%s: %s (%" PRIu64 ", the struct says %" PRIu64 ") for a version-%u struct",
                   v3[i].name, has ? "shown" : "missing", v, want, version);
    }
    const char *families[2] = {"podsync_encode_duration_seconds", "podsync_apply_duration_seconds"};
    const uint64_t *buckets[2] = {m->encode_ns, m->apply_ns};
    for (int h = 0; h < 2; h++) {
        uint64_t cumulative = 0;
        char name[96], le[64];
        snprintf(name, sizeof name, "%s_bucket", families[h]);
        for (int i = 0; i < PODSYNC_METRICS_BUCKETS; i++) {
            cumulative += buckets[h][i]; /* wraps, as the library's */
            uint64_t ns = ((uint64_t)1 << (i + 1)) - 1;
            char frac[16];
            snprintf(frac, sizeof frac, "%09" PRIu64, ns % 1000000000u);
            for (int k = 8; k > 0 && frac[k] == '0'; k--) frac[k] = 0;
            if (i == PODSYNC_METRICS_BUCKETS - 1) snprintf(le, sizeof le, "le=\"+Inf\"");
            else snprintf(le, sizeof le, "le=\"%" PRIu64 ".%s\"", ns / 1000000000u, frac);
            FZ_REQUIRE(find_sample(text, name, le, labels, &v) && v == cumulative, "%s{%s}: %" PRIu64 ", expected %" PRIu64, name, le,
                       v, cumulative);
        }
        snprintf(name, sizeof name, "%s_count", families[h]);
        FZ_REQUIRE(find_sample(text, name, NULL, labels, &v) && v == cumulative, "%s: %" PRIu64 ", expected %" PRIu64, name, v,
                   cumulative);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    size_t want = (size_t)(data[1] | data[2] << 8), pos = 3;
    size_t n = want <= size - pos ? want : size - pos;
    char *labels = malloc(n + 1); /* exact size: a read past the NUL is an ASan report */
    FZ_REQUIRE(labels != NULL, "out of memory");
    memcpy(labels, data + pos, n);
    labels[n] = 0;
    pos += n;
    size_t effective = strlen(labels); /* an embedded NUL ends them */

    podsync_metrics m;
    memset(&m, 0, sizeof m);
    size_t rest = size - pos < sizeof m - 8 ? size - pos : sizeof m - 8;
    memcpy((uint8_t *)&m + 8, data + pos, rest);
    static const uint32_t versions[4] = {1, 2, PODSYNC_METRICS_VERSION, 0};
    m.version = data[0] < 4 ? versions[data[0]] : data[0];
    m.reserved = 0;
    /* a version-1 caller's struct ends before saved_by_zero_columns, a version-2 one before
       chunks_out: what follows must not show */
    if (m.version == 1) memset(&m.saved_by_zero_columns, 0xEE, sizeof m - offsetof(podsync_metrics, saved_by_zero_columns));
    if (m.version == 2) memset(&m.chunks_out, 0xEE, sizeof m - offsetof(podsync_metrics, chunks_out));

    int valid = m.version >= 1 && labels_valid((const uint8_t *)labels, effective);
    size_t need = 0;
    int32_t st = podsync_metrics_prometheus(&m, labels, NULL, 0, &need);
    if (!valid) {
        FZ_REQUIRE(st == PODSYNC_E_INVALID_ARGUMENT, "labels \"%s\" (version %u) break the grammar but the call returned %s", labels,
                   m.version, podsync_status_name(st));
        free(labels);
        return 0;
    }
    FZ_REQUIRE(st == PODSYNC_E_BUFFER_TOO_SMALL && need > 1, "labels \"%s\" (version %u): size query returned %s, %zu", labels,
               m.version, podsync_status_name(st), need);
    char *text = malloc(need);
    FZ_REQUIRE(text != NULL, "out of memory");
    memset(text, 0x5A, need);
    size_t again = 0;
    st = podsync_metrics_prometheus(&m, labels, text, need - 1, &again);
    FZ_REQUIRE(st == PODSYNC_E_BUFFER_TOO_SMALL && again == need, "one byte short: %s, %zu of %zu", podsync_status_name(st), again,
               need);
    for (size_t i = 0; i < need; i++) FZ_REQUIRE((uint8_t)text[i] == 0x5A, "a buffer one byte short was written at %zu", i);
    st = podsync_metrics_prometheus(&m, labels, text, need, &again);
    FZ_REQUIRE(st == PODSYNC_OK && again == need, "exact size: %s, %zu of %zu", podsync_status_name(st), again, need);
    FZ_REQUIRE(text[need - 1] == 0 && strlen(text) == need - 1, "the text is not NUL-terminated at its size %zu", need);
    check_structure(text, need - 1, labels);
    check_values(text, labels, &m, m.version);
    free(text);
    free(labels);
    return 0;
}
