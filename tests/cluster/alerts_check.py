"""alerts_check.py BUILDDIR - neoadmin's monitoring mails against a real
SMTP server (aiosmtpd from PyPI, with STARTTLS and AUTH required), on a
real cluster of this build: a master, two storages (replicas 1), an admin
with --monitor-email twice, --smtp, --smtp-tls, --smtp-auth.  Speaks TAP.

  0. a malformed --smtp-auth: the admin does not start, saying why;
  1. the cluster RUNNING: "NEO monitoring: OK", the summary as body, the
     headers and envelope upstream's admin sends;
  2. a storage killed: "PROBLEM (t)", DOWN=1 and out-of-date cells;
  3. that storage back while the other is stopped (SIGSTOP), so that it
     cannot catch up: "WARNING (t)", out-of-date cells and nobody down;
  4. replication done: "OK" again;
  5. the SMTP server gone and a storage killed: the failure is logged and
     shown by neoctl print summary as a problem;
  6. the server back, a change: the next mail carries the failure;
  7. neoctl set cluster STOPPING: mailed, then the admin exits 0.
"""
import email
import email.policy
import logging
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# aiosmtpd's own AUTH code sets its deprecated Session.login_data, which
# logs a warning each time.
logging.getLogger("mail.log").setLevel(logging.ERROR)
builddir = sys.argv[1]
core = os.path.join(builddir, "core")
sqlite = os.path.join(builddir, "backends", ".libs", "sqlite.so")
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
    """aiosmtpd's handler: every mail taken, with its session."""

    def __init__(self):
        self.mails = queue.Queue()

    async def handle_DATA(self, server, session, envelope):
        self.mails.put({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "message": email.message_from_bytes(envelope.original_content,
                                                policy=email.policy.default),
            "tls": session.ssl is not None,
            "login": session.auth_data if session.authenticated else None,
        })
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    good = auth_data.login == b"neo" and auth_data.password == b"se:cret"
    return AuthResult(success=good, auth_data=auth_data.login)


def smtp_server(port, context, mailbox):
    c = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context,
                   require_starttls=True, auth_required=True,
                   authenticator=authenticator)
    c.start()
    return c


def wait_mail(mailbox, want, timeout=30):
    """The first mail whose subject is want (others are skipped)."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        try:
            mail = mailbox.mails.get(timeout=0.2)
        except queue.Empty:
            continue
        subject = str(mail["message"]["Subject"])
        seen.append(subject)
        if subject == want:
            return mail, seen
    return None, seen


def body(mail):
    return mail["message"].get_content() if mail else ""


def neoctl(admin, *args):
    r = subprocess.run([os.path.join(core, "neoctl"), "-a", admin] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


scratch = tempfile.mkdtemp(prefix="neo-test-alerts-")
procs = {}
controller = None
try:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", scratch + "/smtp.key",
                    "-out", scratch + "/smtp.crt"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(scratch + "/smtp.crt", scratch + "/smtp.key")
    mailbox = Mailbox()
    smtp_port = free_port()
    controller = smtp_server(smtp_port, context, mailbox)

    master = "127.0.0.1:%d" % free_port()
    admin = "127.0.0.1:%d" % free_port()
    common = ["-c", "t", "-m", master]

    def start(name, args, env=None):
        log = open(os.path.join(scratch, name + ".out"), "w")
        procs[name] = subprocess.Popen(
            [os.path.join(core, args[0])] + args[1:] + ["-l", os.path.join(scratch, name + ".log")],
            stdout=log, stderr=subprocess.STDOUT, env=env)

    def storage(name):
        start(name, ["neostorage"] + common + ["-e", sqlite, "-d",
                                              os.path.join(scratch, name + ".db")])

    start("master", ["neomaster", "-c", "t", "-b", master, "-m", master, "-p", "4", "-r", "1",
                     "-A", "2"])
    storage("s1")
    storage("s2")
    env = dict(os.environ, EMAIL="neo-admin@example.com")
    start("admin", ["neoadmin"] + common + [
        "-b", admin, "--monitor-email", "ops@example.com", "--monitor-email", "dba@example.com",
        "--smtp", "127.0.0.1:%d" % smtp_port, "--smtp-tls", "--smtp-auth", "neo:se:cret"], env)

    # 0. a malformed --smtp-auth stops the admin with a message
    r = subprocess.run([os.path.join(core, "neoadmin")] + common + [
        "-b", "127.0.0.1:0", "--monitor-email", "ops@example.com", "--smtp-auth", "neo"],
        capture_output=True, text=True, timeout=30)
    ok(r.returncode != 0 and "--smtp-auth: expected USER:PASSWORD" in r.stdout + r.stderr,
       "--smtp-auth without ':' is refused with a message", r.stdout + r.stderr)

    # 1. RUNNING
    mail, seen = wait_mail(mailbox, "NEO monitoring: OK", 60)
    ok(mail is not None, "the cluster RUNNING is mailed as OK", "subjects seen: %s" % seen)
    text = body(mail)
    ok(text.startswith("RUNNING; UP_TO_DATE=8; ltid=") and "DOWN" not in text,
       "its body is the summary, with the last tid", text)
    m = mail["message"] if mail else {}
    ok(mail is not None and str(m["From"]) == "NEO t <neo-admin@example.com>" and
       str(m["To"]) == "ops@example.com, dba@example.com" and m["Date"] is not None and
       mail["mail_from"] in ("", "<>") and
       mail["rcpt_tos"] == ["ops@example.com", "dba@example.com"],
       "headers and envelope as upstream's (From NEO t <$EMAIL>, both recipients, <> sender)",
       mail and {k: mail[k] for k in ("mail_from", "rcpt_tos")})
    ok(mail is not None and mail["tls"] and mail["login"] == b"neo",
       "sent after STARTTLS and AUTH (--smtp-tls, --smtp-auth)",
       mail and {k: mail[k] for k in ("tls", "login")})

    # 2. a storage down
    procs["s2"].kill()
    procs["s2"].wait()
    mail, seen = wait_mail(mailbox, "NEO monitoring: PROBLEM (t)", 30)
    text = body(mail)
    ok(mail is not None and "DOWN=1" in text and "OUT_OF_DATE=4" in text,
       "a storage down is mailed as PROBLEM (t), DOWN=1, its cells out of date",
       "subjects %s, body %r" % (seen, text))

    # 3. back, but unable to catch up while s1 is stopped
    procs["s1"].send_signal(signal.SIGSTOP)
    storage("s2")
    mail, seen = wait_mail(mailbox, "NEO monitoring: WARNING (t)", 12)
    text = body(mail)
    procs["s1"].send_signal(signal.SIGCONT)
    ok(mail is not None and text.startswith("RUNNING; OUT_OF_DATE=4, UP_TO_DATE=4; ltid=")
       and "DOWN" not in text,
       "cells out of date, every node up, are mailed as WARNING (t)",
       "subjects %s, body %r" % (seen, text))

    # 4. caught up
    mail, seen = wait_mail(mailbox, "NEO monitoring: OK", 40)
    ok(mail is not None and body(mail).startswith("RUNNING; UP_TO_DATE=8; ltid="),
       "replication done is mailed as OK", "subjects %s" % seen)

    # 5. no SMTP server
    controller.stop()
    controller = None
    procs["s2"].kill()
    procs["s2"].wait()
    summary = ""
    deadline = time.time() + 30
    while time.time() < deadline and "could not be sent" not in summary:
        time.sleep(0.5)
        summary = neoctl(admin, "print", "summary")
    ok(summary.startswith('# {"problem": [null]}') and "DOWN=1" in summary and
       "A notification could not be sent at " in summary,
       "a mail that cannot be sent is a problem in neoctl print summary, with the error",
       summary)
    with open(os.path.join(scratch, "admin.log")) as f:
        log = f.read()
    ok("ERROR" in log and "monitoring mail not sent" in log, "and an ERROR line in the log",
       log[-2000:])

    # 6. the server back: the next mail carries the failure
    controller = smtp_server(smtp_port, context, mailbox)
    storage("s2")
    try:
        mail = mailbox.mails.get(timeout=30)
    except queue.Empty:
        mail = None
    text = body(mail)
    ok(mail is not None and "A notification could not be sent at " in text,
       "the next mail tells the failure", "body %r" % text)
    mail, seen = wait_mail(mailbox, "NEO monitoring: OK", 40)
    summary = neoctl(admin, "print", "summary")
    ok(mail is not None and "could not be sent" not in body(mail) and
       summary.startswith("# {}") and "could not be sent" not in summary,
       "once a mail went, the failure is no longer told", "%s %r" % (seen, summary))

    # 7. stop
    out = neoctl(admin, "set", "cluster", "STOPPING")
    try:
        status = procs["admin"].wait(timeout=20)
    except subprocess.TimeoutExpired:
        status = None
    ok(status == 0, "the admin exits 0 when the cluster stops", "%r %r" % (out, status))
    mail, seen = wait_mail(mailbox, "NEO monitoring: PROBLEM (t)", 5)
    ok(mail is not None and body(mail).startswith("STOPPING"),
       "the cluster stopping is mailed before the admin exits", "%s %r" % (seen, body(mail)))
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
    if failed:
        for name in ("admin",):
            path = os.path.join(scratch, name + ".log")
            if os.path.exists(path):
                with open(path) as f:
                    for line in f.read().splitlines()[-40:]:
                        print("# " + line)
    if os.environ.get("NEO_KEEP_SCRATCH"):
        print("# kept " + scratch)
    else:
        shutil.rmtree(scratch, ignore_errors=True)

print("1..%d" % n)
sys.exit(1 if failed else 0)
