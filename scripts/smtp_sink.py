#!/usr/bin/python3
"""SMTP sink for tests: accepts mail on HOST:PORT and stores each message as one file.

Usage: /usr/bin/python3 scripts/smtp_sink.py --host 127.0.0.1 --port 25250 --dir .data/mail

Run it with Debian's /usr/bin/python3 (python3-aiosmtpd is only importable there).
Each accepted message becomes DIR/<timestamp>-<n>.eml: the raw bytes as received, with an
"X-Sink-Rcpt-To: a@x, b@y" (and "X-Sink-Mail-From") header prepended. Files are written to a
hidden temporary name first and renamed, so a reader never sees a partial message.

Failure injection: DIR/.mode is read on every DATA command:
  absent or "ok" -> 250 OK (message stored)
  "4xx"          -> 451 4.3.0 try again later (nothing stored)
  "5xx"          -> 550 5.1.1 mailbox unavailable (nothing stored)
Plain SMTP without TLS; AUTH is optional and any credentials are accepted.
"""

import argparse
import datetime
import itertools
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def _accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


class SinkHandler:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    def mode(self):
        try:
            with open(os.path.join(self.directory, ".mode"), encoding="utf-8") as f:
                return f.read().strip().lower()
        except FileNotFoundError:
            return "ok"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "4xx":
            print("rejected 451 for", envelope.rcpt_tos, flush=True)
            return "451 4.3.0 try again later"
        if mode == "5xx":
            print("rejected 550 for", envelope.rcpt_tos, flush=True)
            return "550 5.1.1 mailbox unavailable"
        with self.lock:
            n = next(self.counter)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{n}.eml"
        store_message(self.directory, name, envelope,
                      [("X-Sink-Rcpt-To", ", ".join(envelope.rcpt_tos)), ("X-Sink-Mail-From", envelope.mail_from or "")])
        print("stored", name, "for", envelope.rcpt_tos, flush=True)
        return "250 OK"


def store_message(directory, name, envelope, headers):
    """Writes the message as received, with `headers` (name, value) prepended, as DIRECTORY/NAME: first to a
    hidden temporary name, then renamed, so that a reader never sees a partial message."""
    content = envelope.original_content or envelope.content
    if isinstance(content, str):
        content = content.encode("utf-8")
    eol = b"\r\n" if b"\r\n" in content else b"\n"
    head = b"".join(f"{key}: {value}".encode("utf-8") + eol for key, value in headers)
    tmp = os.path.join(directory, f".tmp-{name}")
    with open(tmp, "wb") as f:
        f.write(head + content)
    os.replace(tmp, os.path.join(directory, name))


def serve_until_signalled(controller, banner):
    """Runs an aiosmtpd controller until SIGTERM or SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    print(banner, flush=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        controller.stop()


def main():
    parser = argparse.ArgumentParser(description="SMTP sink writing one .eml file per message")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25250)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        SinkHandler(os.path.abspath(args.dir)),
        hostname=args.host,
        port=args.port,
        enable_SMTPUTF8=True,
        authenticator=_accept_any,
        auth_require_tls=False,
    )
    serve_until_signalled(controller, f"smtp sink listening on {args.host}:{args.port}, writing to {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
