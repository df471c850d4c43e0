"""Gathers the demo's results into WORKDIR/report/index.md (tables + figures)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys


def _last_json(path: str) -> dict:
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def main(workdir: str) -> None:
    report = os.path.join(workdir, "report")
    os.makedirs(report, exist_ok=True)
    parts = ["# DVBPR demo report\n"]
    for name in ("data", "dvbpr", "table3", "gan_report", "design", "table4"):
        path = os.path.join(workdir, f"{name}.json")
        if os.path.exists(path):
            result = _last_json(path)
            parts.append(f"## {name}\n\n```json\n{json.dumps(result, indent=2)[:4000]}\n```\n")
    for table in sorted(glob.glob(os.path.join(workdir, "table*", "*.md"))):
        parts.append(f"## {os.path.basename(table)}\n\n" + open(table).read() + "\n")
    for png in sorted(glob.glob(os.path.join(workdir, "*", "*.png"))):
        target = os.path.basename(os.path.dirname(png)) + "_" + os.path.basename(png)
        shutil.copy(png, os.path.join(report, target))
        parts.append(f"![{target}]({target})\n")
    with open(os.path.join(report, "index.md"), "w") as f:
        f.write("\n".join(parts))
    print(json.dumps({"report": os.path.join(report, "index.md")}))


if __name__ == "__main__":
    main(sys.argv[1])
