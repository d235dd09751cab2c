#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for the omamori notify tests.

Listens on 127.0.0.1 on an ephemeral port and prints the port on stdout once
it accepts connections. Every accepted message is stored in DIR as
msg-<pid>-<n>.eml (the DATA exactly as received) with the envelope in
msg-<pid>-<n>.env ("from <addr>" and "to <addr>" lines), written before the
.eml appears. Recipients listed in DIR/reject (one per line, read at every
RCPT) are refused with 550. Exits when its stdin is closed (the test ended).

  smtp_sink.py DIR [--tls CERT KEY] [--auth USER:PASSWORD]

--tls offers STARTTLS and requires it before MAIL; --auth requires AUTH
(PLAIN or LOGIN, only after STARTTLS when --tls is given).
"""
import argparse
import asyncio
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.n = 0

    def rejected(self):
        try:
            with open(os.path.join(self.dir, "reject"), encoding="utf-8") as f:
                return {line.strip().lower() for line in f if line.strip()}
        except FileNotFoundError:
            return set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rejected():
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.dir, "msg-%d-%d" % (os.getpid(), self.n))
        with open(base + ".env", "w", encoding="utf-8") as f:
            f.write("from %s\n" % envelope.mail_from)
            for r in envelope.rcpt_tos:
                f.write("to %s\n" % r)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth")
    a = ap.parse_args()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Sink(a.dir)
    kwargs = {"hostname": "sink.test"}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kwargs.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            # handled=False: aiosmtpd answers 535 itself on failure.
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.tls))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(handler, loop=loop, **kwargs), sock=sock))
    print(sock.getsockname()[1], flush=True)

    def on_stdin():
        if not os.read(sys.stdin.fileno(), 4096):
            loop.stop()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()
