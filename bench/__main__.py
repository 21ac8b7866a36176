"""`make bench`: run every benchmark in order, write bench/results/results.json and docs/benchmarks.md.

`python -m bench [section ...]` runs only the named sections (calibration ack anatomy profile e2e
e2e_traced dispatcher_profile generation);
docs/benchmarks.md is written only by a full run.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import ack, calibration, e2e, e2e_traced, generation, machine, procs, profile, report, wrk

SECTIONS: dict[str, Callable[[], Any]] = {
    "calibration": calibration.generator_ceilings,
    "ack": ack.run_all,
    "anatomy": calibration.hot_path_anatomy,
    "profile": profile.profile_gateway,
    "e2e": e2e.run_all,
    "e2e_traced": e2e_traced.run_all,
    "dispatcher_profile": profile.profile_dispatcher,
    "generation": generation.run_all,
}
DOC = procs.ROOT / "docs" / "benchmarks.md"


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    wrk.ensure_wrk()
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine.describe()}
    failed = []
    for name in chosen:
        try:
            results[name] = SECTIONS[name]()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            failed.append(name)
    seconds = time.monotonic() - started
    procs.RESULTS.mkdir(parents=True, exist_ok=True)
    (procs.RESULTS / "results.json").write_text(json.dumps(results, indent=1, default=str))
    if argv:
        print(f"bench: sections {chosen} done in {seconds:.0f}s; results in bench/results/results.json")
    else:
        DOC.write_text(report.render(results, seconds))
        print(f"bench: done in {seconds / 60:.1f} min; wrote {DOC.relative_to(procs.ROOT)}")
    if failed:
        print(f"bench: failed sections: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
