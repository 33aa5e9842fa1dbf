"""Per-suite counts of a run of bpftrace's runtime suite, then each test that did not pass."""

import sys
from collections import defaultdict


def verdicts(log_path):
    """Each test's first verdict (the closing list repeats names)."""
    status = {}
    for line in open(log_path, errors="replace"):
        for tag, value in (("[       OK ] ", "pass"), ("[  FAILED  ] ", "fail"), ("[  TIMEOUT ] ", "timeout")):
            if line.startswith(tag):
                # `suite.name (12 ms)`; the closing list repeats names without the time.
                name = line[len(tag):].strip()
                if name.endswith(" ms)"):
                    name = name.rsplit(" (", 1)[0]
                if name not in status and "." in name and " tests" not in name:
                    status[name] = value
    return status


def check(expected_path, log_path):
    """Exit 1 when a test named in the expected file did not pass."""
    status = verdicts(log_path)
    expected = [l.strip() for l in open(expected_path) if l.strip() and not l.startswith("#")]
    missing = [name for name in expected if status.get(name) != "pass"]
    for name in missing:
        print(f"expected to pass: {name} ({status.get(name, 'not run')})")
    if missing:
        sys.exit(1)


def main():
    if sys.argv[1] == "--check":
        return check(sys.argv[2], sys.argv[3])
    log_path, skipped_path, *suites = sys.argv[1:]
    status = verdicts(log_path)
    excluded = {}
    for line in open(skipped_path):
        if "\t" in line:
            name, why = line.rstrip("\n").split("\t", 1)
            excluded[name] = why
    for line in open(log_path, errors="replace"):
        if line.startswith("[   SKIP   ] ") and line.rstrip().endswith(")"):
            name, why = line[len("[   SKIP   ] "):].rstrip()[:-1].rsplit(" (", 1)
            in_run = name.split(".")[0] in suites
            if in_run and name not in excluded and name not in status:
                excluded[name] = why
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
