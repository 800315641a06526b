#!/usr/bin/python3
"""Peer of the open-intent evaluation: scikit-learn TF-IDF (word 1-2 and
character 2-5 grams inside word boundaries, sublinear TF) and LinearSVC,
with a max-margin out-of-scope threshold picked the way the built-in
detector picks its own: on the same held-out folds carved from the training
data (given per row by the Go side), the highest margin that keeps held-out
in-scope accuracy within --drop of the accuracy without a threshold.

Usage: open_intent_peer.py TRAIN.tsv TEST.txt --drop 0.015 > predictions
TRAIN.tsv rows: text, intent, group (fold leaving the intent out, -1 for
none), fold (fold holding the row out). TEST.txt: one text per line.
Prints one predicted intent (or "oos") per test line; the chosen threshold
and the held-out figures go to stderr as JSON.
"""
import argparse, csv, json, sys, time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_union
from sklearn.svm import LinearSVC


def model():
    return make_union(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    ), LinearSVC(C=1.0)


def fit(texts, labels):
    vec, clf = model()
    clf.fit(vec.fit_transform(texts), labels)
    return vec, clf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--drop", type=float, default=0.015)
    a = ap.parse_args()
    rows = list(csv.reader(open(a.train, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))
    texts = [r[0] for r in rows]
    labels = [r[1] for r in rows]
    groups = [int(r[2]) for r in rows]
    folds = [int(r[3]) for r in rows]
    per_intent = {}
    for l in labels:
        per_intent[l] = per_intent.get(l, 0) + 1
    nfolds = max(folds) + 1
    start = time.time()
    scores, correct = [], []
    for k in range(nfolds):
        fit_idx = [i for i in range(len(rows)) if groups[i] != k and not (folds[i] == k and per_intent[labels[i]] > 1)]
        val_idx = [i for i in range(len(rows)) if groups[i] != k and folds[i] == k and per_intent[labels[i]] > 1]
        if not val_idx:
            continue
        vec, clf = fit([texts[i] for i in fit_idx], [labels[i] for i in fit_idx])
        m = clf.decision_function(vec.transform([texts[i] for i in val_idx]))
        pred = clf.classes_[m.argmax(1)]
        scores += list(m.max(1))
        correct += [pred[j] == labels[i] for j, i in enumerate(val_idx)]
    scores, correct = np.array(scores), np.array(correct)
    order = np.argsort(scores, kind="stable")
    s, c = scores[order], correct[order]
    n, closed = len(s), c.sum()
    floor = closed / n - a.drop
    thr, lost = -np.inf, 0
    for i in range(n):
        if c[i]:
            lost += 1
        if (closed - lost) / n < floor:
            break
        if i + 1 < n and s[i + 1] > s[i]:
            thr = (s[i] + s[i + 1]) / 2
    vec, clf = fit(texts, labels)
    train_s = time.time() - start
    test = [l.rstrip("\n") for l in open(a.test)]
    t0 = time.time()
    m = clf.decision_function(vec.transform(test))
    pred = clf.classes_[m.argmax(1)]
    top = m.max(1)
    infer_s = time.time() - t0
    for p, sc in zip(pred, top):
        print(p if sc >= thr else "oos")
    json.dump({"threshold": float(thr), "held_out_in_scope": int(n), "closed_accuracy": float(closed / n),
               "accuracy": float(((s >= thr) & c).sum() / n), "train_s": train_s, "infer_s": infer_s}, sys.stderr)


if __name__ == "__main__":
    main()
