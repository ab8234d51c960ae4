#!/usr/bin/python3
"""Settings experiments for topicd's default model: one `topicctl train --validate-only` run per
row and split, printed as the markdown table of docs/accuracy.md.

    go build -o /tmp/topicctl ./cmd/topicctl
    python3 scripts/experiments/run.py --topicctl /tmp/topicctl --data ../shared/corpus/news-topics-train.jsonl

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

# (name, extra flags). The base is the defaults of `topicctl train`.
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
    # what to do with the 4:1 excess of other
    ("no label weights", ["--label-weights="]),
    ("label weights cyber=3,migration=1.5", ["--label-weights", "cybersecurity=3,migration=1.5"]),
    ("label weights cyber=8,migration=3", ["--label-weights", "cybersecurity=8,migration=3"]),
    ("label weights other=0.25", ["--label-weights", "other=0.25"]),
    ("cap 4000 rows per label", ["--max-docs-per-label", "4000"]),
    # tokenisation
    ("keep stop words", ["--stop-words=false"]),
    ("word pairs", ["--bigrams"]),
    ("min length 1", ["--min-length", "1"]),
    ("min length 3", ["--min-length", "3"]),
    ("keep numbers", ["--drop-numbers=false"]),
    ("min term count 1", ["--min-term-count", "1"]),
    ("min term count 5", ["--min-term-count", "5"]),
    # label_source=text rows
    ("drop label_source=text rows", ["--text-labels", "drop"]),
    # calibration
    ("calibration: none", ["--calibrate", "none"]),
    ("calibration: temperature only", ["--calibrate", "temperature"]),
    ("calibration: temperature growing with ln n, no bias", ["--calibrate", "length"]),
    ("calibration: temperature growing with a power of n, no bias", ["--calibrate", "power"]),
    ("calibration: ln n form with bias (the previous default)", ["--calibrate", "length+bias"]),
    ("calibration: bias for the training mix (balance 0)", ["--calibration-balance", "0"]),
    ("calibration: bias for a half-balanced mix (balance 0.5)", ["--calibration-balance", "0.5"]),
    ("calibration: bias for a balanced mix (balance 1)", ["--calibration-balance", "1"]),
    ("first default: cyber=3,migration=1.5, ln n calibration, no bias",
     ["--label-weights", "cybersecurity=3,migration=1.5", "--calibrate", "length"]),
    # goml-like baseline: plain multinomial, add-one, learned priors, raw tokens
    ("plain multinomial (no weights, learned priors, all tokens)",
     ["--variant", "multinomial", "--alpha", "1", "--priors", "learned", "--label-weights=",
      "--min-length", "0", "--drop-numbers=false", "--stop-words=false", "--min-term-count", "0"]),
]


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


def measure(topicctl, data, flags, validate):
    out = subprocess.run([topicctl, "train", "--data", data, "--validate-only", "--json",
                          "--validate", validate] + flags, check=True, capture_output=True, text=True).stdout
    v = json.loads(out)["Validation"]
    r = v["Report"]
    cy = next(m for m in r["Labels"] if m["Label"] == "cybersecurity")
    cells = ["%.3f" % r["MacroF1"], "%.3f" % balanced_macro_f1(r["Confusion"]),
             "%.2f/%.2f" % (cy["Precision"], cy["Recall"]), "%.3f" % r["ExpectedCalibrationError"]]
    if v.get("Long"):
        cells.append("%.3f" % v["Long"]["ExpectedCalibrationError"])
    return cells


def measure_also(topicctl, data, flags, files, tmp):
    """Trains on every row of data with flags and scores each file: macro-F1, cyber P/R, ECE."""
    model = os.path.join(tmp, "row.model")
    subprocess.run([topicctl, "train", "--data", data, "--validate", "none", "--out", model] + flags,
                   check=True, capture_output=True)
    cells = []
    for f in files:
        out = subprocess.run([topicctl, "eval", "--model", model, "--data", f, "--json"],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)["Report"]
        cy = next(m for m in r["Labels"] if m["Label"] == "cybersecurity")
        cells += ["%.3f" % r["MacroF1"], "%.2f/%.2f" % (cy["Precision"], cy["Recall"]),
                  "%.3f" % r["ExpectedCalibrationError"]]
    return cells


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--topicctl", default="/tmp/topicctl")
    ap.add_argument("--data", default="../shared/corpus/news-topics-train.jsonl")
    ap.add_argument("--only", help="run only rows whose name contains this")
    ap.add_argument("--newest-only", action="store_true", help="skip the slower k-fold column")
    ap.add_argument("--flags", help="extra flags for every row (a quick what-if)", default="")
    ap.add_argument("--also", action="append", default=[], metavar="FILE.jsonl",
                    help="also train each row on every corpus row and score it on this file (repeatable)")
    args = ap.parse_args()
    extra = args.flags.split()
    rows = [(name, flags) for name, flags in ROWS if not args.only or args.only in name]
    print("| settings (change from defaults) | newest: macro-F1 | balanced macro-F1 | cyber P/R | ECE | long ECE "
          "| 5-fold: macro-F1 | balanced macro-F1 | cyber P/R | ECE | long ECE |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, flags in rows:
        cells = measure(args.topicctl, args.data, extra + flags, "newest=0.2")
        if not args.newest_only:
            cells += measure(args.topicctl, args.data, extra + flags, "kfold=5")
        print("| %s | %s |" % (name, " | ".join(cells)), flush=True)
    if args.also:
        names = [os.path.basename(f).rsplit(".", 1)[0] for f in args.also]
        print()
        print("| settings (change from defaults), trained on every row | "
              + " | ".join("%s: macro-F1 | cyber P/R | ECE" % n for n in names) + " |")
        print("|---|" + "---|---|---|" * len(names))
        with tempfile.TemporaryDirectory() as tmp:
            for name, flags in rows:
                cells = measure_also(args.topicctl, args.data, extra + flags, args.also, tmp)
                print("| %s | %s |" % (name, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
