"""options.py (run by options.sh): every numeric option of every critnet command fed bad values.

The options come from each command's --help (the lines that start with an option). Each one is given "abc": a
numeric option's parser answers "--NAME abc: expected ... in [LO, HI]" (or a list or LO:HI:N form), which gives
its kind and bounds; an option with a fixed set of words answers naming the option too. Then every numeric option
gets values outside its bounds, and one option of each parser kind gets the whole table of bad values below
(OPTIONS_FULL=1: every option gets the whole table). Each bad value must end the command with exit status 2 and a
message naming the option, with no crash, no sanitizer report and no file written; and --help must list the
option's bounds as the parser enforces them. Options that take free text (paths, names) are listed in TEXT; an
option that is neither checked nor listed there fails the test, so a new numeric option cannot go unchecked.
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ["CRITNET_BIN"]
FULL = os.environ.get("OPTIONS_FULL") == "1"

# options whose value is free text: files, folders, column and tensor names, data specs checked when loaded
TEXT = {
    "*": {"out", "csv", "json", "plot", "model", "model-file", "data", "data-root", "resume", "md"},
    "measure": {"blocks", "aval-csv", "ab-csv", "jacobian-csv"},
    "eval": {"blocks"}, "predict": {"blocks"}, "robustness": {"blocks"},
    "stats": {"group", "condition", "metrics", "baselines", "pair", "correlate"},
    "powerlaw": {"column", "csv-out"},
    "branching": {"column"},
    "zoo": {"spec"},
    "continual": {"plot"},
}

# bad whatever the bounds: not numbers, not finite, beyond any type, trailing text, empty
GARBAGE = ["abc", "", " ", "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999", "-1e999", "0x",
           "99999999999999999999999", "-99999999999999999999999", "12abc", "1 2", "--", "1e5x", "\t"]
LIST_GARBAGE = ["1,", ",1", "1,,2", "1,nan", "1,inf", "1;2", "1 ,2"]
SWEEP_GARBAGE = ["0:1", "0:1:0", "0:1:-1", "1:0:3", "0:1:1.5", "nan:1:3", "0:inf:3", "-1:1:3", "0:1e999:3",
                 "0:1:3:", ":1:3", "0::3"]

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def run(cmd, opt, value):
    d = tempfile.mkdtemp(prefix="critnet_opt_")
    try:
        r = subprocess.run([BIN, cmd, "--" + opt, value], capture_output=True, text=True, cwd=d, timeout=30,
                           env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
        return r.returncode, r.stderr, os.listdir(d)
    except subprocess.TimeoutExpired:
        return None, "timed out after 30 s", []
    finally:
        shutil.rmtree(d, ignore_errors=True)


def commands():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    return re.findall(r"^  ([a-z][a-z-]+) ", out.split("commands:")[1], re.M)


def documented_options(help_text):
    """the options that take a value, from the lines that start with an option, up to the description (two
    spaces): an option followed by a placeholder ("--width W --depth D"); a flag has none ("--quiet")"""
    opts = []
    for line in help_text.split("Valid values")[0].splitlines():
        m = re.match(r"\s+(--\S.*?)(\s{2,}|$)", line)
        if m:
            for o, arg in re.findall(r"--([a-z0-9][a-z0-9-]*)(?:[ =]([^-\s]\S*))?", m.group(1)):
                if arg and o not in opts:
                    opts.append(o)
    return opts


def kind_of(opt, msg):
    """(kind, bounds entry as --help must show it, lo, hi, max) from the answer to "abc", or None"""
    o = re.escape(opt)
    m = re.search(r"--%s abc: expected (an integer|a number) in \[([^,\]]+), ([^\]]+)\]" % o, msg)
    if m:
        k = "int" if m.group(1) == "an integer" else "real"
        return k, "--%s [%s, %s]" % (opt, m.group(2), m.group(3)), m.group(2), m.group(3), None
    m = re.search(r"--%s abc: expected a comma list of at most (\d+) (integers|numbers), each in \[([^,\]]+), "
                  r"([^\]]+)\]" % o, msg)
    if m:
        return ("list_int" if m.group(2) == "integers" else "list_real",
                "--%s a list of at most %s, each in [%s, %s]" % (opt, m.group(1), m.group(3), m.group(4)),
                m.group(3), m.group(4), int(m.group(1)))
    m = re.search(r"--%s abc: expected LO:HI:N with (\S+) <= LO <= HI <= (\S+) and N in \[1, (\d+)\]" % o, msg)
    if m:
        return ("sweep", "--%s LO:HI:N, LO and HI in [%s, %s], N in [1, %s]" % (opt, m.group(1), m.group(2),
                m.group(3)), m.group(1), m.group(2), int(m.group(3)))
    return None


def out_of_bounds(kind, lo, hi, mx, full):
    """values just outside the bounds (for a list, an element outside them, or one element too many); with full,
    also a fraction for an integer and -1 where the bounds start above it"""
    vals = []
    if kind in ("int", "list_int"):
        top = 2 ** 64 - 1 if hi == "2^64 - 1" else int(hi)
        vals += [str(int(lo) - 1), str(top + 1)]
        if full:
            vals += ["1.5"] + (["-1"] if int(lo) > 0 else [])
    elif kind in ("real", "list_real"):
        l, h = float(lo), float(hi)
        vals += [repr(l - max(1.0, abs(l))) if l > -1e300 else "-1e301", repr(h * 10 if h > 0 else h + 1)]
        if l > 0:
            vals += ["0"] + (["-1"] if full else [])
    elif kind == "sweep":
        vals += ["%s:%s:3" % (float(lo) - 1, hi), "%s:%r:3" % (lo, float(hi) * 10), "0:1:%d" % (mx + 1)]
    if kind.startswith("list"):
        vals = [lo + "," + v for v in vals] + [",".join([lo] * (mx + 1))]
    return vals


def valid_real(kind, v, lo, hi):
    """a "garbage" value that is a valid number for this option (10^23 where the bounds reach 1e+300)"""
    try:
        return kind == "real" and float(lo) <= float(v) <= float(hi)
    except ValueError:
        return False


def check(cmd, opt, value, why):
    rc, err, files = run(cmd, opt, value)
    where = "critnet %s --%s %r (%s)" % (cmd, opt, value, why)
    if rc is None:
        fail("%s: %s" % (where, err))
    elif re.search(r"Sanitizer|runtime error", err):
        fail("%s: sanitizer report: %s" % (where, err[:300]))
    elif rc != 2:
        fail("%s: exit status %s, 2 expected; stderr: %s" % (where, rc, err[:200]))
    elif "--" + opt not in err:
        fail("%s: the message does not name --%s: %s" % (where, opt, err[:200]))
    elif files:
        fail("%s: wrote %s" % (where, files))


def main():
    cmds = commands()
    assert len(cmds) >= 14, cmds
    jobs = []   # (cmd, opt, value, why)
    full_done = set()
    seen_common = set()
    n_numeric = 0
    for cmd in cmds:
        h = subprocess.run([BIN, cmd, "--help"], capture_output=True, text=True)
        if h.returncode != 0:
            fail("critnet %s --help: exit status %d" % (cmd, h.returncode))
            continue
        ranges = h.stdout.split("Valid values", 1)[1] if "Valid values" in h.stdout else ""
        ranges = " ".join(ranges.split())
        text = TEXT["*"] | TEXT.get(cmd, set())
        for opt in documented_options(h.stdout):
            if opt in text or opt == "help":
                continue
            rc, err, files = run(cmd, opt, "abc")
            if "unexpected argument 'abc'" in err:
                fail("critnet %s --help shows --%s with a value, but it takes none" % (cmd, opt))
                continue
            if "unrecognized option" in err:
                fail("critnet %s --help documents --%s, which the command does not take" % (cmd, opt))
                continue
            if rc != 2 or ("--%s abc" % opt) not in err:
                fail("critnet %s --%s abc: not refused naming the option (exit %s: %s): check its value in the parser "
                     "or, if it takes free text, add it to TEXT in %s" % (cmd, opt, rc, err.strip()[:160], __file__))
                continue
            if files:
                fail("critnet %s --%s abc: wrote %s" % (cmd, opt, files))
            k = kind_of(opt, err)
            if not k:
                jobs.append((cmd, opt, "", "a word option, empty"))
                continue  # a word from a fixed set (enum): "abc" was refused naming it
            n_numeric += 1
            kind, entry, lo, hi, mx = k
            if entry not in ranges:
                fail("critnet %s --help: no '%s' under 'Valid values' (the parser's bounds; cli/option_ranges.c)"
                     % (cmd, entry))
            # an option several commands share (the same bounds) gets its values once
            if (opt, entry) in seen_common and not FULL:
                continue
            seen_common.add((opt, entry))
            key = kind + ("-single" if kind == "sweep" and "or one value" in err else "") + \
                ("-u64" if hi == "2^64 - 1" else "")
            whole = FULL or key not in full_done
            for v in out_of_bounds(kind, lo, hi, mx, whole):
                jobs.append((cmd, opt, v, "outside %s" % entry))
            if whole:
                full_done.add(key)
                bad = GARBAGE + (LIST_GARBAGE if kind.startswith("list") else []) + \
                    (SWEEP_GARBAGE if kind == "sweep" else [])
                for v in bad:
                    if not valid_real(kind, v, lo, hi):
                        jobs.append((cmd, opt, v, "garbage"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        list(ex.map(lambda j: check(*j), jobs))
    print("options: %d commands, %d numeric options, %d bad values tried, parser kinds with the whole table: %s; "
          "%d failures" % (len(cmds), n_numeric, len(jobs), ", ".join(sorted(full_done)), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
