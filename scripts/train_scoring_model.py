#!/usr/bin/env python3
"""Trains the transaction anomaly model and exports it for the node.

Writes (reproducibly: every random draw comes from one seeded generator):
  config/models/scoring.onnx          the model (IsolationForest, skl2onnx)
  config/models/scoring_fixture.json  raw rows, their features, sklearn's and onnxruntime's scores:
                                      the Rust tests check that serving computes the same features
                                      and the same scores
  docs/scoring.md                     the evaluation block between the eval markers

Features: see FEATURES below and docs/scoring.md; src/scoring/features.rs implements the same
formulas (the fixture test keeps them equal). Score = -decision_function: higher is more
anomalous, > 0 is sklearn's outlier side.

Usage: .venv/bin/python scripts/train_scoring_model.py
"""
import json
import math
import os
import re
import sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import precision_score, recall_score
from skl2onnx import to_onnx
import onnxruntime as ort

SEED = 20261121
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = [
    "amount_ratio",     # amount / max(balance, 1), clamped to [0, 1]
    "log_amount",       # ln(1 + amount)
    "log_fee",          # ln(1 + fee)
    "nonce_gap",        # min(tx nonce - account nonce, 1024)
    "log_sender_age",   # ln(1 + account nonce): transfers the sender has made (age proxy)
    "sender_pending",   # min(sender's transfers already pending in the mempool, 1024)
    "new_recipient",    # 1 if the transfer creates a new account, else 0
]


def features(balance, amount, fee, nonce_gap, sender_nonce, pending, new_recipient):
    """The feature row of one transfer (float64, cast to float32 at the end, as in Rust)."""
    return [
        min(max(amount / max(balance, 1), 0.0), 1.0),
        math.log1p(amount),
        math.log1p(fee),
        float(min(nonce_gap, 1024)),
        math.log1p(sender_nonce),
        float(min(pending, 1024)),
        1.0 if new_recipient else 0.0,
    ]


def normal_raw(rng):
    balance = int(max(1, rng.lognormal(10, 1.5)))
    amount = int(max(1, balance * rng.beta(1.2, 20)))
    fee = int(1 + rng.poisson(3))
    nonce_gap = int(rng.geometric(0.8) - 1)
    sender_nonce = int(rng.poisson(30))
    pending = int(rng.poisson(1))
    new_recipient = bool(rng.random() < 0.05)
    return [balance, amount, fee, nonce_gap, sender_nonce, pending, new_recipient]


def anomalous_raw(rng):
    r = normal_raw(rng)
    traits = rng.choice(5, size=int(rng.integers(2, 4)), replace=False)
    for t in traits:
        if t == 0:  # drains the account
            r[1] = int(max(1, r[0] * rng.uniform(0.9, 1.0)))
        elif t == 1:  # absurd fee
            r[2] = int(rng.integers(1000, 100000))
        elif t == 2:  # far-ahead nonce
            r[3] = int(rng.integers(20, 64))
        elif t == 3:  # fresh account flooding the pool
            r[4] = 0
            r[5] = int(rng.integers(20, 64))
        else:  # fresh account paying new keys
            r[4] = 0
            r[6] = True
    return r


def dataset(rng, n, anomaly_rate):
    raws, labels = [], []
    for _ in range(n):
        bad = rng.random() < anomaly_rate
        raws.append(anomalous_raw(rng) if bad else normal_raw(rng))
        labels.append(1 if bad else 0)
    x = np.array([features(*r) for r in raws], dtype=np.float64).astype(np.float32)
    return raws, x, np.array(labels)


def main():
    rng = np.random.default_rng(SEED)
    _, x_train, _ = dataset(rng, 20000, 0.0)  # trained on normal traffic
    raws_test, x_test, y_test = dataset(rng, 5000, 0.05)
    model = IsolationForest(n_estimators=100, max_samples=256, contamination=0.01, random_state=SEED)
    model.fit(x_train)
    score_test = -model.decision_function(x_test)
    pred = (score_test > 0).astype(int)
    precision = precision_score(y_test, pred)
    recall = recall_score(y_test, pred)

    onx = to_onnx(model, x_train[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    # skl2onnx lists opsets in set order (varies per process): sort for byte-identical output.
    opsets = sorted(((o.domain, o.version) for o in onx.opset_import))
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    path = os.path.join(ROOT, "config/models/scoring.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in sess.get_outputs()]
    fixture_idx = list(range(48)) + [i for i in range(len(y_test)) if y_test[i] == 1][:16]
    xf = x_test[fixture_idx]
    onnx_scores = sess.run(["scores"], {sess.get_inputs()[0].name: xf})[0].reshape(-1)
    fixture = {
        "features": FEATURES,
        "onnx_outputs": outputs,
        "rows": [
            {
                "raw": dict(zip(["balance", "amount", "fee", "nonce_gap", "sender_nonce",
                                 "pending", "new_recipient"], raws_test[i])),
                "features": [float(v) for v in x_test[i]],
                "sklearn_score": float(score_test[i]),
                "onnx_decision": float(onnx_scores[k]),
                "anomaly": int(y_test[i]),
            }
            for k, i in enumerate(fixture_idx)
        ],
    }
    max_diff = float(np.max(np.abs(-onnx_scores - score_test[fixture_idx])))
    with open(os.path.join(ROOT, "config/models/scoring_fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")

    normal = score_test[y_test == 0]
    bad = score_test[y_test == 1]
    block = "\n".join([
        "<!-- eval:begin (written by scripts/train_scoring_model.py) -->",
        f"Seed {SEED}; IsolationForest(n_estimators=100, max_samples=256, contamination=0.01) trained on",
        f"{len(x_train)} normal rows; held-out set {len(y_test)} rows with {int(y_test.sum())} injected anomalies.",
        "",
        "| metric (threshold: score > 0) | value |",
        "| --- | --- |",
        f"| precision | {precision:.3f} |",
        f"| recall | {recall:.3f} |",
        f"| mean score, normal | {normal.mean():.4f} |",
        f"| mean score, anomalies | {bad.mean():.4f} |",
        f"| max \\|onnxruntime − sklearn\\| on the fixture | {max_diff:.2e} |",
        "<!-- eval:end -->",
    ])
    doc = os.path.join(ROOT, "docs/scoring.md")
    text = open(doc).read() if os.path.exists(doc) else "<!-- eval:begin --><!-- eval:end -->\n"
    text = re.sub(r"<!-- eval:begin.*?<!-- eval:end -->", lambda _: block, text, flags=re.S)
    with open(doc, "w") as f:
        f.write(text)
    print(f"precision {precision:.3f} recall {recall:.3f} max onnx diff {max_diff:.2e}; outputs {outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
