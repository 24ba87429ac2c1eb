#!/usr/bin/env python3
"""Checks a Portrait run folder against snapshot contract v2 as pyarrow reads it.

Usage: python3 tests/contract/check_snapshots.py SNAPSHOTS/RUN_ID [...]

For every Parquet file the manifest lists with columns: sha256 and row count as the manifest says, the Arrow schema
equal to the declared columns and types (DATE -> date32, TIMESTAMP(UTC,MICROS) -> timestamp[us, tz=UTC],
DECIMAL(18,2) -> decimal128(18, 2), LIST/STRUCT nested), no nulls in non-nullable columns, zstd and statistics on every
column chunk, row groups of at most 122,880 rows, and Portrait named in the key-value metadata. Prints one line per
file and exits 1 when anything differs. jest runs it when pyarrow is installed (tests/integration/snapshotContract).
"""
import hashlib
import json
import os
import re
import sys

import pyarrow as pa
import pyarrow.parquet as pq

SCALARS = {
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "INT32": pa.int32(),
    "INT64": pa.int64(),
    "DOUBLE": pa.float64(),
    "DECIMAL(18,2)": pa.decimal128(18, 2),
    "DATE": pa.date32(),
    "TIMESTAMP(UTC,MICROS)": pa.timestamp("us", tz="UTC"),
}
MAX_ROW_GROUP = 122_880


def split_top(text):
    """Splits 'a: X, b: LIST<Y>' at commas outside angle brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def arrow_type(contract):
    if contract in SCALARS:
        return SCALARS[contract]
    m = re.fullmatch(r"LIST<(.+)>", contract)
    if m:
        return pa.list_(arrow_type(m.group(1)))
    m = re.fullmatch(r"STRUCT<(.+)>", contract)
    if m:
        fields = []
        for part in split_top(m.group(1)):
            name, _, sub = part.partition(":")
            fields.append(pa.field(name.strip(), arrow_type(sub.strip())))
        return pa.struct(fields)
    raise ValueError(f"unknown contract type {contract!r}")


def same_type(actual, expected):
    """Equal up to list element names and string/large_string."""
    if pa.types.is_list(expected):
        return (pa.types.is_list(actual) or pa.types.is_large_list(actual)) and same_type(actual.value_type, expected.value_type)
    if pa.types.is_struct(expected):
        return pa.types.is_struct(actual) and [f.name for f in actual] == [f.name for f in expected] and all(
            same_type(a.type, e.type) for a, e in zip(actual, expected)
        )
    if pa.types.is_string(expected):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    return actual == expected


def check_file(run_dir, entry):
    problems = []
    path = os.path.join(run_dir, entry["path"])
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    if digest != entry["sha256"]:
        problems.append(f"sha256 {digest} != manifest {entry['sha256']}")
    pf = pq.ParquetFile(path)
    meta = pf.metadata
    if meta.num_rows != entry["rows"]:
        problems.append(f"{meta.num_rows} rows != manifest {entry['rows']}")
    schema = pf.schema_arrow
    declared = entry["columns"]
    if schema.names != [c["name"] for c in declared]:
        problems.append(f"columns {schema.names} != declared {[c['name'] for c in declared]}")
    for c in declared:
        if c["name"] not in schema.names:
            continue
        actual = schema.field(c["name"]).type
        expected = arrow_type(c["type"])
        if not same_type(actual, expected):
            problems.append(f"{c['name']}: {actual} != declared {c['type']} ({expected})")
    kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
    if not kv.get("portrait.created_by", "").startswith("Portrait "):
        problems.append("key-value metadata portrait.created_by missing")
    nulls = {}
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        if rg.num_rows > MAX_ROW_GROUP:
            problems.append(f"row group {g} has {rg.num_rows} rows")
        for i in range(rg.num_columns):
            chunk = rg.column(i)
            top = chunk.path_in_schema.split(".")[0]
            if chunk.compression != "ZSTD":
                problems.append(f"{chunk.path_in_schema}: {chunk.compression}, not ZSTD")
            if not chunk.is_stats_set:
                problems.append(f"{chunk.path_in_schema}: no statistics in row group {g}")
            elif chunk.path_in_schema == top:
                nulls[top] = nulls.get(top, 0) + (chunk.statistics.null_count or 0)
    for c in declared:
        if not c["nullable"] and nulls.get(c["name"], 0) > 0:
            problems.append(f"{c['name']}: {nulls[c['name']]} nulls in a non-nullable column")
    return problems


def main(argv):
    if len(argv) < 2:
        print("usage: check_snapshots.py RUN_DIR [...]", file=sys.stderr)
        return 2
    passed = failed = 0
    for run_dir in argv[1:]:
        with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
        if manifest.get("contract_version") != 2:
            print(f"{run_dir}: contract_version {manifest.get('contract_version')}, not 2")
            failed += 1
            continue
        for stage in manifest["stages"]:
            for entry in stage["files"]:
                if not entry["path"].endswith(".parquet"):
                    continue
                problems = check_file(run_dir, entry)
                if problems:
                    failed += 1
                    print(f"FAIL {entry['path']}: " + "; ".join(problems))
                else:
                    passed += 1
                    print(f"ok   {entry['path']} ({entry['rows']} rows, {len(entry['columns'])} columns)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
