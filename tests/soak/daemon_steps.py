"""The soak's `backup daemon` steps (soak.py draws them; check.py and agree.py judge them).

The job's schedule fires every PERIOD seconds of the daemon's (virtual) wall clock.

restart: a daemon runs, is SIGKILLed or SIGTERMed at a random instant (maybe mid-run), stays
down a little, and a second daemon starts. The README's "Catch-up": the second one runs once
at start (logging "catching up on the run scheduled for T") if and only if a scheduled time
passed after the last one the first daemon handled (the state file's `last_scheduled`), and T
is such a time: never one the first daemon already ran (a double run).

jump: while a daemon runs, its wall clock jumps forward (hours to weeks) or backward (minutes
to days); then it is stopped with SIGTERM. (After a backward jump the daemon waits for the
time it had planned, so it runs nothing more in the step; soak.py's clock_back fault makes a
`backup run` land on an existing snapshot's second instead.) The checker's usual invariants (nothing committed lost, retention by
restic's rules over the manifests' times, at most one `.partial`) hold across the jump.

Both: every daemon stopped by SIGTERM exits 0 within the shutdown timeout, and the daemons
start no more runs than the schedule has times in the seconds they were up (plus one
catch-up per start and one per jump).
"""

import datetime as dt
import math
import re
import signal
import subprocess
import time

PERIOD = 2  # seconds between scheduled times
STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")


def epoch(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def log_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def started(path):
    return sum(1 for line in log_lines(path) if "run started" in line)


def wait_for(path, needle, timeout):
    """The first line of the log holding `needle`, waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_lines(path):
            if needle in line:
                return line
        time.sleep(0.05)
    return None


def stop(sc, p, sig, name, hang):
    """Sends sig; returns (name, exit, expected exit) for the checker."""
    p.send_signal(sig)
    try:
        code = p.wait(timeout=hang)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return (name, f"hung for {hang}s after {signal.Signals(sig).name}", 0)
    return (name, code, 0 if sig == signal.SIGTERM else -signal.SIGKILL)


def last_scheduled(sc):
    from check import job_state  # the checker's reading of the state file
    js = job_state(sc.ledger) or {}
    return epoch(js["last_scheduled"]) if js.get("last_scheduled") else None


def window(sc):
    """Long enough for a scheduled time to come and its run to finish."""
    return PERIOD + 2 * sc.dur + 0.5


def restart(sc, tag, rng):
    from soak import HANG
    d1 = sc.start("daemon", f"{tag}-daemon1", job=None, env=sc.clock.env(live=True))
    t0 = time.monotonic()
    time.sleep(rng.uniform(0.5, PERIOD + sc.dur + 0.5))
    sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
    sc.counts[f"daemon stopped by {signal.Signals(sig).name}"] += 1
    exits = [stop(sc, d1, sig, "1", HANG)]
    up = time.monotonic() - t0
    handled = last_scheduled(sc)
    time.sleep(rng.uniform(0, 2 * PERIOD))
    d2 = sc.start("daemon", f"{tag}-daemon2", job=None, env=sc.clock.env(live=True))
    t1 = time.monotonic()
    line = wait_for(d2.log, "daemon started", 30)
    time.sleep(window(sc))
    exits.append(stop(sc, d2, signal.SIGTERM, "2", HANG))
    up += time.monotonic() - t1
    out = {"exits": exits, "runs_started": started(d1.log) + started(d2.log),
           "run_bound": math.ceil(up / PERIOD) + 2, "handled": handled}
    if line is None or not STAMP.match(line):
        out["exits"].append(("2 (no 'daemon started' line)", "silent", 0))
        return out
    out["restart"] = epoch(STAMP.match(line).group(1))
    catch = [m for m in (re.search(r"catching up on the run scheduled for (\S+ \S+)", x)
                         for x in log_lines(d2.log)) if m]
    out["catch_ups"] = len(catch)
    out["caught"] = (dt.datetime.strptime(catch[0].group(1), "%Y-%m-%d %H:%M:%S")
                     .replace(tzinfo=dt.timezone.utc).timestamp()) if catch else None
    if handled is None:
        out["missed"] = False  # a job the daemon never saw does not catch up
    else:
        due = (math.floor(handled / PERIOD) + 1) * PERIOD
        # The daemon reads its clock just before it logs "daemon started": too close to call.
        out["missed"] = None if abs(due - out["restart"]) < 0.5 else due <= out["restart"]
    sc.counts["daemon restart " + {True: "caught up", False: "nothing missed",
                                   None: "too close to call"}[out["missed"]]] += 1
    return out


def jump(sc, tag, rng):
    from soak import HANG
    d = sc.start("daemon", f"{tag}-daemon", job=None, env=sc.clock.env(live=True))
    t0 = time.monotonic()
    time.sleep(rng.uniform(0.5, PERIOD + sc.dur))
    how = rng.choice(["forward", "backward"])
    if how == "forward":
        sc.clock.jump(rng.uniform(3600, 40 * 86400))
    else:
        sc.clock.jump(-rng.uniform(60, 2 * 86400))
    sc.counts[f"daemon clock jump {how}"] += 1
    time.sleep(window(sc) + PERIOD)
    exits = [stop(sc, d, signal.SIGTERM, "1", HANG)]
    up = time.monotonic() - t0
    return {"exits": exits, "runs_started": started(d.log),
            "run_bound": math.ceil(up / PERIOD) + 3, "jump": how}
