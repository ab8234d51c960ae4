#!/usr/bin/python3
"""Peers, side by side: scikit-learn MultinomialNB and ComplementNB and fastText supervised,
trained on the same training rows as topicd and scored on the same validation rows, for each
version of the news-topics corpus.

Install (Debian): apt-get install -y python3-sklearn fasttext
Run with the system python (a pyenv python on PATH may lack scikit-learn):

    /usr/bin/python3 scripts/peers/peers.py                      # both versions, one row each
    /usr/bin/python3 scripts/peers/peers.py --corpus v2 --topicd # v2 only; adds topicd's row

--corpus v1, v2 or v1,v2 (the default) says which versions of ../shared/corpus (--corpus-dir) the
models train on; every model is scored on the same validation rows: the newest 20 % of each label
of the newest version asked for (for v2, a stream that is mostly `other`, crime, conflict and
politics included), and a model trained on version 1 trains on its rows that are not among them.
--data FILE trains and validates on one corpus file of your own instead.

For every label, the newest 20 % of that label's rows by date validate (topicd's default
`--validate newest=0.2`, ties broken by row order). A single date cutoff is not used because
diplomacy and other stop in 2021 (see docs/accuracy.md).

The long-document columns score concatenations of 3 to 30 validation items of one label, built
exactly as `topicctl eval --long N` builds them.

--also FILE.jsonl (repeatable) scores every model, trained on the same rows, on more labelled sets
too, such as the hand-written probe sets in scripts/experiments/probe/, and prints a second table.

This script is outside the test suite on purpose: it needs Python, scikit-learn and fastText.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

LABELS = ["cybersecurity", "migration", "diplomacy", "other"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_newest(rows, fraction):
    """Mirror of training.SplitNewest (classifier/training)."""
    by_label = {}
    for i, r in enumerate(rows):
        by_label.setdefault(r["label"], []).append(i)
    held = set()
    for idx in by_label.values():
        idx = sorted(idx, key=lambda i: rows[i].get("date", ""))  # stable: ties keep row order
        n = int(len(idx) * fraction + 0.5)
        if n == 0 and len(idx) > 1:
            n = 1
        held.update(idx[len(idx) - n:])
    train = [r for i, r in enumerate(rows) if i not in held]
    valid = [r for i, r in enumerate(rows) if i in held]
    return train, valid


def long_docs(valid, per_label):
    """Mirror of topicctl eval --long: per label, doc j joins s_j = 3 + (11*j mod 28) items,
    walking that label's validation items cyclically in row order."""
    out = []
    for label in LABELS:
        items = [r["text"] for r in valid if r["label"] == label]
        if not items:
            continue
        off = 0
        for j in range(per_label):
            s = 3 + (11 * j) % 28
            out.append({"label": label, "text": "\n\n".join(items[(off + t) % len(items)] for t in range(s))})
            off += s
    return out


def metrics(y_true, y_pred, conf):
    n = len(y_true)
    labels = [l for l in LABELS if l in y_true or l in y_pred]
    res = {"accuracy": sum(t == p for t, p in zip(y_true, y_pred)) / n, "per_label": {}}
    f1s = []
    for l in labels:
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == l and p == l)
        npred = sum(1 for p in y_pred if p == l)
        nsup = sum(1 for t in y_true if t == l)
        p = tp / npred if npred else 0.0
        r = tp / nsup if nsup else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        res["per_label"][l] = (p, r, f1, nsup)
        f1s.append(f1)
    res["macro_f1"] = sum(f1s) / len(f1s)
    # Balanced macro-F1: as if every label had the same number of documents (each true label's
    # predictions rescaled to the same total), which removes the 4:1 excess of `other`.
    rows = {t: {p: 0 for p in labels} for t in labels}
    for t, p in zip(y_true, y_pred):
        rows[t][p] += 1
    share = {t: {p: rows[t][p] / max(1, sum(rows[t].values())) for p in labels} for t in labels}
    bf = []
    for l in labels:
        pp = sum(share[t][l] for t in labels)
        p, r = (share[l][l] / pp if pp else 0.0), share[l][l]
        bf.append(2 * p * r / (p + r) if p + r else 0.0)
    res["balanced_macro_f1"] = sum(bf) / len(bf)
    bins = [[0, 0.0, 0] for _ in range(10)]  # count, sum conf, correct
    for t, p, c in zip(y_true, y_pred, conf):
        c = min(max(c, 0.0), 1.0)
        b = min(int(c * 10), 9)
        bins[b][0] += 1
        bins[b][1] += c
        bins[b][2] += t == p
    res["ece"] = sum(abs(k / cnt - s / cnt) * cnt / n for cnt, s, k in bins if cnt)
    return res


def sklearn_peer(kind, train, tests):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    vec = CountVectorizer()
    x = vec.fit_transform([r["text"] for r in train])
    model = (MultinomialNB() if kind == "mnb" else ComplementNB()).fit(x, [r["label"] for r in train])
    outs = []
    for rows in tests:
        prob = model.predict_proba(vec.transform([r["text"] for r in rows]))
        pred = [model.classes_[i] for i in prob.argmax(axis=1)]
        outs.append((pred, list(prob.max(axis=1))))
    return outs


def ft_text(s):
    return " ".join(re.findall(r"\w+", s.lower()))


def fasttext_peer(train, tests, tmp):
    path = os.path.join(tmp, "ft-train.txt")
    with open(path, "w", encoding="utf-8") as f:
        for r in train:
            f.write("__label__%s %s\n" % (r["label"], ft_text(r["text"])))
    model = os.path.join(tmp, "ft")
    subprocess.run(["fasttext", "supervised", "-input", path, "-output", model, "-epoch", "25",
                    "-lr", "0.5", "-wordNgrams", "2", "-thread", "1", "-seed", "1", "-verbose", "0"],
                   check=True)
    outs = []
    for k, rows in enumerate(tests):
        tpath = os.path.join(tmp, "ft-test-%d.txt" % k)
        with open(tpath, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(ft_text(r["text"]) + "\n")
        got = subprocess.run(["fasttext", "predict-prob", model + ".bin", tpath, "1"], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        pred, conf = [], []
        for line in got:
            lab, p = line.split()[:2]
            pred.append(lab[len("__label__"):])
            conf.append(float(p))
        outs.append((pred, conf))
    return outs


def topicd_peer(train, valid, tmp, repo, long_n, settings, also):
    """Trains topicd on the same training rows and reads `topicctl eval --json`, on the
    validation rows and on each file of also."""
    tpath, vpath, model = (os.path.join(tmp, n) for n in ("train.jsonl", "valid.jsonl", "topicd.model"))
    for p, rows in ((tpath, train), (vpath, valid)):
        with open(p, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    run = ["go", "run", "./cmd/topicctl"]
    subprocess.run(run + ["train", "--data", tpath, "--out", model, "--validate", "none"] + settings,
                   check=True, cwd=repo, stdout=subprocess.DEVNULL)
    out = subprocess.run(run + ["eval", "--model", model, "--data", vpath, "--json", "--long", str(long_n)],
                         check=True, cwd=repo, capture_output=True, text=True).stdout
    extra = []
    for path in also:
        got = subprocess.run(run + ["eval", "--model", model, "--data", os.path.abspath(path), "--json"],
                             check=True, cwd=repo, capture_output=True, text=True).stdout
        extra.append(json.loads(got)["Report"])
    return json.loads(out), extra


def row(name, version, short, longr):
    cy = short["per_label"].get("cybersecurity", (0, 0, 0, 0))
    cells = [name, version, "%.3f" % short["macro_f1"], "%.3f" % short["balanced_macro_f1"], "%.3f" % short["accuracy"]]
    for l in LABELS:
        p, r, _, _ = short["per_label"].get(l, (0, 0, 0, 0))
        cells.append("%.2f/%.2f" % (p, r))
    cells += ["%.3f" % cy[1], "%.3f" % short["ece"], "%.3f" % longr["accuracy"], "%.3f" % longr["ece"]]
    return "| " + " | ".join(cells) + " |"


CORPORA = {"v1": "news-topics-train.jsonl", "v2": "news-topics-train-v2.jsonl"}


def splits(args):
    """The training rows of each corpus version asked for, and the one validation set they are all
    scored on. With --data: that file alone, split by newest rows. Otherwise the validation rows
    are the newest 20 % of each label of the newest version asked for (v2: a stream that is mostly
    `other`, crime, conflict and politics included); an older version trains on its rows that are
    not validation rows of the newer one (version 1's rows are a subset of version 2's, same ids),
    so every model is scored on the same rows and none has trained on them."""
    if args.data:
        train, valid = split_newest(load(args.data), args.fraction)
        return [(os.path.basename(args.data), train)], valid
    versions = [v.strip() for v in args.corpus.split(",") if v.strip()]
    for v in versions:
        if v not in CORPORA:
            sys.exit("--corpus %r: want v1, v2 or v1,v2" % args.corpus)
    data = {v: load(os.path.join(args.corpus_dir, CORPORA[v])) for v in versions}
    newest = max(versions)
    train, valid = split_newest(data[newest], args.fraction)
    held = {r["id"] for r in valid}
    out = []
    for v in versions:
        rows = train if v == newest else [r for r in data[v] if r["id"] not in held]
        out.append(("corpus " + v, rows))
    return out, valid


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="v1,v2",
                    help="corpus versions to train on: v1, v2 or v1,v2 (default: both, one row each)")
    ap.add_argument("--corpus-dir", default="../shared/corpus", help="where the corpus versions are")
    ap.add_argument("--data", help="train and validate on this corpus file instead of --corpus")
    ap.add_argument("--fraction", type=float, default=0.2, help="newest share of each label that validates")
    ap.add_argument("--long", type=int, default=100, help="long documents per label")
    ap.add_argument("--topicd", action="store_true", help="also train and score topicd (needs go)")
    ap.add_argument("--topicd-flag", action="append", default=[], help="extra topicctl train flag")
    ap.add_argument("--also", action="append", default=[], metavar="FILE.jsonl",
                    help="also score every model on this labelled set (repeatable)")
    ap.add_argument("--write-split", metavar="DIR",
                    help="also write the split as DIR/train.jsonl (of the newest version) and DIR/valid.jsonl")
    args = ap.parse_args()
    extras = [load(p) for p in args.also]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    trains, valid = splits(args)
    longs = long_docs(valid, args.long)
    if args.write_split:
        os.makedirs(args.write_split, exist_ok=True)
        for name, part in (("train.jsonl", trains[-1][1]), ("valid.jsonl", valid)):
            with open(os.path.join(args.write_split, name), "w", encoding="utf-8") as f:
                for r in part:
                    f.write(json.dumps(r) + "\n")
    for name, train in trains:
        print("%s: train %d rows" % (name, len(train)), file=sys.stderr)
    print("validate %d rows, %d long documents" % (len(valid), len(longs)), file=sys.stderr)
    head = ("| model | trained on | macro-F1 | balanced macro-F1 | accuracy | " + " | ".join("%s P/R" % l for l in LABELS)
            + " | cyber recall | ECE | long acc | long ECE |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    extra_rows = []
    for version, train in trains:
        with tempfile.TemporaryDirectory() as tmp:
            tests = [valid, longs] + extras
            peers = [("sklearn MultinomialNB", lambda: sklearn_peer("mnb", train, tests)),
                     ("sklearn ComplementNB", lambda: sklearn_peer("cnb", train, tests)),
                     ("fastText supervised", lambda: fasttext_peer(train, tests, tmp))]
            for name, fit in peers:
                (sp, sc), (lp, lc), *more = fit()
                print(row(name, version, metrics([r["label"] for r in valid], sp, sc),
                          metrics([r["label"] for r in longs], lp, lc)), flush=True)
                for path, rows_, (ep, ec) in zip(args.also, extras, more):
                    extra_rows.append(extra_row(name, version, path, metrics([r["label"] for r in rows_], ep, ec)))
            if args.topicd:
                rep, more = topicd_peer(train, valid, tmp, repo, args.long, args.topicd_flag, args.also)
                print(row("topicd", version, conv(rep["Report"]), conv(rep["Long"])), flush=True)
                for path, e in zip(args.also, more):
                    extra_rows.append(extra_row("topicd", version, path, conv(e)))
    if extra_rows:
        print()
        head = ("| model | trained on | set | macro-F1 | accuracy | " + " | ".join("%s P/R" % l for l in LABELS)
                + " | ECE |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for r in sorted(extra_rows, key=lambda r: r[0]):
            print(r[1])


def conv(e):
    """metrics() of a `topicctl eval --json` report, from its confusion matrix and its ECE."""
    labs = [m["Label"] for m in e["Labels"]]
    y_true, y_pred = [], []
    for i, row_ in enumerate(e["Confusion"]):
        for j, n in enumerate(row_):
            y_true += [labs[i]] * n
            y_pred += [labs[j]] * n
    out = metrics(y_true, y_pred, [1.0] * len(y_true))
    out["ece"] = e["ExpectedCalibrationError"]
    return out


def extra_row(name, version, path, m):
    cells = [name, version, os.path.basename(path), "%.3f" % m["macro_f1"], "%.3f" % m["accuracy"]]
    for l in LABELS:
        p, r, _, _ = m["per_label"].get(l, (0, 0, 0, 0))
        cells.append("%.2f/%.2f" % (p, r))
    cells.append("%.3f" % m["ece"])
    return (os.path.basename(path), "| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
