#!/usr/bin/env python3
"""The mutation score of `just mutants`: caught / (caught + missed) per crate, from cargo-mutants' lists in
target/mutants/out/<crate>-<part>/mutants.out. Timeouts (a mutant that made a test hang) are shown apart
and counted neither way; unviable mutants (they do not compile) are not counted. Fails below BAR.

After a run under `--iterate`, the lists hold only the mutants that run tried again: cargo-mutants keeps
what earlier runs caught in one list with what did not compile (previously_caught.txt), so those cannot
be counted either way. The score is then that of the retried mutants alone; the whole figure comes from
a run without `--iterate`."""
import pathlib
import sys

BAR = 90.0


def lines(folder: pathlib.Path, name: str) -> list[str]:
    path = folder / "mutants.out" / name
    return path.read_text().splitlines() if path.exists() else []


def main(out: str, crates: list[str]) -> int:
    failed, survivors = False, []
    total = {"caught": 0, "missed": 0, "timeout": 0, "unviable": 0}
    print(f"{'crate':<10} {'caught':>7} {'missed':>7} {'timeout':>8} {'unviable':>9} {'score':>7}")
    for crate in crates:
        count = dict.fromkeys(total, 0)
        for folder in sorted(pathlib.Path(out).glob(f"{crate}-*")):
            for kind in count:
                found = lines(folder, f"{kind}.txt")
                count[kind] += len(found)
                if kind == "missed":
                    survivors += found
        tested = count["caught"] + count["missed"]
        if tested == 0:
            print(f"{crate:<10} no mutants tested (run `just mutants {crate}`)")
            failed = True
            continue
        score = 100.0 * count["caught"] / tested
        failed |= score < BAR
        print(f"{crate:<10} {count['caught']:>7} {count['missed']:>7} {count['timeout']:>8} "
              f"{count['unviable']:>9} {score:>6.1f}%")
        for kind in total:
            total[kind] += count[kind]
    tested = total["caught"] + total["missed"]
    if tested:
        print(f"{'all':<10} {total['caught']:>7} {total['missed']:>7} {total['timeout']:>8} "
              f"{total['unviable']:>9} {100.0 * total['caught'] / tested:>6.1f}%")
    if survivors:
        print("\nsurvivors (kill each with a test, or explain it in .cargo/mutants.toml):")
        print("\n".join(f"  {s}" for s in survivors))
    if failed:
        print(f"\nbelow the bar of {BAR:.0f} % (or not run)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
