"""What the agent says against what the server holds, for the soak's checker (check.py).

After every step: the state file's last run says the same as its exit code (README "backup
status": outcome success/warnings/failed for exit 0/3/1) and counts consecutive failures;
`backup status --json` (the harness stores its output in the ledger) shows the state file's
record; the metrics file (README "Prometheus metrics") says the same; a run recorded as
committed is on the server with that id (or was removed by retention since). For daemon steps,
the catch-up rules of the README's "Catch-up" section.
"""

import datetime as dt

OUTCOME = {0: "success", 3: "warnings", 1: "failed"}


def seconds(rfc3339):
    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def metrics(text, job):
    """{name: value} of the series labelled job="<job>" (and the unlabelled ones)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name, _, labels = name_labels.partition("{")
        if not labels or f'job="{job}"' in labels:
            out[name] = float(value)
    return out


def reports_problems(step, job, last, before, prev_failures, state_job, ids, removed_ok, alone):
    """Violations, and the consecutive failures the state file now holds (for the next step)."""
    bad = []
    failures = (state_job or {}).get("consecutive_failures", 0)
    success = (state_job or {}).get("last_success")
    if last is not None:
        want = OUTCOME.get(last.get("exit_code"))
        if last.get("outcome") != want:
            bad.append(f"state file: last run exit {last.get('exit_code')} but outcome {last.get('outcome')}")
        if (failures == 0) != (last.get("outcome") != "failed"):
            bad.append(f"state file: {failures} consecutive failures after a {last.get('outcome')} run")
        if last.get("outcome") != "failed":
            if success != last:
                bad.append("state file: the last run succeeded but last_success is another run")
            snap = last.get("snapshot")
            if snap not in ids and snap not in removed_ok:
                bad.append(f"state file: the last run committed {snap}, which is not on the server")
        elif last.get("snapshot"):
            bad.append(f"state file: a failed run names snapshot {last['snapshot']}")
    # One run that recorded itself (not refused by the lock): the count moved by exactly one.
    recorded = [r for r in step.get("runs", []) if r["exit"] in (0, 1, 3)]
    if alone and len(recorded) == 1 and last != before:
        want = prev_failures + 1 if recorded[0]["exit"] == 1 else 0
        if failures != want:
            bad.append(f"state file: {failures} consecutive failures, expected {want}")

    status = step.get("status")
    if not isinstance(status, list):
        bad.append(f"backup status --json: {status}")
    else:
        mine = [s for s in status if s.get("job") == job]
        s = mine[0] if mine else {}
        for key, want in (("last_run", last), ("last_success", success),
                          ("consecutive_failures", failures), ("daemon", None), ("running", None)):
            if s.get(key) != want:
                bad.append(f"backup status --json: {key} is {s.get(key)!r}, the state file "
                           f"says {want!r}" if key not in ("daemon", "running") else
                           f"backup status --json: {key} is {s.get(key)!r} after the step ended")

    m = metrics(step.get("metrics") or "", job)
    # An agent SIGKILLed between its state-file write and its metrics write leaves the metrics
    # one run behind until the next write (README: the metrics are rendered from the state
    # file after every run); only an undisturbed step must agree.
    killed = any(r["exit"] == "killed" for r in step.get("runs", []) + step.get("prunes", [])) or \
        any(code == -9 for _, code, _ in step.get("daemon", {}).get("exits", []))
    if last is not None and not killed:
        expect = {
            "backup_last_run_success": 0 if last.get("outcome") == "failed" else 1,
            "backup_consecutive_failures": failures,
            "backup_last_run_timestamp_seconds": seconds(last["started_at"]),
            "backup_last_success_timestamp_seconds": seconds(success["started_at"]) if success else 0,
        }
        ok_alone = alone and last.get("exit_code") == 0 and last != before
        if ok_alone or (alone and step.get("prunes") and step["prunes"][0]["exit"] == 0):
            expect["backup_snapshots_total"] = len(ids)
        for name, want in expect.items():
            got = m.get(name)
            slack = 1 if name.endswith("_timestamp_seconds") else 0  # float seconds vs RFC 3339
            if got is None or abs(got - want) > slack:
                bad.append(f"metrics: {name} is {got}, expected {want} (state file / server)")
    return bad, failures


def daemon_problems(d):
    """The daemon's exits and catch-up, from the facts the harness gathered."""
    bad = []
    for name, code, want in d.get("exits", []):
        if code != want:
            bad.append(f"daemon {name} exited {code}, expected {want}")
    if "catch_ups" in d:
        n, missed = d["catch_ups"], d["missed"]
        if n > 1:
            bad.append(f"the restarted daemon caught up {n} times; the README says once")
        if missed is True and n != 1:
            bad.append("a scheduled time passed while the daemon was down "
                       f"(last handled {d['handled']}, restarted {d['restart']}) but it did not catch up")
        if n == 1 and d.get("handled") and d["caught"] <= d["handled"]:
            bad.append(f"the restarted daemon caught up on {d['caught']}, which the first one had "
                       f"handled (last handled {d['handled']}): a double run")
        elif missed is False and n:
            bad.append(f"the restarted daemon caught up on {d['caught']}, which the first one had "
                       f"handled (last handled {d['handled']}): a double run")
    if d.get("runs_started", 0) > d.get("run_bound", 1 << 30):
        bad.append(f"the daemon started {d['runs_started']} runs, more than the schedule allows "
                   f"({d['run_bound']})")
    return bad
