#!/usr/bin/python3
"""SMTP sink with TLS and AUTH, for the SMTP client's tests: one file per message, like scripts/smtp_sink.py.

Usage: /usr/bin/python3 scripts/smtp_sink_tls.py --port P --dir D --cert C --key K
                                                  [--mode starttls|smtps|plain-auth] [--user U --password W]

  starttls    plain SMTP that offers and requires STARTTLS before AUTH and MAIL (port 587 style)
  smtps       TLS from the first byte (implicit TLS, port 465 style)
  plain-auth  no TLS at all, AUTH offered in clear: the server a client with credentials must refuse

With --user, AUTH (PLAIN or LOGIN) with exactly these credentials is required. Each stored message gets
"X-Sink-TLS: yes|no", "X-Sink-Auth: <login>" and "X-Sink-Session: <n>" (one number per connection, to show
connection reuse) prepended. SIGTERM or SIGINT stops it. Run it with Debian's /usr/bin/python3 (aiosmtpd).
"""

import argparse
import itertools
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from smtp_sink import serve_until_signalled, store_message


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.messages = itertools.count(1)
        self.sessions = itertools.count(1)
        self.session_ids = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.messages)
            sid = self.session_ids.setdefault(id(session), next(self.sessions))
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login.decode() if getattr(session, "auth_data", None) is not None else ""
        store_message(self.directory, f"{n:08d}-{n}.eml", envelope, [
            ("X-Sink-Rcpt-To", ", ".join(envelope.rcpt_tos)), ("X-Sink-TLS", "yes" if tls else "no"),
            ("X-Sink-Auth", login), ("X-Sink-Session", sid),
        ])
        return "250 OK"


def main():
    parser = argparse.ArgumentParser(description="SMTP sink with STARTTLS or implicit TLS and AUTH")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", choices=["starttls", "smtps", "plain-auth"], default="starttls")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (args.user is None
              or (auth_data.login.decode() == args.user and auth_data.password.decode() == args.password))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    options = dict(hostname=args.host, port=args.port, authenticator=authenticate,
                   auth_required=args.user is not None, enable_SMTPUTF8=True)
    if args.mode == "starttls":
        options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    elif args.mode == "plain-auth":
        options.update(auth_require_tls=False)
    else:
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(Handler(os.path.abspath(args.dir)), **options)
    serve_until_signalled(controller, f"tls sink ({args.mode}) listening on {args.host}:{args.port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
