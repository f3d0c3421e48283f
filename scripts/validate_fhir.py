#!/usr/bin/env python3
"""Validates FHIR R4 exports with an independent implementation: the
`fhir.resources` package (6.1.0: pydantic models generated from the R4 4.0.1
StructureDefinitions: element names, types, cardinality, primitive formats).

usage: validate_fhir.py FILE...   (a Bundle as JSON, or NDJSON: one resource a line)
Exits 1 with the first error of each invalid resource.
"""
import json
import sys
from collections import Counter

import fhir.resources
from fhir.resources import get_fhir_model_class


def resources(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path}:{n}", json.loads(line)
        return
    doc = json.loads(text)
    # The Bundle as a whole (type, entry shape), then every entry on its own.
    yield path, doc
    for n, e in enumerate(doc.get("entry", [])):
        yield f"{path} entry[{n}] {e.get('fullUrl')}", e["resource"]


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"fhir.resources {fhir.resources.__version__} (FHIR {fhir.resources.__fhir_version__})")
    failed = 0
    for path in paths:
        counts = Counter()
        for where, res in resources(path):
            kind = res.get("resourceType")
            try:
                get_fhir_model_class(kind).parse_obj(res)
            except Exception as e:  # noqa: BLE001 - every validation failure is reported
                failed += 1
                print(f"INVALID {where} ({kind}): {e}", file=sys.stderr)
                continue
            counts[kind] += 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{path}: valid: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
