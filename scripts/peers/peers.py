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

--topics compares topicd's per-topic output with multi-label peers instead. The peers train on
every row of ../shared/corpus/news-topics-train-v2.jsonl with its `topics` list (cybersecurity,
migration, diplomacy; [] for `other`) and every reading is scored on the --also files and on each
--also-joined concatenation, one markdown table per set:

    /usr/bin/python3 scripts/peers/peers.py --topics \\
        --also scripts/experiments/probe/multitopic-dev.jsonl \\
        --also scripts/experiments/probe/border-dev.jsonl \\
        --also scripts/experiments/probe/multitopic2-dev.jsonl \\
        --also scripts/experiments/probe/multitopic-short-dev.jsonl \\
        --also scripts/experiments/probe/multitopic-test.jsonl \\
        --also scripts/experiments/probe/border-test.jsonl \\
        --also scripts/experiments/probe/multitopic2-test.jsonl \\
        --also-joined test140=scripts/experiments/probe/multitopic-test.jsonl,scripts/experiments/probe/border-test.jsonl,scripts/experiments/probe/multitopic2-test.jsonl \\
        --also-joined dev168=scripts/experiments/probe/multitopic-dev.jsonl,scripts/experiments/probe/border-dev.jsonl,scripts/experiments/probe/multitopic2-dev.jsonl,scripts/experiments/probe/multitopic-short-dev.jsonl

The readings:
- scikit-learn OneVsRestClassifier(MultinomialNB()) on CountVectorizer() counts (default settings
  and tokenizer, as the label peers), a topic present at probability >= 0.9 and, a second row of
  the same model, >= 0.5; and the same with MultinomialNB(fit_prior=False), each topic's binary
  model at an even prior, at both thresholds.
- fastText supervised with -loss ova (the label peer's settings otherwise), one __label__ per
  topic and __label__none for a row with no topic: fastText skips a training line without a
  label, which would drop every `other` row, the only rows that teach a topic's absence. The none
  classifier's output is ignored; a topic is present at p >= 0.5.
- topicd's label read as a topic set: the predicted label, or no topic for `other`; its topic
  probability is 1 for that topic and 0 for the others (the label's confidence is over four
  exclusive labels, not a topic's chance), so its ECE is the share of wrong decisions per topic.
- topicd's own topics: their probabilities, present at the model's thresholds.
topicd's readings come from the shipped model (--model, default models/news-topics.model) through
`go run ./scripts/experiments/topicscores`, one row each, so every reading is scored by the same
Python; `topicctl eval --json` on each set names the model version and checks that Python against
topicd's own topic report.

Columns: macro-F1 over the three topics and each topic's F1; exact topic set; extra (the share of
documents about at most one topic given a topic they are not about); Hamming loss; each topic's
ECE over 10 equal-width bins of its probability against whether the document is about it.

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


TOPICS = ["cybersecurity", "migration", "diplomacy"]


def topic_metrics(truth, present, prob):
    """Mirror of training.EvaluateTopics (classifier/training/topiceval.go): truth and present are
    topic sets, prob maps each topic to its probability, one of each per document."""
    n, k = len(truth), len(TOPICS)
    exact = sum(t == p for t, p in zip(truth, present))
    wrong = sum(len(t ^ p) for t, p in zip(truth, present))
    single = [(t, p) for t, p in zip(truth, present) if len(t) <= 1]
    res = {"exact": exact / n, "hamming": wrong / (n * k), "single": len(single),
           "extra": sum(bool(p - t) for t, p in single) / len(single) if single else 0.0,
           "f1": {}, "ece": {}}
    for topic in TOPICS:
        tp = sum(topic in t and topic in p for t, p in zip(truth, present))
        fp = sum(topic not in t and topic in p for t, p in zip(truth, present))
        fn = sum(topic in t and topic not in p for t, p in zip(truth, present))
        res["f1"][topic] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        bins = [[0, 0.0, 0] for _ in range(10)]  # count, sum probability, about the topic
        for t, pr in zip(truth, prob):
            c = min(max(pr[topic], 0.0), 1.0)
            b = min(int(c * 10), 9)
            bins[b][0] += 1
            bins[b][1] += c
            bins[b][2] += topic in t
        res["ece"][topic] = sum(abs(a / cnt - s / cnt) * cnt / n for cnt, s, a in bins if cnt)
    res["macro_f1"] = sum(res["f1"].values()) / k
    return res


def sklearn_topics(train, tests, fit_prior=True):
    """One-vs-rest MultinomialNB: each test set's per-row topic probabilities. With fit_prior
    False each topic's binary model assumes an even prior, which keeps thin topics (1 % of rows
    are about cybersecurity) from never reaching a threshold."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.preprocessing import MultiLabelBinarizer
    vec = CountVectorizer()
    x = vec.fit_transform([r["text"] for r in train])
    mlb = MultiLabelBinarizer(classes=TOPICS)
    model = OneVsRestClassifier(MultinomialNB(fit_prior=fit_prior)).fit(x, mlb.fit_transform([r["topics"] for r in train]))
    outs = []
    for rows in tests:
        prob = model.predict_proba(vec.transform([r["text"] for r in rows]))
        outs.append([dict(zip(mlb.classes_, map(float, p))) for p in prob])
    return outs


def fasttext_topics(train, tests, tmp):
    """fastText -loss ova: each test set's per-row topic probabilities. A row with no topic trains
    as __label__none, since fastText skips a line without a label."""
    path = os.path.join(tmp, "ft-topics-train.txt")
    with open(path, "w", encoding="utf-8") as f:
        for r in train:
            labels = " ".join("__label__" + t for t in r["topics"]) or "__label__none"
            f.write("%s %s\n" % (labels, ft_text(r["text"])))
    model = os.path.join(tmp, "ft-topics")
    subprocess.run(["fasttext", "supervised", "-input", path, "-output", model, "-loss", "ova", "-epoch", "25",
                    "-lr", "0.5", "-wordNgrams", "2", "-thread", "1", "-seed", "1", "-verbose", "0"],
                   check=True)
    outs = []
    for k, rows in enumerate(tests):
        tpath = os.path.join(tmp, "ft-topics-test-%d.txt" % k)
        with open(tpath, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(ft_text(r["text"]) + "\n")
        # k = -1 with threshold 0: every label's own sigmoid, not only the best.
        got = subprocess.run(["fasttext", "predict-prob", model + ".bin", tpath, "-1", "0"], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        if len(got) != len(rows):
            sys.exit("fastText predicted %d rows of %d" % (len(got), len(rows)))
        out = []
        for line in got:
            f = line.split()
            probs = {lab[len("__label__"):]: float(p) for lab, p in zip(f[::2], f[1::2])}
            out.append({t: probs.get(t, 0.0) for t in TOPICS})
        outs.append(out)
    return outs


def topicd_topics(sets, tmp, repo, model):
    """topicd's shipped model on each set: the model version, and per row its label and topic
    probabilities and present topics, read from scripts/experiments/topicscores. topicctl eval's
    own topic report on the same set is kept to check topic_metrics against."""
    tools = {}
    for name, pkg in (("topicctl", "./cmd/topicctl"), ("topicscores", "./scripts/experiments/topicscores")):
        tools[name] = os.path.join(tmp, name)
        subprocess.run(["go", "build", "-o", tools[name], pkg], check=True, cwd=repo)
    version, outs = None, []
    for k, (name, rows) in enumerate(sets):
        path = os.path.join(tmp, "topics-set-%d.jsonl" % k)
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        ev = json.loads(subprocess.run([tools["topicctl"], "eval", "--json", "--model", model, "--data", path],
                                       check=True, cwd=repo, capture_output=True, text=True).stdout)
        if version not in (None, ev["Version"]):
            sys.exit("model %s changed version during the run: %s, then %s" % (model, version, ev["Version"]))
        version = ev["Version"]
        got = subprocess.run([tools["topicscores"], "-model", model, path], check=True, cwd=repo,
                             capture_output=True, text=True).stdout.splitlines()
        per_row = [json.loads(line) for line in got]
        if [p["id"] for p in per_row] != [r["id"] for r in rows]:
            sys.exit("topicscores on %s: rows do not line up with the set's ids" % name)
        outs.append((per_row, ev["Topics"]))
    return version, outs


def check_against_eval(name, got, rep):
    """Says on stderr where topic_metrics disagrees with topicctl eval's topic report."""
    want = {"macro_f1": rep["MacroF1"], "exact": rep["ExactMatch"], "hamming": rep["HammingLoss"],
            "extra": rep["ExtraTopic"]}
    for t in rep["Topics"]:
        want["f1 " + t["Topic"]] = t["F1"]
        want["ece " + t["Topic"]] = t["ECE"]
    have = dict(got, **{"f1 " + t: v for t, v in got["f1"].items()}, **{"ece " + t: v for t, v in got["ece"].items()})
    bad = ["%s %.6f (eval %.6f)" % (key, have[key], v) for key, v in want.items() if abs(have[key] - v) > 1e-9]
    if bad:
        print("WARNING: %s: topicd topics scored here differ from topicctl eval: %s" % (name, "; ".join(bad)),
              file=sys.stderr)
    else:
        print("%s: topicd topics scored here match topicctl eval" % name, file=sys.stderr)


def topic_row(name, m):
    cells = [name, "%.3f" % m["macro_f1"]] + ["%.3f" % m["f1"][t] for t in TOPICS]
    cells += ["%.3f" % m["exact"], "%.3f" % m["extra"], "%.3f" % m["hamming"]] + ["%.3f" % m["ece"][t] for t in TOPICS]
    return "| " + " | ".join(cells) + " |"


def topics_mode(args, repo):
    sets = [(os.path.basename(p), load(p)) for p in args.also]
    for spec in args.also_joined:
        name, sep, files = spec.partition("=")
        if not sep or not name or not files:
            sys.exit("--also-joined %r: want NAME=FILE,FILE,..." % spec)
        sets.append((name, [r for p in files.split(",") for r in load(p)]))
    if not sets:
        sys.exit("--topics: give the sets to score with --also FILE.jsonl or --also-joined NAME=FILE,...")
    for name, rows in sets:
        for r in rows:
            if not isinstance(r.get("topics"), list) or not set(r["topics"]) <= set(TOPICS):
                sys.exit("%s: row %s: want a topics list drawn from %s" % (name, r.get("id"), ", ".join(TOPICS)))
    train = load(os.path.join(args.corpus_dir, CORPORA["v2"]))
    print("train %d rows of corpus v2 (every row); sets: %s" % (
        len(train), ", ".join("%s %d" % (n, len(r)) for n, r in sets)), file=sys.stderr)
    tests = [rows for _, rows in sets]
    model = os.path.abspath(os.path.join(repo, args.model))
    readings = [[] for _ in sets]  # per set: (reading, metrics)
    with tempfile.TemporaryDirectory() as tmp:
        version, topicd = topicd_topics(sets, tmp, repo, model)
        nb = sklearn_topics(train, tests)
        nbu = sklearn_topics(train, tests, fit_prior=False)
        ft = fasttext_topics(train, tests, tmp)
    thresholds = {}
    for k, (name, rows) in enumerate(sets):
        truth = [set(r["topics"]) for r in rows]
        for th in (0.9, 0.5):
            present = [{t for t in TOPICS if p[t] >= th} for p in nb[k]]
            readings[k].append(("sklearn one-vs-rest MultinomialNB, p >= %.1f" % th, topic_metrics(truth, present, nb[k])))
        for th in (0.9, 0.5):
            present = [{t for t in TOPICS if p[t] >= th} for p in nbu[k]]
            readings[k].append(("sklearn one-vs-rest MultinomialNB, even priors, p >= %.1f" % th, topic_metrics(truth, present, nbu[k])))
        present = [{t for t in TOPICS if p[t] >= 0.5} for p in ft[k]]
        readings[k].append(("fastText -loss ova, p >= 0.5", topic_metrics(truth, present, ft[k])))
        per_row, rep = topicd[k]
        label_sets = [{p["predicted"]} & set(TOPICS) for p in per_row]
        label_prob = [{t: float(t in s) for t in TOPICS} for s in label_sets]
        readings[k].append(("topicd label as a topic set", topic_metrics(truth, label_sets, label_prob)))
        own = topic_metrics(truth, [set(p["present"] or []) for p in per_row],
                            [{t: p["probabilities"][t] for t in TOPICS} for p in per_row])
        check_against_eval(name, own, rep)
        readings[k].append(("topicd topics", own))
        for p in per_row:
            thresholds.update(p["thresholds"])
    print("topicd: %s, version %s; topic thresholds %s" % (
        args.model, version, ", ".join("%s %.3f" % (t, thresholds[t]) for t in TOPICS if t in thresholds)))
    head = ("| reading | macro-F1 | " + " | ".join("F1 %s" % t for t in TOPICS) + " | exact | extra | Hamming | "
            + " | ".join("ECE %s" % t for t in TOPICS) + " |")
    for (name, rows), got in zip(sets, readings):
        single = got[0][1]["single"]
        print("\n%s: %d documents, %d about at most one topic\n" % (name, len(rows), single))
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for reading, m in got:
            print(topic_row(reading, m))


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
    ap.add_argument("--topics", action="store_true",
                    help="score topic sets instead: multi-label peers trained on corpus v2's topics, and topicd's "
                         "shipped model, on the --also and --also-joined sets")
    ap.add_argument("--also-joined", action="append", default=[], metavar="NAME=FILE,FILE,...",
                    help="with --topics, also score the concatenation of these files as one set (repeatable)")
    ap.add_argument("--model", default="models/news-topics.model",
                    help="with --topics, topicd's model file, relative to the repository")
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if args.topics:
        topics_mode(args, repo)
        return
    extras = [load(p) for p in args.also]
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
