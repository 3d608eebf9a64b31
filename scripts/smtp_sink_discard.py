#!/usr/bin/python3
"""Fast SMTP sink for benchmarks: speaks just enough SMTP, counts the messages and throws them away.

Usage: /usr/bin/python3 scripts/smtp_sink_discard.py [--host 127.0.0.1] [--port 25260] [--report-every 5]

scripts/smtp_sink.py (aiosmtpd, one file per message) is the sink for tests; at a few thousand messages a second
it is itself the bottleneck. This one is a plain asyncio protocol with no parsing beyond the command verbs and the
end-of-data marker, so a benchmark measures the sender, not the sink.

Replies 250 to MAIL/RCPT/RSET/NOOP, 354 to DATA, 250 after the data, 235 to AUTH, 221 to QUIT. No TLS.
On SIGTERM or SIGINT it prints the totals and exits. Standard library only.
"""

import argparse
import asyncio
import signal
import sys
import time


class Stats:
    def __init__(self):
        self.messages = 0
        self.bytes = 0
        self.connections = 0
        self.first = None
        self.last = None

    def line(self):
        span = (self.last - self.first) if self.first and self.last and self.last > self.first else 0
        rate = f"{(self.messages - 1) / span:.0f} msg/s" if span > 0 and self.messages > 1 else "-"
        return f"messages {self.messages} bytes {self.bytes} connections {self.connections} rate {rate}"


class Session(asyncio.Protocol):
    END = b"\r\n.\r\n"

    def __init__(self, stats):
        self.stats = stats
        self.buffer = bytearray()
        self.in_data = False
        self.scan = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.stats.connections += 1
        transport.write(b"220 discard-sink ESMTP ready\r\n")

    def data_received(self, data):
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                if self.buffer.startswith(b".\r\n") and self.scan == 0:
                    end, skip = 0, 3
                else:
                    end = self.buffer.find(self.END, max(0, self.scan - 4))
                    skip = 5
                if end < 0:
                    self.scan = len(self.buffer)
                    break
                now = time.monotonic()
                self.stats.first = self.stats.first or now
                self.stats.last = now
                self.stats.messages += 1
                self.stats.bytes += end
                del self.buffer[: end + skip]
                self.in_data = False
                self.scan = 0
                replies.append(b"250 2.0.0 OK discarded\r\n")
                continue
            newline = self.buffer.find(b"\r\n")
            if newline < 0:
                break
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 2]
            verb = line[:4].upper()
            if verb in (b"EHLO",):
                replies.append(b"250-discard-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                               b"250-AUTH PLAIN LOGIN\r\n250 SIZE 52428800\r\n")
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                replies.append(b"250 OK\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.scan = 0
                replies.append(b"354 end data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"AUTH":
                replies.append(b"235 2.7.0 accepted\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            else:
                replies.append(b"502 command not implemented\r\n")
        if replies:
            self.transport.write(b"".join(replies))


async def main():
    parser = argparse.ArgumentParser(description="SMTP sink that counts and discards messages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=25260)
    parser.add_argument("--report-every", type=float, default=5.0, help="seconds between progress lines (0: none)")
    args = parser.parse_args()

    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Session(stats), args.host, args.port, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"discard sink listening on {args.host}:{args.port}", flush=True)
    reported = -1
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=args.report_every or 3600)
        except asyncio.TimeoutError:
            pass
        if args.report_every and stats.messages != reported:
            reported = stats.messages
            print(stats.line(), flush=True)
    server.close()
    print("final " + stats.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
