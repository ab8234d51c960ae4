#!/usr/bin/python3
"""Settings experiments for topicd's default model: one `topicctl train --validate-only` run per
row and split, printed as the markdown table of docs/accuracy.md.

    go build -o /tmp/topicctl ./cmd/topicctl
    python3 scripts/experiments/run.py --topicctl /tmp/topicctl --data ../shared/corpus/news-topics-train-v2.jsonl

Every row starts from the shipped defaults of `topicctl train` and changes the flags it lists, so
the first row is the chosen model. Two validations per row: `newest=0.2` (the newest 20 % of each
label by date: later years than the training rows) and `kfold=5` (stratified 5-fold). Training
rows never include a validation row; calibration is fitted on out-of-fold training rows only.
Only the standard library is needed.

--also FILE.jsonl (repeatable) prints a second table: each row's settings trained on every corpus
row, as the shipped model is, and scored on those files, such as the development halves of the
hand-written probe sets in scripts/experiments/probe/ (text unlike the corpus).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# (name, extra flags). The base is the defaults of `topicctl train` (the shipped recipe).
# --calibration-mix= clears the shipped calibration mix where a row calibrates by balance instead.
BALANCE = ["--calibration-mix="]
ROWS = [
    ("chosen defaults", []),
    # naive-Bayes variant and smoothing
    ("multinomial NB", ["--variant", "multinomial"]),
    ("alpha 0.05", ["--alpha", "0.05"]),
    ("alpha 0.5", ["--alpha", "0.5"]),
    ("alpha 1", ["--alpha", "1"]),
    ("alpha 2", ["--alpha", "2"]),
    # priors
    ("priors uniform", ["--priors", "uniform"]),
    ("priors balanced", ["--priors", "balanced"]),
    # what to do with the excess of other
    ("no label weights", ["--label-weights="]),
    ("label weights cyber=3,migration=1.5", ["--label-weights", "cybersecurity=3,migration=1.5"]),
    ("label weights cyber=10,migration=2", ["--label-weights", "cybersecurity=10,migration=2"]),
    ("label weights other=0.25", ["--label-weights", "cybersecurity=5,migration=2,other=0.25"]),
    ("label weights diplomacy=0.5", ["--label-weights", "cybersecurity=5,migration=2,diplomacy=0.5"]),
    ("cap 8000 rows per label", ["--max-docs-per-label", "8000"]),
    # tokenisation
    ("keep stop words", ["--stop-words=false"]),
    ("word pairs", ["--bigrams"]),
    ("min length 1", ["--min-length", "1"]),
    ("min length 3", ["--min-length", "3"]),
    ("keep numbers", ["--drop-numbers=false"]),
    # vocabulary cut and feature selection
    ("min term count 1", ["--min-term-count", "1"]),
    ("min term count 5", ["--min-term-count", "5"]),
    ("chi-squared: keep 20000 terms", ["--max-terms", "20000"]),
    ("chi-squared: keep 10000 terms", ["--max-terms", "10000"]),
    ("chi-squared: keep 5000 terms", ["--max-terms", "5000"]),
    ("chi-squared: keep 2000 terms", ["--max-terms", "2000"]),
    ("word pairs, chi-squared: keep 40000 terms", ["--bigrams", "--max-terms", "40000"]),
    ("word pairs, chi-squared: keep 20000 terms", ["--bigrams", "--max-terms", "20000"]),
    ("word pairs, chi-squared: keep 10000 terms", ["--bigrams", "--max-terms", "10000"]),
    # label_source=text rows
    ("drop label_source=text rows", ["--text-labels", "drop"]),
    # calibration form
    ("calibration: none", ["--calibrate", "none"]),
    ("calibration: temperature only", ["--calibrate", "temperature"]),
    ("calibration: temperature growing with a power of n, no bias", ["--calibrate", "power"]),
    ("calibration: ln n form with bias", ["--calibrate", "length+bias"]),
    ("calibration: long documents carry 25 % of the loss", ["--long-share", "0.25"]),
    # the label mix the calibration (and so the decision) is fitted for
    ("mix: the corpus' own (cybersecurity 1 %)", BALANCE + ["--calibration-balance", "0"]),
    ("mix: cybersecurity 3 %", ["--calibration-mix", "cybersecurity=0.03"]),
    ("mix: cybersecurity 8 %", ["--calibration-mix", "cybersecurity=0.08"]),
    ("mix: cybersecurity 5 %, diplomacy 6 %", ["--calibration-mix", "cybersecurity=0.05,diplomacy=0.06"]),
    ("mix: cybersecurity 5 %, diplomacy 12 %", ["--calibration-mix", "cybersecurity=0.05,diplomacy=0.12"]),
    ("mix: balance 0.25 (version 1's default)", BALANCE + ["--calibration-balance", "0.25"]),
    ("mix: balance 0.5", BALANCE + ["--calibration-balance", "0.5"]),
    ("mix: balance 1 (even)", BALANCE + ["--calibration-balance", "1"]),
    ("version 1's settings", BALANCE + ["--calibration-balance", "0.25"]),
    # goml-like baseline: plain multinomial, add-one, learned priors, raw tokens
    ("plain multinomial (no weights, learned priors, all tokens)",
     ["--variant", "multinomial", "--alpha", "1", "--priors", "learned", "--label-weights=",
      "--min-length", "0", "--drop-numbers=false", "--stop-words=false", "--min-term-count", "0"]),
]

# The topic calibration does not change the label, its confidence or any number here; leaving it
# out makes each row several times faster.
BASE = ["--topic-features", "none", "--topic-articles="]


def balanced_macro_f1(confusion):
    """Macro-F1 had every label the same number of documents: each true-label row of the
    confusion matrix is rescaled to the same total. It shows what the 4:1 excess of `other` in
    the validation rows does to precision."""
    k = len(confusion)
    rows = [[v / max(1, sum(row)) for v in row] for row in confusion]
    f1 = []
    for j in range(k):
        predicted = sum(rows[i][j] for i in range(k))
        p = rows[j][j] / predicted if predicted else 0.0
        r = rows[j][j]
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(f1) / k


def label(r, name):
    return next((m for m in r["Labels"] if m["Label"] == name), {"Precision": 0, "Recall": 0})


def measure(topicctl, data, flags, validate):
    out = subprocess.run([topicctl, "train", "--data", data, "--validate-only", "--json",
                          "--validate", validate] + BASE + flags, check=True, capture_output=True, text=True).stdout
    v = json.loads(out)["Validation"]
    r = v["Report"]
    cy, di = label(r, "cybersecurity"), label(r, "diplomacy")
    cells = ["%.3f" % r["Accuracy"], "%.3f" % r["MacroF1"], "%.3f" % balanced_macro_f1(r["Confusion"]),
             "%.2f/%.2f" % (cy["Precision"], cy["Recall"]), "%.2f/%.2f" % (di["Precision"], di["Recall"]),
             "%.3f" % r["ExpectedCalibrationError"]]
    if v.get("Long"):
        cells.append("%.3f" % v["Long"]["ExpectedCalibrationError"])
    return cells


def measure_also(topicctl, data, flags, files, tmp):
    """Trains on every row of data with flags and scores each file: macro-F1, cyber P/R, ECE."""
    model = os.path.join(tmp, "row.model")
    subprocess.run([topicctl, "train", "--data", data, "--validate", "none", "--out", model] + BASE + flags,
                   check=True, capture_output=True)
    cells = []
    for f in files:
        out = subprocess.run([topicctl, "eval", "--model", model, "--data", f, "--json"],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)["Report"]
        cy, di = label(r, "cybersecurity"), label(r, "diplomacy")
        cells += ["%.3f" % r["Accuracy"], "%.3f" % r["MacroF1"], "%.2f/%.2f" % (cy["Precision"], cy["Recall"]),
                  "%.2f/%.2f" % (di["Precision"], di["Recall"]), "%.3f" % r["ExpectedCalibrationError"]]
    return cells


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topicctl", default="/tmp/topicctl")
    ap.add_argument("--data", default="../shared/corpus/news-topics-train-v2.jsonl")
    ap.add_argument("--only", action="append", default=[], help="run only rows whose name contains this (repeatable: any of them)")
    ap.add_argument("--no-valid", action="store_true", help="only the --also table")
    ap.add_argument("--newest-only", action="store_true", help="skip the slower k-fold column")
    ap.add_argument("--flags", help="extra flags for every row (a quick what-if)", default="")
    ap.add_argument("--also", action="append", default=[], metavar="FILE.jsonl",
                    help="also train each row on every corpus row and score it on this file (repeatable)")
    args = ap.parse_args()
    extra = args.flags.split()
    rows = [(name, flags) for name, flags in ROWS if not args.only or any(o in name for o in args.only)]
    cols = "accuracy | macro-F1 | balanced macro-F1 | cyber P/R | diplomacy P/R | ECE | long ECE"
    if args.no_valid:
        pass
    elif args.newest_only:
        print("| settings (change from defaults) | newest: " + cols + " |")
        print("|---|" + "---|" * 7)
    else:
        print("| settings (change from defaults) | newest: " + cols + " | 5-fold: " + cols + " |")
        print("|---|" + "---|" * 14)
    for name, flags in rows if not args.no_valid else []:
        cells = measure(args.topicctl, args.data, extra + flags, "newest=0.2")
        if not args.newest_only:
            cells += measure(args.topicctl, args.data, extra + flags, "kfold=5")
        print("| %s | %s |" % (name, " | ".join(cells)), flush=True)
    if args.also:
        names = [os.path.basename(f).rsplit(".", 1)[0] for f in args.also]
        print()
        print("| settings (change from defaults), trained on every row | "
              + " | ".join("%s: accuracy | macro-F1 | cyber P/R | diplomacy P/R | ECE" % n for n in names) + " |")
        print("|---|" + "---|" * 5 * len(names))
        with tempfile.TemporaryDirectory() as tmp:
            for name, flags in rows:
                cells = measure_also(args.topicctl, args.data, extra + flags, args.also, tmp)
                print("| %s | %s |" % (name, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
