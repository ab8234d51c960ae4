#!/usr/bin/env python3
"""Check the hand-written probe sets in this directory and print their composition.

Every *.jsonl file here must hold one JSON object a line with a unique `id`, a `label` (one of
cybersecurity, migration, diplomacy, other), a `kind` and a non-empty `text`. Where a row has
`topics`, it must be a sorted list of distinct topics; an `other` row has none and any other row
lists its label among them. The border and multi-topic sets are also checked against the counts
they were written to (per half, development and test alike), and each pair of halves must have
the same composition; multitopic2's halves are written separately, so one may be checked before
the other exists.

    python3 scripts/experiments/probe/check.py

Exits 1, naming the file and line, on the first kind of problem it finds in any file.
"""

import collections
import glob
import json
import os
import re
import sys

TOPICS = ("cybersecurity", "diplomacy", "migration")
LABELS = TOPICS + ("other",)
HERE = os.path.dirname(os.path.abspath(__file__))

problems = []


def bad(path, line, msg):
    problems.append(f"{os.path.basename(path)}:{line}: {msg}")


def read(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as e:
                bad(path, n, f"not JSON: {e}")
                continue
            row["_line"] = n
            rows.append(row)
    return rows


def check_row(path, row):
    n = row["_line"]
    for field in ("id", "label", "kind", "text"):
        if not isinstance(row.get(field), str) or not row[field].strip():
            bad(path, n, f"field {field!r} missing or empty")
    label = row.get("label")
    if label not in LABELS:
        bad(path, n, f"label {label!r} is not one of {', '.join(LABELS)}")
    if "topics" in row:
        t = row["topics"]
        if not isinstance(t, list) or any(x not in TOPICS for x in t):
            bad(path, n, f"topics {t!r} must be a list drawn from {', '.join(TOPICS)}")
        elif t != sorted(set(t)):
            bad(path, n, f"topics {t!r} must be sorted and distinct")
        elif label == "other" and t:
            bad(path, n, f"an other row has no topics, got {t!r}")
        elif label != "other" and label not in t:
            bad(path, n, f"label {label!r} missing from topics {t!r}")
    m = row.get("mentions")
    if m is not None:
        if not isinstance(m, list) or any(x not in TOPICS for x in m):
            bad(path, n, f"mentions {m!r} must be a list drawn from {', '.join(TOPICS)}")
        elif set(m) & set(row.get("topics", [])):
            bad(path, n, f"mentions {m!r} repeats a present topic")


def words(row):
    return len(row.get("text", "").split())


def combo(row):
    t = row.get("topics", [])
    return "+".join(t) if t else "none"


def multitopic_class(row):
    t = row.get("topics", [])
    if len(t) >= 2:
        return "+".join(t)
    if not t:
        return "other, topic word in passing" if row.get("mentions") else "other, plain"
    return "single, topic in passing" if row.get("mentions") else "single, plain"


# minimum rows per half, by class
MULTITOPIC_MIN = {
    "cybersecurity+migration": 6,
    "cybersecurity+diplomacy": 6,
    "diplomacy+migration": 6,
    "cybersecurity+diplomacy+migration": 6,
    "single, topic in passing": 12,
    "single, plain": 6,
    "other, topic word in passing": 6,
}


# multitopic2: exact rows per half, by class (one topic split by which one), written so that the
# topic settings have more development articles, short items among them.
MULTITOPIC2_COUNTS = {
    "cybersecurity+migration": 7,
    "cybersecurity+diplomacy": 9,
    "diplomacy+migration": 7,
    "cybersecurity+diplomacy+migration": 6,
    "cybersecurity, topic in passing": 6,
    "migration, topic in passing": 6,
    "diplomacy, topic in passing": 6,
    "cybersecurity, plain": 2,
    "migration, plain": 2,
    "diplomacy, plain": 2,
    "other, topic word in passing": 7,
}
MULTITOPIC2_BRIEFS = (15, 25)  # "about 20" short items a half


def multitopic2_class(row):
    t = row.get("topics", [])
    if len(t) == 1:
        return f"{t[0]}, {'topic in passing' if row.get('mentions') else 'plain'}"
    return multitopic_class(row)


# Sets with a development half only: written after the test halves were scored, to choose settings
# on, never to report a held-out figure.
DEV_ONLY = {"multitopic-short"}

# Sets whose halves are written by separate hands and may land one at a time: a half alone is
# checked on its own, and once both are here they must match class for class.
PAIRED_LATER = {"multitopic2"}


def check_set(name, rows, path):
    """Counts a set was written to; name is the file name without the -dev/-test suffix."""
    labels = collections.Counter(r.get("label") for r in rows)
    if name == "border":
        want = {"other": 15, "diplomacy": 15}
        if dict(labels) != want:
            bad(path, 0, f"labels {dict(labels)}, want {want}")
        for r in rows:
            if r.get("kind") != "article":
                bad(path, r["_line"], "kind must be article")
            if not 150 <= words(r) <= 450:
                bad(path, r["_line"], f"{words(r)} words, want 150-450")
    elif name == "headlines-border":
        want = {"other": 20, "diplomacy": 20, "cybersecurity": 10}
        if dict(labels) != want:
            bad(path, 0, f"labels {dict(labels)}, want {want}")
        for r in rows:
            if r.get("kind") == "headline" and not 6 <= words(r) <= 20:
                bad(path, r["_line"], f"headline of {words(r)} words, want 6-20")
            if r.get("kind") == "lede" and words(r) > 45:
                bad(path, r["_line"], f"one-sentence brief of {words(r)} words, want at most 45")
    elif name == "multitopic":
        if len(rows) < 50:
            bad(path, 0, f"{len(rows)} rows, want at least 50")
        classes = collections.Counter(multitopic_class(r) for r in rows)
        for cls, least in MULTITOPIC_MIN.items():
            if classes[cls] < least:
                bad(path, 0, f"{classes[cls]} rows of {cls}, want at least {least}")
        for r in rows:
            if r.get("kind") != "article":
                bad(path, r["_line"], "kind must be article")
            if not 150 <= words(r) <= 450:
                bad(path, r["_line"], f"{words(r)} words, want 150-450")
            if "topics" not in r:
                bad(path, r["_line"], "multi-topic rows need topics")
    elif name == "multitopic2":
        classes = collections.Counter(multitopic2_class(r) for r in rows)
        for cls in sorted(set(classes) | set(MULTITOPIC2_COUNTS)):
            if classes[cls] != MULTITOPIC2_COUNTS.get(cls, 0):
                bad(path, 0, f"{classes[cls]} rows of {cls}, want {MULTITOPIC2_COUNTS.get(cls, 0)}")
        briefs = sum(r.get("kind") == "brief" for r in rows)
        lo, hi = MULTITOPIC2_BRIEFS
        if not lo <= briefs <= hi:
            bad(path, 0, f"{briefs} briefs, want {lo}-{hi}")
        for r in rows:
            n = r["_line"]
            if "topics" not in r or "mentions" not in r:
                bad(path, n, "multi-topic rows need topics and mentions")
            head, sep, body = r.get("text", "").partition("\n\n")
            if not sep or "\n" in head or not body.strip():
                bad(path, n, "text must be a headline line, a blank line and the body")
            if r.get("kind") == "article":
                if not 180 <= words(r) <= 500:
                    bad(path, n, f"article of {words(r)} words, want 180-500")
            elif r.get("kind") == "brief":
                # two to five sentences; counted loosely, as sentence ends followed by a space
                ends = len(re.findall(r"[.!?][\"')]?(?:\s|$)", body.strip()))
                if not 2 <= ends <= 5 or words(r) > 130:
                    bad(path, n, f"brief of {ends} sentences and {words(r)} words, want 2-5 and at most 130")
            else:
                bad(path, n, f"kind {r.get('kind')!r}, want article or brief")


def table(title, counters, halves):
    keys = sorted(set().union(*[c.keys() for c in counters]))
    print(f"\n{title}")
    print("| " + " | ".join(["class"] + halves) + " |")
    print("|" + "---|" * (len(halves) + 1))
    for k in keys:
        print("| " + " | ".join([k] + [str(c[k]) for c in counters]) + " |")
    print("| " + " | ".join(["total"] + [str(sum(c.values())) for c in counters]) + " |")


def main():
    ids = {}
    sets = collections.defaultdict(dict)
    for path in sorted(glob.glob(os.path.join(HERE, "*.jsonl"))):
        rows = read(path)
        for r in rows:
            check_row(path, r)
            i = r.get("id")
            if i in ids:
                bad(path, r["_line"], f"id {i!r} already used in {ids[i]}")
            ids[i] = os.path.basename(path)
        base = os.path.basename(path)[: -len(".jsonl")]
        for half in ("dev", "test"):
            if base.endswith("-" + half):
                sets[base[: -len(half) - 1]][half] = (path, rows)
    for name, halves in sorted(sets.items()):
        if name in ("border", "headlines-border", "multitopic", "multitopic2"):
            for path, rows in halves.values():
                check_set(name, rows, path)
        classify = {"multitopic": multitopic_class, "multitopic2": multitopic2_class}.get(
            name, combo if name.endswith("border") else (lambda r: r.get("label")))
        if name in DEV_ONLY and set(halves) == {"dev"}:
            table(f"{name} (development only)", [collections.Counter(combo(r) for r in halves["dev"][1])], ["dev"])
            continue
        if name in PAIRED_LATER and len(halves) == 1:
            (h, (_, rows)), = halves.items()
            table(f"{name} ({h} only so far)", [collections.Counter(classify(r) for r in rows)], [h])
            table(f"{name} ({h}) by kind", [collections.Counter(r.get("kind") for r in rows)], [h])
            continue
        if set(halves) != {"dev", "test"}:
            bad(name, 0, f"has halves {sorted(halves)}, want dev and test")
            for h in halves:
                table(f"{name} ({h} only)", [collections.Counter(classify(r) for r in halves[h][1])], [h])
            continue
        counters = [collections.Counter(classify(r) for r in halves[h][1]) for h in ("dev", "test")]
        if name in ("border", "headlines-border", "multitopic", "multitopic2"):
            # same composition in both halves (the multi-topic minimums allow the totals to differ
            # by a row or two, the combinations must not)
            for k in set(counters[0]) | set(counters[1]):
                if abs(counters[0][k] - counters[1][k]) > (1 if name == "multitopic" else 0):
                    bad(name, 0, f"{k}: dev {counters[0][k]}, test {counters[1][k]}")
        table(name, counters, ["dev", "test"])
        if name == "multitopic2":
            table(f"{name} by kind", [collections.Counter(r.get("kind") for r in halves[h][1])
                                      for h in ("dev", "test")], ["dev", "test"])
        if name in ("multitopic", "multitopic2"):
            label_counts = [collections.Counter(r["label"] for r in halves[h][1]) for h in ("dev", "test")]
            table(f"{name} by main label", label_counts, ["dev", "test"])
            topic_counts = [collections.Counter(combo(r) for r in halves[h][1]) for h in ("dev", "test")]
            table(f"{name} by topic set", topic_counts, ["dev", "test"])
            def passing(r):
                if len(r.get("topics", [])) > 1:
                    return None
                return f"{combo(r)}, mentions {'+'.join(r.get('mentions', [])) or 'nothing'}"
            pass_counts = [collections.Counter(p for p in map(passing, halves[h][1]) if p)
                           for h in ("dev", "test")]
            table(f"{name} single-topic and other rows by what they mention in passing",
                  pass_counts, ["dev", "test"])
    if problems:
        print("\nproblems:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print("\nok")


if __name__ == "__main__":
    main()
