"""Writing a benchmark's results: JSON, atomically, so an interrupted run leaves no half-written file."""

import json
import os


def write_json(results, path):
    """Write ``results`` (JSON-serialisable) to ``path``, creating its folder; print where it went."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".part"
    try:
        with open(partial, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    print(f"wrote {path}", flush=True)
