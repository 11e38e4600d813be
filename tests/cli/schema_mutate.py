#!/usr/bin/env python3
"""schema_mutate.py — does mmcert's reader (suite/results_schema.c) accept and
refuse exactly what doc/results.schema.json does?

Usage: schema_mutate.py SCHEMA MMCERT DIR GOOD.json...

Each GOOD file (which both must accept) is mutated: every member of the top
level, of machine/kernel/topology/implementation/totals/certificate, of a
setting, of a certified id, of a case, of its first run, check, metric and
series is deleted and replaced by
values of every JSON kind and by strings with control characters (newline,
tab, ESC, DEL, C1) and empty strings; arrays are emptied. Each mutant is
judged by the JSON Schema (jsonschema, Draft 2020-12) and by
`mmcert results show` (exit 0 or 2). Prints one line per disagreement and
"N mutants, M disagreements"; exit status 1 when any disagree.
"""
import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import jsonschema

# Replacements by the kind of the value replaced: other kinds, and for
# strings the control characters the classes tell apart (newline and tab
# are free text's, ESC and C1 nobody's).
VALUES = {
    str: ["", "x", 0, None, "a\nb", "a\tb", "a\x1b[2Jb", "a\x85b", "a\x7fb"],
    int: ["x", -1, 0, 1.5, 5.0, None],
    float: ["x", True, None, 7],
    bool: [1, None, "true"],
    list: ["x", {}, None],
    dict: ["x", [], None],
    type(None): ["x", 0, {}],
}


def paths(doc):
    """(container path, key) pairs to mutate: the interesting members."""
    out = []

    def members(prefix, obj):
        if isinstance(obj, dict):
            for k in obj:
                out.append(prefix + [k])
        elif isinstance(obj, list):
            for i in range(min(len(obj), 2)):
                out.append(prefix + [i])

    members([], doc)
    for k in ("machine", "kernel", "topology", "implementation", "totals", "certificate"):
        if isinstance(doc.get(k), dict):
            members([k], doc[k])
    if doc.get("settings"):
        members(["settings", 0], doc["settings"][0])
    if doc.get("certificate", {}).get("ids"):
        members(["certificate", "ids", 0], doc["certificate"]["ids"][0])
    for ci, case in enumerate(doc.get("cases", [])[:2]):
        members(["cases", ci], case)
        for k in ("runs", "checks", "metrics", "series"):
            if case.get(k):
                members(["cases", ci, k, 0], case[k][0])
                for leaf in ("samples", "t", "v"):
                    if isinstance(case[k][0].get(leaf), list) and case[k][0][leaf]:
                        out.append(["cases", ci, k, 0, leaf, 0])
        unsup = [i for i, m in enumerate(case.get("metrics", [])) if "unsupported" in m]
        if unsup:
            members(["cases", ci, "metrics", unsup[0]], case["metrics"][unsup[0]])
    return out


def at(doc, path):
    for p in path[:-1]:
        doc = doc[p]
    return doc


def mutants(doc):
    for path in paths(doc):
        parent = at(doc, path)
        if isinstance(parent, dict):
            m = copy.deepcopy(doc)
            del at(m, path)[path[-1]]
            yield "delete " + "/".join(map(str, path)), m
        old = parent[path[-1]]
        if isinstance(old, list) and old:
            m = copy.deepcopy(doc)
            at(m, path)[path[-1]] = []
            yield "empty " + "/".join(map(str, path)), m
        for v in VALUES[type(old)]:
            if v == old and type(v) is type(old):
                continue
            m = copy.deepcopy(doc)
            at(m, path)[path[-1]] = v
            yield "set %s = %r" % ("/".join(map(str, path)), v), m


def judge(mmcert, path):
    r = subprocess.run([mmcert, "results", "show", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    return r.returncode, r.stderr.strip()[:200]


def main():
    schema = json.load(open(sys.argv[1]))
    mmcert, tmp = sys.argv[2], sys.argv[3]
    validator = jsonschema.Draft202012Validator(schema)
    jobs = []
    for good in sys.argv[4:]:
        doc = json.load(open(good))
        # Keep the mutants small: two cases, two settings, short arrays.
        doc["cases"] = doc["cases"][:2]
        doc["settings"] = doc["settings"][:2]
        if "certificate" in doc:
            doc["certificate"]["ids"] = doc["certificate"]["ids"][:2]
        for case in doc["cases"]:
            case["metrics"] = case["metrics"][:2] + [m for m in case["metrics"][2:]
                                                     if "unsupported" in m][:1]
            for k in ("runs", "checks", "series"):
                case[k] = case.get(k, [])[:2]
            for s in case["series"]:
                s["t"], s["v"] = s["t"][:3], s["v"][:3]
        for what, m in mutants(doc):
            f = os.path.join(tmp, "mutant-%d.json" % len(jobs))
            with open(f, "w") as out:
                json.dump(m, out)
            jobs.append((os.path.basename(good), what, f, validator.is_valid(m)))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        verdicts = list(pool.map(lambda j: judge(mmcert, j[2]), jobs))
    disagree = 0
    for (good, what, _, schema_ok), (rc, err) in zip(jobs, verdicts):
        if rc not in (0, 2) or schema_ok != (rc == 0):
            disagree += 1
            print("# %s: %s: JSON Schema %s, mmcert %s (exit %d) %s" % (
                good, what, "accepts" if schema_ok else "refuses",
                "accepts" if rc == 0 else "refuses", rc, err))
    print("# %d mutants, %d disagreements" % (len(jobs), disagree))
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
