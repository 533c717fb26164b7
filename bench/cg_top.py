#!/usr/bin/python3
"""cg_top.py - total and top self-cost functions of one callgrind dump.

    cg_top.py FILE [N]     prints "total IR" then N lines "IR PCT FUNCTION [OBJECT]"

Written because callgrind_annotate 3.19 books the cost of a call that was
already running when the counters were zeroed ("calls=0") as the caller's self
cost. Reads dumps made with --compress-strings=no --compress-pos=no.
"""
import collections
import sys


def self_costs(path):
    costs = collections.Counter()
    fn, obj, total, skip_next = "?", "", 0, False
    with open(path) as f:
        for line in f:
            if skip_next:               # the inclusive cost of a call: not self
                skip_next = False
                continue
            c = line[0]
            if c.isdigit() or c in "+-":
                parts = line.split()
                if len(parts) >= 2:
                    costs[(fn, obj)] += int(parts[1])
            elif line.startswith("fn="):
                fn = line[3:].strip()
            elif line.startswith("ob="):
                obj = line[3:].strip().rsplit("/", 1)[-1]
            elif line.startswith("calls="):
                skip_next = True
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total or sum(costs.values()), costs


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    total, costs = self_costs(argv[1])
    print("total", total)
    for (fn, obj), ir in costs.most_common(int(argv[2]) if len(argv) == 3 else 12):
        print(f"{ir:>12,} {100.0 * ir / max(total, 1):5.1f}%  {fn} [{obj}]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
