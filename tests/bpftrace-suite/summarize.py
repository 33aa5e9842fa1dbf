"""Per-suite counts of a run of bpftrace's runtime suite, then each test that did not pass."""

import sys
from collections import defaultdict


def main():
    log_path, skipped_path, *suites = sys.argv[1:]
    status = {}
    for line in open(log_path, errors="replace"):
        for tag, value in (("[       OK ] ", "pass"), ("[  FAILED  ] ", "fail"), ("[  TIMEOUT ] ", "timeout")):
            if line.startswith(tag):
                name = line[len(tag):].strip()
                # The closing list repeats names; a test's first verdict is its verdict.
                if " " not in name and name not in status:
                    status[name] = value
    excluded = {}
    for line in open(skipped_path):
        if "\t" in line:
            name, why = line.rstrip("\n").split("\t", 1)
            excluded[name] = why
    for line in open(log_path, errors="replace"):
        if line.startswith("[   SKIP   ] ") and "(" in line:
            name = line[len("[   SKIP   ] "):].split(" ")[0]
            if name not in excluded and name not in status:
                excluded[name] = line.split("(", 1)[1].rstrip(")\n")
    counts = defaultdict(lambda: defaultdict(int))
    for name, value in status.items():
        counts[name.split(".")[0]][value] += 1
    for name in excluded:
        counts[name.split(".")[0]]["skipped"] += 1
    print(f"{'suite':<14}{'pass':>6}{'fail':>6}{'timeout':>9}{'skipped':>9}")
    total = defaultdict(int)
    for suite in suites:
        row = counts[suite]
        for key in ("pass", "fail", "timeout", "skipped"):
            total[key] += row[key]
        print(f"{suite:<14}{row['pass']:>6}{row['fail']:>6}{row['timeout']:>9}{row['skipped']:>9}")
    print(f"{'total':<14}{total['pass']:>6}{total['fail']:>6}{total['timeout']:>9}{total['skipped']:>9}")
    print()
    for name, value in sorted(status.items()):
        if value != "pass":
            print(f"{value}: {name}")
    for name, why in sorted(excluded.items()):
        print(f"skipped: {name} ({why})")
    print(f"{total['pass']} passed, {total['fail'] + total['timeout']} failed, {total['skipped']} skipped")


if __name__ == "__main__":
    main()
