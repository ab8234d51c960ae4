#!/usr/bin/env python3
"""Score topicscores output (one JSONL file per variant, see variants.sh) on the topic goals.

For each file: per-topic F1, macro-F1 over the three topics, exact topic set, the share of
documents about at most one topic that get a topic they are not about ("extra"), Hamming loss
and per-topic ECE (10 equal-width bins of the topic probability against whether the document is
about it), per input set, for the 140 development articles, and for all 168 development rows;
then the ECE again after a 2-fold Platt rescaling of each topic's log-odds (each half rescaled on
the other), which is what the model's own rescaling to these articles would give on articles it
was not fitted to; and the present topics of the seed-story article of multitopic2-dev.

    python3 scripts/experiments/topicscores/compare.py /tmp/topic-variants/*.jsonl
"""
import collections
import json
import math
import os
import sys
import zlib

TOPICS = ["cybersecurity", "migration", "diplomacy"]
SEED = "multitopic2-dev-24"


def metrics(rows):
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    exact = extra = single = ham = 0
    for r in rows:
        gold, pred = set(r["topics"] or []), set(r["present"] or [])
        for t in TOPICS:
            if t in pred and t in gold:
                tp[t] += 1
            elif t in pred:
                fp[t] += 1
            elif t in gold:
                fn[t] += 1
        exact += pred == gold
        ham += len(pred ^ gold)
        if len(gold) <= 1:
            single += 1
            extra += len(pred - gold) > 0
    f1 = [2 * tp[t] / (2 * tp[t] + fp[t] + fn[t]) if tp[t] + fp[t] + fn[t] else 1.0 for t in TOPICS]
    n = len(rows)
    return {"F1": sum(f1) / 3, "exact": exact / n, "extra": extra / max(single, 1),
            "ham": ham / (3 * n), "ece": ece(rows), "f1": f1}


def ece(rows):
    out = []
    for t in TOPICS:
        bins = collections.defaultdict(list)
        for r in rows:
            p = r["probabilities"][t]
            bins[min(int(p * 10), 9)].append((p, t in (r["topics"] or [])))
        out.append(sum(abs(sum(p for p, _ in b) - sum(y for _, y in b)) for b in bins.values()) / len(rows))
    return out


def logit(p):
    p = min(max(p, 1e-9), 1 - 1e-9)
    return max(-20.0, min(20.0, math.log(p / (1 - p))))


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


def platt(xs, ys):
    """Logistic regression of ys on xs (scale and shift) by Newton's method."""
    a, b = 1.0, 0.0
    for _ in range(200):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, ys):
            p = sigmoid(a * x + b)
            d, w = p - y, p * (1 - p)
            ga, gb = ga + d * x, gb + d
            haa, hab, hbb = haa + w * x * x, hab + w * x, hbb + w
        haa, hbb = haa + 1e-6, hbb + 1e-6
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-9:
            break
    return a, b


def rescaled_2fold(rows):
    out = []
    for k in range(2):
        fit = [r for r in rows if zlib.crc32(r["id"].encode()) % 2 != k]
        test = [r for r in rows if zlib.crc32(r["id"].encode()) % 2 == k]
        ab = {t: platt([logit(r["probabilities"][t]) for r in fit], [t in (r["topics"] or []) for r in fit]) for t in TOPICS}
        for r in test:
            r = dict(r)
            r["probabilities"] = {t: sigmoid(ab[t][0] * logit(r["probabilities"][t]) + ab[t][1]) for t in TOPICS}
            out.append(r)
    return out


def fmt(m):
    return "macro-F1 %.3f exact %.3f extra %.3f Hamming %.3f ECE %s" % (
        m["F1"], m["exact"], m["extra"], m["ham"], " / ".join("%.3f" % e for e in m["ece"]))


def main():
    for path in sys.argv[1:]:
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        print("==", os.path.basename(path))
        groups = collections.OrderedDict()
        for r in rows:
            groups.setdefault(os.path.basename(r["file"]), []).append(r)
        for name, rs in groups.items():
            print("  %-28s %s" % (name, fmt(metrics(rs))))
        articles = [r for r in rows if "short" not in r["file"]]
        print("  %-28s %s" % ("development articles", fmt(metrics(articles))))
        print("  %-28s %s" % ("all development rows", fmt(metrics(rows))))
        print("  %-28s ECE %s" % ("2-fold rescaled, all rows", " / ".join("%.3f" % e for e in ece(rescaled_2fold(rows)))))
        seed = [r for r in rows if r["id"] == SEED]
        if seed:
            print("  %-28s %s" % ("seed story " + SEED, ", ".join(sorted(seed[0]["present"] or [])) or "none"))


if __name__ == "__main__":
    main()
