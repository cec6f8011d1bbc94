#!/usr/bin/env python3
"""Invariant checker of the fault-injection soak (tests/soak.sh), independent of the product.

It knows only the remote layout the README promises and uses only sha256sum, zstd and tar:

  check.py digest DIR         print the digest of a data set (the harness records one per step)
  check.py step LEDGER        check the job's remote directory after the ledger's last step

A snapshot is a directory named by an id (YYYYMMDDTHHMMSSZ) holding manifest.json. After every
step: every snapshot passes `sha256sum -c SHA256SUMS` and restores with `zstd -dc | tar -x` to
exactly the data set of the step that made it (every `<name>.zst` to that step's dump); no
snapshot disappears except by a retention decision in a step that could prune, computed here
with restic's rules (retention.py) over the snapshots' times (their ids), and a successful
run or prune leaves no snapshot the policy would remove; at most one `.partial`, none after a
run that reported success; the agent's exit code agrees with the server (0/3: the snapshot it
printed is new and there; 1: nothing new; a SIGKILLed agent: at most one new snapshot) and
with its state file, `backup status --json` and the metrics file (agree.py); a daemon
restarted catches up once, and only when a scheduled time passed while it was down.
Violations go to stdout, one a line; the exit code is 1 if there is any. What it learnt
(which step made which snapshot, and when) is kept in `checker-state.json` beside the ledger.
"""

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zoneinfo

sys.dont_write_bytecode = True  # keep the work tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agree  # noqa: E402
import retention  # noqa: E402

ID = re.compile(r"^\d{8}T\d{6}Z$")
PARTIAL = re.compile(r"^\.\d{8}T\d{6}Z\.partial$")


def digest(root):
    """sha256 over every entry below root: type, relative path, permissions and content."""
    lines = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(top, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            mode = oct(st.st_mode & 0o7777)
            if os.path.islink(p):
                lines.append(f"l {rel} {os.readlink(p)}")
            elif os.path.isdir(p):
                lines.append(f"d {rel} {mode}")
            else:
                with open(p, "rb") as f:
                    lines.append(f"f {rel} {mode} {hashlib.sha256(f.read()).hexdigest()}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def scan(job_dir):
    """(committed ids, partial names) in the job directory, as the README defines them."""
    if not os.path.isdir(job_dir):
        return [], []
    names = os.listdir(job_dir)
    ids = sorted(
        n for n in names if ID.match(n) and os.path.isfile(os.path.join(job_dir, n, "manifest.json"))
    )
    return ids, sorted(n for n in names if PARTIAL.match(n))


def content_problems(snap, expect, source, restored=None):
    """Why the snapshot at `snap` is not intact or not the data set `expect`; [] if it is.
    `restored`: the SHA256SUMS (and listing) with which an earlier step restored it exactly;
    if `sha256sum -c` passes against the same list, the bytes are those and restore the same,
    so only the first check of a snapshot unpacks it."""
    out = []
    r = subprocess.run(["sha256sum", "-c", "--quiet", "--strict", "SHA256SUMS"], cwd=snap,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return [f"sha256sum -c failed: {(r.stdout + r.stderr).strip()}"]
    with open(os.path.join(snap, "SHA256SUMS")) as f:
        summed = {line.split("  ", 1)[1].strip() for line in f if "  " in line}
    for name in os.listdir(snap):
        if name not in ("SHA256SUMS", "manifest.json") and name not in summed:
            out.append(f"{name} is not in SHA256SUMS")
    if restored is not None and restored == fingerprint(snap) and not out:
        return []
    with tempfile.TemporaryDirectory(prefix="soak-restore-") as tmp:
        tar = os.path.join(snap, "files.tar.zst")
        if os.path.exists(tar):
            r = subprocess.run(f"zstd -dcq '{tar}' | tar -x -p -C '{tmp}'", shell=True,
                               capture_output=True, text=True)
            if r.returncode != 0:
                out.append(f"zstd -dc files.tar.zst | tar -x failed: {r.stderr.strip()}")
            else:
                got = digest(os.path.join(tmp, source.lstrip("/")))
                if got != expect["tree"]:
                    out.append("files.tar.zst restores to another data set than its run's")
        elif expect["tree"] is not None:
            out.append("files.tar.zst is missing")
    for name, want in expect["dumps"].items():
        r = subprocess.run(f"zstd -dcq '{snap}/{name}.zst' | sha256sum", shell=True,
                           capture_output=True, text=True)
        if r.returncode != 0 or r.stdout.split()[:1] != [want]:
            out.append(f"{name}.zst does not decompress to its run's dump")
    return out


def fingerprint(snap):
    """The snapshot's checksum list and file names: what an exact restore was checked with."""
    with open(os.path.join(snap, "SHA256SUMS"), "rb") as f:
        sums = hashlib.sha256(f.read()).hexdigest()
    return f"{sums} {' '.join(sorted(os.listdir(snap)))}"


def started_at(snap):
    """The snapshot's start time, from its manifest (RFC 3339, UTC)."""
    with open(os.path.join(snap, "manifest.json")) as f:
        text = json.load(f)["started_at"]
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def id_time(i):
    return dt.datetime.strptime(i, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def removable(times, ids, policy, tz):
    """What `policy` removes from the snapshots `ids`."""
    sub = {i: times[i] for i in ids}
    return set(sub) - retention.kept(sub, policy, tz)


def check_step(ledger_path):
    with open(ledger_path) as f:
        ledger = json.load(f)
    state_path = os.path.join(os.path.dirname(ledger_path), "checker-state.json")
    known, before, times, mem, restored, removed = {}, None, {}, {}, {}, set()
    if os.path.exists(state_path):
        with open(state_path) as f:
            mem = json.load(f)
        known, before = mem["snapshots"], mem["last_run"]
        times = {i: dt.datetime.fromisoformat(t) for i, t in mem["times"].items()}
        restored = mem["restored"]
    # Every id retention removed (rightly) so far: a record naming one is not a lie.
    removed = set(mem.get("removed", []))
    last = last_run(ledger)
    step = ledger["steps"][-1]
    k = step["step"]
    ids, partials = scan(ledger["job_dir"])
    bad = []
    new = [i for i in ids if i not in known]
    gone = [i for i in known if i not in ids]

    # Content: an old snapshot against the step that made it; a new one against this step.
    made_by = dict(known)
    for i in new:
        made_by[i] = k
    for i in ids:
        expect = ledger["steps"][made_by[i]]["data"]
        snap = os.path.join(ledger["job_dir"], i)
        problems = content_problems(snap, expect, ledger["source"], restored.get(i))
        for p in problems:
            bad.append(f"snapshot {i} (step {made_by[i]}): {p}")
        if not problems:
            restored[i] = fingerprint(snap)
        if i in new and not problems:
            # The id is the UTC second the snapshot directory was begun: after the connect and
            # the lock, so after the start the manifest records and before the run ended (2 s
            # for a daemon's runs, whose length the ledger lacks), unless a clock jumped during
            # the run (a daemon_jump step). A stalled connection delays it by the stall.
            started = started_at(snap).replace(microsecond=0)
            late = id_time(i) - started
            took = max([2.0] + [r["seconds"] + 1 for r in step.get("runs", []) if "seconds" in r])
            if not dt.timedelta(0) <= late <= dt.timedelta(seconds=took) and step["fault"] != "daemon_jump":
                bad.append(f"snapshot {i}: its manifest says it started at {started}")
            # Retention decides on the ids (README, "Retention"): with a clock set back, a run
            # that started before the newest snapshot's second may still get the newer id.
            times[i] = id_time(i)
        times.setdefault(i, id_time(i))

    policy, tz = ledger["policy"], zoneinfo.ZoneInfo(ledger["timezone"])
    everything = set(known) | set(new)
    # Retention may have seen the history before this step's commit or after it (a prune
    # racing a run), never anything else.
    allowed = removable(times, known, policy, tz) | removable(times, everything, policy, tz)
    runs, prunes = step.get("runs", []), step.get("prunes", [])
    for r in runs:
        made = r.get("snapshot")
        if r["exit"] in (0, 3) and made and made not in ids and made not in known and prunes:
            # Committed and removed in this step by the racing prune: only if the policy
            # removes it (its clock was behind the newest snapshot's).
            times.setdefault(made, id_time(made))
            if made in removable(times, everything | {made}, policy, tz):
                allowed.add(made)
                gone.append(made)
    for r in runs:
        code = r["exit"]
        if code in (0, 3):
            made = r.get("snapshot")
            if made in gone and made in allowed:
                pass  # committed, then removed by retention (its clock was behind the others')
            elif made not in new:
                bad.append(f"run exited {code} reporting snapshot {made}, "
                           f"which is not a new snapshot on the server (new: {new})")
            if partials:
                bad.append(f"run exited {code} but {partials} remain")
        elif code == 1:
            if len(runs) == 1 and new and not step.get("daemon"):
                bad.append(f"run exited 1 (nothing committed) but {new} appeared")
            if step.get("must_commit"):
                bad.append("the run after the disk was freed failed: "
                           f"{r.get('error') or 'see its log'}")
        elif code != "killed":
            bad.append(f"run exited {code}: neither 0, 1, 3 nor killed by the harness")
        if code != "killed":
            bad += state_problems(last, before, r)
    for p in prunes:
        if p["exit"] not in (0, 1, "killed"):
            bad.append(f"prune exited {p['exit']}")
    started = len(runs) + step.get("daemon", {}).get("runs_started", 0)
    if len(new) > started:
        bad.append(f"{len(new)} new snapshots {new} from {started} run(s)")

    # Retention: only a commit or a prune may remove, and only what restic's rules remove.
    if gone:
        if not (new or prunes or step.get("daemon")):
            bad.append(f"snapshots {gone} disappeared in a step that neither committed nor pruned")
        elif set(gone) - allowed:
            bad.append(f"snapshots {sorted(set(gone) - allowed)} disappeared; "
                       f"the policy {policy} (zone {ledger['timezone']}) keeps them")
    # ... and a run or prune that succeeded alone applied it: nothing it removes is left.
    alone = len(runs) + len(prunes) == 1 and not step.get("daemon")
    ok_run = runs and runs[0]["exit"] == 0 and runs[0].get("snapshot") in new
    ok_prune = prunes and prunes[0]["exit"] == 0
    if alone and (ok_run or ok_prune):
        left = removable(times, ids, policy, tz) - {runs[0]["snapshot"] if ok_run else None}
        if left:
            bad.append(f"snapshots {sorted(left)} are still there after a successful "
                       f"{'run' if ok_run else 'prune'}; the policy {policy} removes them")
    if len(partials) > 1:
        bad.append(f"more than one .partial: {partials}")
    if step.get("daemon"):
        bad += agree.daemon_problems(step["daemon"])
    more, failures = agree.reports_problems(
        step, ledger["job"], last, before, mem.get("failures", 0), job_state(ledger), ids,
        removed | (allowed & set(gone)), alone)
    bad += more

    with open(state_path, "w") as f:
        json.dump({"snapshots": {i: made_by[i] for i in ids}, "last_run": last,
                   "times": {i: times[i].isoformat() for i in ids}, "failures": failures,
                   "restored": {i: restored[i] for i in ids if i in restored},
                   "removed": sorted(removed | (allowed & set(gone)))}, f)
    return bad


def job_state(ledger):
    """The state file's record of the job, or None when there is none (yet)."""
    try:
        with open(ledger["state_file"]) as f:
            return json.load(f)["jobs"][ledger["job"]]
    except (OSError, KeyError, ValueError):
        return None


def last_run(ledger):
    """The state file's last run of the job, or None when there is none (yet)."""
    return (job_state(ledger) or {}).get("last_run")


def state_problems(last, before, run):
    """The state file's last run must say what the exit code said. A run refused before it
    began (the job's lock is held) may leave the record as it was; any other record of a
    failed run says exit 1."""
    code = run["exit"]
    if last is None:
        return [f"the run exited {code} but the state file has no last run of the job"]
    if code == 1 and last == before:
        return []
    out = []
    if last.get("exit_code") != code:
        out.append(f"state file says exit {last.get('exit_code')}, the run exited {code}")
    if code in (0, 3) and last.get("snapshot") != run.get("snapshot"):
        out.append(f"state file names snapshot {last.get('snapshot')}, the run {run.get('snapshot')}")
    return out


def main(argv):
    if len(argv) == 3 and argv[1] == "digest":
        print(digest(argv[2]))
        return 0
    if len(argv) == 3 and argv[1] == "step":
        bad = check_step(argv[2])
        for b in bad:
            print(b)
        return 1 if bad else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
