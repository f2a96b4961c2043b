#!/usr/bin/env python3
"""Writes docs/conformance.md from the conformance suite's scenarios and
divergences (crates/berthd/tests/conformance/), so the two never disagree."""
import collections
import glob
import json
import os

os.chdir(os.path.join(os.path.dirname(__file__), ".."))
base = "crates/berthd/tests/conformance"
scenarios = sum(len(json.load(open(f))) for f in glob.glob(f"{base}/scenarios/*.json"))
steps = sum(len(s["steps"]) for f in glob.glob(f"{base}/scenarios/*.json") for s in json.load(open(f)))
divergences = json.load(open(f"{base}/divergences.json"))
by_reason = collections.OrderedDict()
for e in divergences:
    by_reason.setdefault(e["reason"], []).append(e)

out = [
    "# Conformance: Berth against Docker 20.10, call by call",
    "",
    f"`crates/berthd/tests/conformance.rs` replays {scenarios} scenarios ({steps} Engine API calls;",
    "`crates/berthd/tests/conformance/scenarios/*.json`: containers in every state, exec, images,",
    "networks, volumes, archives, commit, system, errors and malformed input) against a fresh",
    "berthd in the test suite, and compares each answer with what a private Docker 20.10 answered",
    "to the same calls (`fixtures.json`, recorded by `scripts/conformance-record.sh`: Debian's",
    "`docker.io` with its own data root, socket, cgroup parent and address pool, no iptables or",
    "default bridge). Compared: the status code, the error message (IDs masked), the values a step",
    "names, and the shape of every JSON answer: each key dockerd sends must be there with its",
    "type; keys of newer API versions may be added. Never IDs, times or sizes.",
    "",
    "After changing scenarios: `scripts/conformance-record.sh` (root; it removes what its dockerd",
    "made), then `scripts/conformance-doc.py` for this page.",
    "",
    "## Divergences kept on purpose",
    "",
    "Listed in `crates/berthd/tests/conformance/divergences.json`; the test fails on any other.",
    "Berth serves API 1.47 (moby 27), Docker 20.10 serves 1.41: most of what differs is what",
    "changed between them. Entries marked *open* are gaps, not choices.",
    "",
    "| what differs | where | why |",
    "| --- | --- | --- |",
]
for reason, es in by_reason.items():
    where = ", ".join(sorted({
        (e.get("scenario") or "every answer")
        + (f" (dockerd {e['dockerd']}, berthd {e['berthd']})" if "dockerd" in e else "")
        + (f" (dockerd's begins {' or '.join(repr(p) for p in e['dockerd_prefix'])}, berthd's {e['berthd_prefix']!r})" if "dockerd_prefix" in e else "")
        + (f" step {e['step']}" if "step" in e else "")
        + (f" `{e['path']}`" if "path" in e else "")
        for e in es
    }))
    what = ", ".join(sorted({e["what"] for e in es}))
    out.append(f"| {what} | {where} | {reason} |")
open("docs/conformance.md", "w").write("\n".join(out) + "\n")
