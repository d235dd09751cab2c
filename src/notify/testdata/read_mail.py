#!/usr/bin/python3
"""Decodes one stored e-mail with Python's email package (an independent MIME
reader) and prints JSON: headers as decoded text, the decoded body, and the
raw Subject/Content-Type for checks of the encoding."""
import email
import email.header
import email.policy
import json
import sys

def raw_header(raw, name):
    """The unfolded raw value of a header."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    value = None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and value is not None:
            value += line
        elif value is not None:
            break
        elif line.lower().startswith(name.lower() + ":"):
            value = line[len(name) + 1:].strip()
    return value or ""


with open(sys.argv[1], "rb") as f:
    raw = f.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
out = {
    "to": str(msg["To"]),
    "from": str(msg["From"]),
    "from_address": msg["From"].addresses[0].addr_spec,
    # The RFC 2047 decoder of email.header: the address parser of
    # email.policy keeps the folding space between two encoded words of a
    # display name, which RFC 2047 section 6.2 says to drop.
    "from_decoded": str(email.header.make_header(email.header.decode_header(raw_header(raw, "From")))),
    "reply_to": str(msg["Reply-To"] or ""),
    "subject": str(msg["Subject"]),
    "date": str(msg["Date"]),
    "message_id": str(msg["Message-ID"]),
    "content_type": msg.get_content_type(),
    "charset": msg.get_content_charset(),
    "cte": str(msg["Content-Transfer-Encoding"]),
    "body": msg.get_content(),
    "defects": [str(d) for d in msg.defects],
}
print(json.dumps(out, ensure_ascii=False))
