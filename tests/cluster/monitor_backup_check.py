"""monitor_backup_check.py BUILDDIR - neoadmin --monitor-backup on real
clusters of this build: a main cluster "main" (master, storage, admin with
--monitor-backup bk, --monitor-email, --monitor-maxlag 2,
--monitor-interval 1, --metrics) and a backup cluster "bk" (master in
backup mode from the start, storage, admin), a real SMTP server (aiosmtpd
from PyPI) and the metrics parsed by prometheus_client's parser.  Speaks
TAP.

  1. the backup caught up: "NEO monitoring: OK", bk's summary under ours
     with lag=0.0, as upstream's admin writes it; print summary shows it;
     neo_backup_connected 1, neo_backup_lag_seconds 0;
  2. bk's storage stopped (SIGSTOP) while main commits twice, 3 s apart:
     "WARNING (bk)", lag over --monitor-maxlag (as upstream, the lag is
     the time from the first transaction bk misses to main's last one);
     neo_backup_lagging 1, the lag metric > 2, and bk's master's own
     neo_master_backup_lag_seconds > 2;
  3. resumed: it catches up, "OK" again, the metrics back to 0;
  4. bk's storage killed: "PROBLEM (bk)", DOWN=1 in bk's summary, bk in
     print summary's problems;
  5. bk's admin killed: "PROBLEM (bk)", bk's summary "None";
     neo_backup_connected 0.
"""
import email
import email.policy
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families

builddir = sys.argv[1]
core = os.path.join(builddir, "core")
sqlite = os.path.join(builddir, "backends", ".libs", "sqlite.so")
commit_tool = os.path.join(builddir, "tests", "cluster", "monitor_commit")
n = 0
failed = False


def ok(cond, what, detail=""):
    global n, failed
    n += 1
    if cond:
        print("ok %d - %s" % (n, what))
    else:
        failed = True
        print("not ok %d - %s" % (n, what))
        for line in str(detail).splitlines():
            print("# " + line)
    sys.stdout.flush()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.mails = queue.Queue()

    async def handle_DATA(self, server, session, envelope):
        self.mails.put(email.message_from_bytes(envelope.original_content,
                                                policy=email.policy.default))
        return "250 OK"


def wait_mail(mailbox, want, match=None, timeout=30):
    """The first mail whose subject is want and whose body matches the
    regular expression match (others are skipped)."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        try:
            mail = mailbox.mails.get(timeout=0.2)
        except queue.Empty:
            continue
        subject = str(mail["Subject"])
        text = mail.get_content().replace("\r\n", "\n")
        seen.append((subject, text))
        if subject == want and (match is None or re.search(match, text)):
            return text, seen
    return None, seen


def neoctl(admin, *args):
    r = subprocess.run([os.path.join(core, "neoctl"), "-a", admin] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def scrape(url):
    """{(name, backup label): value} of the neo_backup_* samples."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode("utf-8")
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(("neo_backup_", "neo_master_backup_")):
                out[(sample.name, sample.labels.get("backup"))] = sample.value
    return out


def wait_metrics(url, cond, timeout=10):
    deadline = time.time() + timeout
    values = {}
    while time.time() < deadline:
        values = scrape(url)
        if cond(values):
            return True, values
        time.sleep(0.3)
    return False, values


scratch = tempfile.mkdtemp(prefix="neo-test-monbackup-")
procs = {}
controller = None
try:
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()

    master = "127.0.0.1:%d" % free_port()
    admin = "127.0.0.1:%d" % free_port()
    bmaster = "127.0.0.1:%d" % free_port()
    badmin = "127.0.0.1:%d" % free_port()
    metrics = "127.0.0.1:%d" % free_port()
    metrics_url = "http://%s/metrics" % metrics
    bmetrics = "127.0.0.1:%d" % free_port()
    bmetrics_url = "http://%s/metrics" % bmetrics

    def start(name, args):
        log = open(os.path.join(scratch, name + ".out"), "w")
        procs[name] = subprocess.Popen(
            [os.path.join(core, args[0])] + args[1:] + ["-l", os.path.join(scratch, name + ".log")],
            stdout=log, stderr=subprocess.STDOUT)

    def commit(count):
        r = subprocess.run([commit_tool, "main", master, str(count)], capture_output=True,
                           text=True, timeout=30)
        return r.returncode == 0, r.stdout.strip() + r.stderr

    start("master", ["neomaster", "-c", "main", "-b", master, "-m", master, "-p", "4",
                     "-r", "0", "-A", "1"])
    start("storage", ["neostorage", "-c", "main", "-m", master, "-e", sqlite,
                      "-d", os.path.join(scratch, "main.db")])
    start("admin", ["neoadmin", "-c", "main", "-m", master, "-b", admin,
                    "--monitor-backup", "bk", "--monitor-maxlag", "2", "--monitor-interval", "1",
                    "--monitor-email", "ops@example.com", "--smtp", "127.0.0.1:%d" % smtp_port,
                    "--metrics", metrics] + os.environ.get("NEO_TEST_ADMIN_ARGS", "").split())
    done, out = commit(3)
    ok(done, "3 transactions committed to the main cluster", out)

    start("bmaster", ["neomaster", "-c", "bk", "-b", bmaster, "-m", bmaster, "-p", "4",
                      "-r", "0", "-A", "1", "-C", "main", "-M", master, "-B",
                      "--metrics", bmetrics])
    start("bstorage", ["neostorage", "-c", "bk", "-m", bmaster, "-e", sqlite,
                       "-d", os.path.join(scratch, "bk.db")])
    # bk's admin comes once bk backs up: its master names main's admin to
    # it at identification (as upstream)
    deadline = time.time() + 20
    while time.time() < deadline:
        path = os.path.join(scratch, "bmaster.log")
        if os.path.exists(path):
            with open(path) as f:
                if "cluster state: BACKINGUP" in f.read():
                    break
        time.sleep(0.2)
    start("badmin", ["neoadmin", "-c", "bk", "-m", bmaster, "-b", badmin])

    # 1. up to date
    up_to_date = r"\n\nbk\n    BACKINGUP; UP_TO_DATE=4; ltid=[0-9a-f]{16}; lag=0\.0$"
    text, seen = wait_mail(mailbox, "NEO monitoring: OK", up_to_date, 40)
    ok(text is not None and re.match(r"RUNNING; UP_TO_DATE=4; ltid=[0-9a-f]{16} \(", text),
       "the backup caught up is mailed as OK: our summary, then bk's with lag=0.0",
       "mails seen: %r" % seen)
    summary = neoctl(admin, "print", "summary")
    ok(summary.startswith("# {}") and re.search(up_to_date, summary.rstrip("\n")),
       "neoctl print summary shows bk and its lag", summary)
    good, values = wait_metrics(metrics_url, lambda v: v.get(("neo_backup_connected", "bk")) == 1
                                and v.get(("neo_backup_lag_seconds", "bk")) == 0
                                and v.get(("neo_backup_lagging", "bk")) == 0)
    ok(good, "metrics: neo_backup_connected 1, neo_backup_lag_seconds 0, neo_backup_lagging 0",
       values)

    # 2. lagging
    # as upstream, the lag is the time between the first transaction the
    # backup misses and main's last one: two commits 3 s apart
    procs["bstorage"].send_signal(signal.SIGSTOP)
    done, out = commit(1)
    time.sleep(3)
    done2, out2 = commit(1)
    done, out = done and done2, out + out2
    text, seen = wait_mail(mailbox, "NEO monitoring: WARNING (bk)", r"; lag=", 8)
    lag = re.search(r"\n\nbk\n    BACKINGUP; UP_TO_DATE=4; ltid=[0-9a-f]{16}; lag=([0-9.]+)$",
                    text or "")
    ok(done and lag and float(lag.group(1)) > 2,
       "bk's storage stopped while main commits: WARNING (bk), lag over --monitor-maxlag",
       "%s; mails seen: %r" % (out, seen))
    good, values = wait_metrics(metrics_url, lambda v: v.get(("neo_backup_lagging", "bk")) == 1
                                and v.get(("neo_backup_lag_seconds", "bk"), 0) > 2, 3)
    bgood, bvalues = wait_metrics(bmetrics_url, lambda v: v.get(
        ("neo_master_backup_lag_seconds", None), 0) > 2, 3)
    procs["bstorage"].send_signal(signal.SIGCONT)
    ok(good, "metrics: neo_backup_lagging 1, neo_backup_lag_seconds over 2", values)
    ok(bgood, "bk's master: neo_master_backup_lag_seconds over 2 too", bvalues)

    # 3. back to normal
    text, seen = wait_mail(mailbox, "NEO monitoring: OK", up_to_date, 20)
    ok(text is not None, "caught up again: OK, lag=0.0", "mails seen: %r" % seen)
    good, values = wait_metrics(metrics_url, lambda v: v.get(("neo_backup_lagging", "bk")) == 0
                                and v.get(("neo_backup_lag_seconds", "bk")) == 0)
    bgood, bvalues = wait_metrics(bmetrics_url, lambda v: v.get(
        ("neo_master_backup_lag_seconds", None)) == 0)
    ok(good and bgood, "metrics: the lag back to 0 (main's admin, bk's master)",
       "%s %s" % (values, bvalues))

    # 4. the backup's storage down
    procs["bstorage"].kill()
    procs["bstorage"].wait()
    text, seen = wait_mail(mailbox, "NEO monitoring: PROBLEM (bk)", r"\n\nbk\n    .*DOWN=1", 20)
    ok(text is not None and text.startswith("RUNNING; UP_TO_DATE=4; ltid="),
       "bk's storage killed: PROBLEM (bk), DOWN=1 in bk's summary", "mails seen: %r" % seen)
    summary = neoctl(admin, "print", "summary")
    ok(summary.startswith('# {"problem": ["bk"]}'), "print summary lists bk as a problem",
       summary)

    # 5. the backup's admin gone
    procs["badmin"].kill()
    procs["badmin"].wait()
    text, seen = wait_mail(mailbox, "NEO monitoring: PROBLEM (bk)", r"\n\nbk\n    None$", 20)
    ok(text is not None, "bk's admin gone: PROBLEM (bk), its summary None",
       "mails seen: %r" % seen)
    good, values = wait_metrics(metrics_url, lambda v: v.get(("neo_backup_connected", "bk")) == 0
                                and ("neo_backup_lag_seconds", "bk") not in v)
    ok(good, "metrics: neo_backup_connected 0, no lag", values)

    os.kill(procs["admin"].pid, signal.SIGTERM)
    try:
        status = procs["admin"].wait(timeout=20)
    except subprocess.TimeoutExpired:
        status = None
    ok(status == 0, "the admin stops cleanly on SIGTERM", status)
finally:
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.terminate()
    for p in procs.values():
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    if controller:
        controller.stop()
    # sanitized builds: the daemons' reports fail the test
    reports = []
    for name in sorted(procs):
        path = os.path.join(scratch, name + ".out")
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text = f.read()
            if re.search(r"Sanitizer|runtime error:", text):
                reports.append("%s: %s" % (name, text[-3000:]))
    ok(not reports, "no sanitizer report from the daemons", "\n".join(reports))
    if failed:
        for name in ("admin", "badmin"):
            path = os.path.join(scratch, name + ".log")
            if os.path.exists(path):
                print("# --- " + name)
                with open(path) as f:
                    for line in f.read().splitlines()[-40:]:
                        print("# " + line)
    if os.environ.get("NEO_KEEP_SCRATCH"):
        print("# kept " + scratch)
    else:
        shutil.rmtree(scratch, ignore_errors=True)

print("1..%d" % n)
sys.exit(1 if failed else 0)
