#!/usr/bin/env python3
"""Validates a suite or a report against docs/schema/*.schema.json (python3-jsonschema).

usage: check_schema.py suite|report FILE
"""
import json
import pathlib
import sys

import jsonschema

root = pathlib.Path(__file__).resolve().parents[2]
kind, path = sys.argv[1], sys.argv[2]
schema = json.loads((root / "docs" / "schema" / f"{kind}.schema.json").read_text())
jsonschema.Draft7Validator.check_schema(schema)
doc = json.loads(pathlib.Path(path).read_text())
errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print(f"{path}: {'/'.join(map(str, e.path)) or '<root>'}: {e.message}")
sys.exit(1 if errors else 0)
