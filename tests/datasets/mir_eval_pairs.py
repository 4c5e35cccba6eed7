"""Prints mir_eval.key.weighted_score for every pair of key labels mir_eval accepts.

Run with Debian's python3 (python3-mir-eval). One line per (reference, estimate) pair:
    ref<TAB>est<TAB>score<TAB>score_with_descending_fifths
The first line is "# mir_eval <version> <labels> <pairs> <descending-fifths source>".
tests/datasets/key_test.cpp compares every line with datasets/Key.cpp.
"""
import inspect
import itertools
import sys
import warnings

import mir_eval
import mir_eval.key


def case_variants(tonic):
    """Every upper/lower-case spelling of a tonic; mir_eval lower-cases the tonic before looking it up."""
    options = [{c.lower(), c.upper()} for c in tonic]
    return sorted("".join(p) for p in itertools.product(*options))


def labels():
    out = []
    for tonic in sorted(t for t in mir_eval.key.KEY_TO_SEMITONE if t != "x"):
        for spelling in case_variants(tonic):
            for mode in ("major", "minor", "other"):  # mir_eval's modes are case-sensitive
                out.append("{} {}".format(spelling, mode))
    out += ["X", "x"]
    for label in out:
        mir_eval.key.validate_key(label)  # raises if mir_eval would not accept it
    return out


def descending_fifths_rule(ref, est):
    """mir_eval main (PR #427, after 0.8.2): an estimate a perfect fifth *below* the reference, same mode,
    scores 0.5. That check sits after the 1.0 / X / ascending-fifth checks and before the relative and
    parallel checks, which need different modes, so it can only turn a 0.0 into 0.5."""
    ref_key, ref_mode = mir_eval.key.split_key_string(ref)
    est_key, est_mode = mir_eval.key.split_key_string(est)
    if ref_key is not None and est_key is not None and ref_mode == est_mode \
            and (ref_key - est_key) % 12 == 7:
        return 0.5
    return mir_eval.key.weighted_score(ref, est)


def main():
    all_labels = labels()
    native = "allow_descending_fifths" in inspect.signature(mir_eval.key.weighted_score).parameters
    source = "mir_eval" if native else "reimplementation"
    n = len(all_labels)
    lines = ["# mir_eval {} {} {} {}".format(mir_eval.__version__, n, n * n, source)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ref in all_labels:
            for est in all_labels:
                score = mir_eval.key.weighted_score(ref, est)
                if native:
                    desc = mir_eval.key.weighted_score(ref, est, allow_descending_fifths=True)
                else:
                    desc = descending_fifths_rule(ref, est)
                lines.append("{}\t{}\t{!r}\t{!r}".format(ref, est, float(score), float(desc)))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
