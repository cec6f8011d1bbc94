"""restic's `forget` rules, written from restic's documentation and the README's Retention
section, for the soak's checker (check.py); it shares no code with the product's src/retention.

The semantics are those of restic 0.14, the version the product's golden files come from: the
snapshots newest first; each count rule (last, hourly, daily, weekly, monthly, yearly) keeps a
snapshot whose bucket (in the configured zone) differs from the bucket of the last snapshot that
rule kept, while it has count left; `keep_within D` keeps every snapshot strictly after
newest - D; `keep_within_<bucket> D` keeps, among those, one per bucket. D subtracts whole days
as calendar days in the zone (Go's AddDate) and hours as elapsed time. An empty policy keeps
everything. (restic >= 0.17 also keeps the oldest snapshot when a rule has count left; 0.14
and the product do not.)
"""

import datetime as dt
import re

COUNTS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
WITHINS = ("keep_within", "keep_within_hourly", "keep_within_daily", "keep_within_weekly",
           "keep_within_monthly", "keep_within_yearly")


def bucket(rule, t, nr):
    """The bucket of local time t (the nr-th newest snapshot) under rule."""
    kind = rule.rsplit("_", 1)[-1]
    if kind == "last":
        return ("nr", nr)
    if kind == "within":  # plain keep_within keeps every snapshot in its window
        return ("nr", nr)
    if kind == "hourly":
        return (t.year, t.month, t.day, t.hour)
    if kind == "daily":
        return (t.year, t.month, t.day)
    if kind == "weekly":
        y, w, _ = t.isocalendar()
        return (y, w)
    if kind == "monthly":
        return (t.year, t.month)
    return (t.year,)


def window_start(latest_local, within):
    """newest - D: "Nd" as N calendar days back in the zone, "Nh" as N hours of elapsed time."""
    m = re.fullmatch(r"(\d+)([dh])", within)
    n, unit = int(m.group(1)), m.group(2)
    if unit == "d":
        wall = latest_local.replace(tzinfo=None) - dt.timedelta(days=n)
        return go_date(wall, latest_local.tzinfo)
    return latest_local.astimezone(dt.timezone.utc) - dt.timedelta(hours=n)


def go_date(wall, tz):
    """The instant of wall-clock time `wall` in tz as Go's time.Date picks it, which decides a
    time in a DST gap or overlap (restic's golden files within-gap-* and within-overlap-*):
    the offset in force at `wall` read as UTC, unless the instant it gives lies outside that
    offset's span, then the offset at that instant."""
    as_utc = wall.replace(tzinfo=dt.timezone.utc)
    off = as_utc.astimezone(tz).utcoffset()
    if not off:
        return as_utc
    at = as_utc - off
    again = at.astimezone(tz).utcoffset()
    return at if again == off else as_utc - again


def kept(times, policy, tz):
    """The ids `policy` keeps among `times` ({id: aware UTC datetime})."""
    if not times or not any(policy.get(r) for r in COUNTS + WITHINS):
        return set(times)
    order = sorted(times, key=lambda i: (times[i], i), reverse=True)
    latest = times[order[0]].astimezone(tz)
    left = {r: policy.get(r) or 0 for r in COUNTS}
    last = {r: None for r in COUNTS + WITHINS}
    starts = {r: window_start(latest, policy[r]) for r in WITHINS if policy.get(r)}
    keep = set()
    for nr, i in enumerate(order):
        local = times[i].astimezone(tz)
        for r in COUNTS:
            if left[r] > 0:
                b = bucket(r, local, nr)
                if b != last[r]:
                    keep.add(i)
                    last[r] = b
                    left[r] -= 1
        for r, start in starts.items():
            if times[i] > start:
                b = bucket(r, local, nr)
                if b != last[r]:
                    keep.add(i)
                    last[r] = b
    return keep


def draw(rng):
    """A policy for one soak scenario: one to three rules, small enough that a history of a few
    steps fills them (so retention removes something), with buckets the harness's clock spreads
    snapshots over."""
    policy = {}
    rules = rng.sample(COUNTS + WITHINS, rng.randint(1, 3))
    for r in rules:
        if r in COUNTS:
            policy[r] = rng.randint(1, 3)
        else:
            policy[r] = rng.choice([f"{rng.randint(1, 20)}h", f"{rng.randint(1, 10)}d"])
    return policy


def self_test():
    """The README's worked example, and every golden file the real restic made
    (tests/retention/golden: instants, zone, policy, restic's verdict per snapshot)."""
    import glob
    import os
    import zoneinfo
    utc = dt.timezone.utc
    nights = {f"n{d}": dt.datetime(2026, 10, 1, 2, 0, tzinfo=utc) + dt.timedelta(days=d)
              for d in range(55)}  # 2026-10-01 .. 2026-11-24
    got = kept(nights, {"keep_daily": 7, "keep_weekly": 4}, zoneinfo.ZoneInfo("Europe/Berlin"))
    days = sorted(nights[i].day for i in got if nights[i].month == 11)
    assert days == [8, 15, 18, 19, 20, 21, 22, 23, 24], days
    ny = zoneinfo.ZoneInfo("America/New_York")
    hours = {f"h{k}": dt.datetime(2026, 2, 8, 18, 0, tzinfo=utc) - dt.timedelta(hours=7 * k)
             for k in range(8)}
    got = kept(hours, {"keep_within_hourly": "1d"}, ny)
    assert got == {"h0", "h1", "h2", "h3"}, got
    here = os.path.dirname(os.path.abspath(__file__))
    for f in sorted(glob.glob(os.path.join(here, "..", "retention", "golden", "*.txt"))):
        tz, policy, want = None, {}, {}
        with open(f) as lines:
            for line in lines:
                if line.startswith("# tz:"):
                    tz = zoneinfo.ZoneInfo(line.split(":", 1)[1].strip())
                elif line.startswith("# policy:"):
                    for kv in line.split(":", 1)[1].split():
                        k, v = kv.split("=")
                        policy[k] = int(v) if v.isdigit() else v
                elif line[:1].isdigit():
                    i, verdict = line.split()[:2]
                    want[i] = verdict == "keep"
        times = {i: dt.datetime.strptime(i, "%Y%m%dT%H%M%SZ").replace(tzinfo=utc) for i in want}
        got = kept(times, policy, tz)
        wrong = sorted(i for i in want if (i in got) != want[i])
        assert not wrong, f"{os.path.basename(f)}: {policy}: restic decided otherwise on {wrong}"


if __name__ == "__main__":
    self_test()
    print("retention self-test ok")
