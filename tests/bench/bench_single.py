"""
`make bench` (role single): wall times of the first ./bootstrap.sh on a fresh
container, of idempotent re-runs (the whole script, and the Salt run alone),
beside the floor: salt-call applying one trivial state. Writes a Markdown table
to tests/bench/results/single.md and prints it.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.containers import Host  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "tests" / "bench" / "results"
RUNS = 5


def timed(host, cmd):
    start = time.monotonic()
    host.exec(cmd, timeout=1800)
    return time.monotonic() - start


def main():
    host = Host.start("webstack-base:bookworm", name="webstack-test-bench", publish=(80,), hostname="bench1")
    try:
        host.put_dir(str(REPO), "/root/webstack")
        rows = [("first ./bootstrap.sh (fresh server)", [timed(host, "cd /root/webstack && ./bootstrap.sh")])]
        rows.append(("idempotent ./bootstrap.sh", [timed(host, "cd /root/webstack && ./bootstrap.sh")
                                                   for _ in range(RUNS)]))
        rows.append(("idempotent salt-call state.apply webstack.roles.single",
                     [timed(host, "webstack-salt-call state.apply webstack.roles.single") for _ in range(RUNS)]))
        rows.append(("floor: salt-call of one trivial state",
                     [timed(host, "webstack-salt-call state.single test.nop name=floor") for _ in range(RUNS)]))
        _, out = host.exec("webstack-salt-call state.show_lowstate webstack.roles.single --out=json "
                           "--log-level=quiet 2>/dev/null | grep -c '\"__id__\"'", check=False)
    finally:
        host.remove()
    lines = ["| step | runs | median s | min s | max s |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, values in rows:
        lines.append(f"| {name} | {len(values)} | {statistics.median(values):.1f} | {min(values):.1f} | "
                     f"{max(values):.1f} |")
    lines.append("")
    lines.append(f"States in role single: {out.strip()}. Target: idempotent re-run within 10 s.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "single.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
