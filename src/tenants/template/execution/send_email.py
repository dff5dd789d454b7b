#!/usr/bin/env python3
"""Send an email through SendGrid (v3 mail send) with a key from this environment.

The agent sends email with its mcp__proxystaff__send_email tool instead: that tool runs on the
ProxyStaff server with the business's SENDGRID_API_KEY, which is kept out of agent runs and tool
health checks (the agent never reads it). This script only works where SENDGRID_API_KEY is in its
own environment, e.g. an operator running it by hand, or a key put in the workspace .env on purpose.

Usage (from the workspace folder):
    python3 execution/send_email.py --to someone@example.com --subject "Hello" --text "Body"
    python3 execution/send_email.py --to a@x.com --to b@y.com --subject "Menu" --html "<p>…</p>" --text "…"
    echo "Body" | python3 execution/send_email.py --to a@x.com --subject "Hi" --text -
    python3 execution/send_email.py --health-check

Environment (the workspace .env, or set by hand):
    SENDGRID_API_KEY     required to send (never set by the platform: see above)
    SENDGRID_FROM_EMAIL  the sender, unless --from is given
    SENDGRID_FROM_NAME   optional display name of the sender
    SENDGRID_API_BASE    default https://api.sendgrid.com (tests point it at a fake)

Prints one line ("sent: …", "ok: …" or "failed: …"); exit 0 on success, 1 on failure,
2 on bad usage. The API key is never printed.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from env_loader import load_env_from_cwd  # noqa: E402

TIMEOUT_SECONDS = 20


def api_base():
    return (os.environ.get("SENDGRID_API_BASE") or "https://api.sendgrid.com").rstrip("/")


def redact(text):
    key = os.environ.get("SENDGRID_API_KEY") or ""
    return text.replace(key, "[redacted]") if len(key) >= 6 else text


def call(method, path, body=None):
    """(status, parsed JSON or text, headers) of one SendGrid request; raises urllib.error.URLError."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(api_base() + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + os.environ.get("SENDGRID_API_KEY", ""))
    request.add_header("Accept", "application/json")
    request.add_header("User-Agent", "proxystaff-send-email/1")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, _decode(response.read()), response.headers
    except urllib.error.HTTPError as err:
        return err.code, _decode(err.read()), err.headers


def _decode(raw):
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def describe_errors(payload):
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        messages = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in payload["errors"]]
        return "; ".join(messages)[:300]
    return str(payload or "")[:300]


SERVER_SIDE_NOTE = (
    "email is sent server-side by the agent's mcp__proxystaff__send_email tool with the vault's SENDGRID_API_KEY, "
    "which this script never sees"
)


def health_check():
    if not os.environ.get("SENDGRID_API_KEY"):
        print(f"ok: {SERVER_SIDE_NOTE} (its health is the 'send_email (server-side)' check)")
        return 0
    try:
        status, payload, _ = call("GET", "/v3/scopes")
    except (urllib.error.URLError, OSError) as err:
        print(redact(f"failed: cannot reach SendGrid at {api_base()}: {getattr(err, 'reason', err)}"))
        return 1
    if status in (401, 403):
        print(f"failed: SendGrid rejected SENDGRID_API_KEY (HTTP {status})")
        return 1
    if status != 200:
        print(redact(f"failed: SendGrid answered HTTP {status}: {describe_errors(payload)}"))
        return 1
    scopes = payload.get("scopes", []) if isinstance(payload, dict) else []
    if scopes and "mail.send" not in scopes:
        print("failed: SENDGRID_API_KEY works but lacks the mail.send permission")
        return 1
    sender = os.environ.get("SENDGRID_FROM_EMAIL")
    note = f"sender {sender}" if sender else "no SENDGRID_FROM_EMAIL set (pass --from)"
    print(f"ok: SendGrid reachable, key accepted; {note}")
    return 0


def split_addresses(values):
    out = []
    for value in values or []:
        out.extend(a.strip() for a in value.split(",") if a.strip())
    return out


def build_message(args):
    sender = args.sender or os.environ.get("SENDGRID_FROM_EMAIL")
    if not sender:
        raise ValueError("no sender: set SENDGRID_FROM_EMAIL or pass --from")
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text and not args.html:
        raise ValueError("nothing to send: give --text and/or --html")
    personalization = {"to": [{"email": a} for a in split_addresses(args.to)]}
    if args.cc:
        personalization["cc"] = [{"email": a} for a in split_addresses(args.cc)]
    if args.bcc:
        personalization["bcc"] = [{"email": a} for a in split_addresses(args.bcc)]
    sender_entry = {"email": sender}
    if os.environ.get("SENDGRID_FROM_NAME"):
        sender_entry["name"] = os.environ["SENDGRID_FROM_NAME"]
    content = []
    if text:
        content.append({"type": "text/plain", "value": text})
    if args.html:
        content.append({"type": "text/html", "value": args.html})
    message = {"personalizations": [personalization], "from": sender_entry, "subject": args.subject, "content": content}
    if args.reply_to:
        message["reply_to"] = {"email": args.reply_to}
    return message


def send(args):
    if not os.environ.get("SENDGRID_API_KEY"):
        print(
            "failed: SENDGRID_API_KEY is not in this environment (the platform keeps it server-side): "
            "send email with the mcp__proxystaff__send_email tool"
        )
        return 1
    try:
        message = build_message(args)
    except ValueError as err:
        print(f"failed: {err}")
        return 2
    try:
        status, payload, headers = call("POST", "/v3/mail/send", message)
    except (urllib.error.URLError, OSError) as err:
        print(redact(f"failed: cannot reach SendGrid at {api_base()}: {getattr(err, 'reason', err)}"))
        return 1
    recipients = ", ".join(p["email"] for p in message["personalizations"][0]["to"])
    if status in (200, 202):
        message_id = headers.get("X-Message-Id") if headers else None
        suffix = f" (message id {message_id})" if message_id else ""
        print(f"sent: to {recipients}, subject {args.subject!r}{suffix}")
        return 0
    print(redact(f"failed: SendGrid answered HTTP {status}: {describe_errors(payload)}"))
    return 1


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Send an email through SendGrid.")
    parser.add_argument("--health-check", action="store_true", help="check the key and that SendGrid is reachable; sends nothing")
    parser.add_argument("--to", action="append", help="recipient (repeat or comma-separate)")
    parser.add_argument("--cc", action="append")
    parser.add_argument("--bcc", action="append")
    parser.add_argument("--subject")
    parser.add_argument("--text", help="plain-text body ('-' reads standard input)")
    parser.add_argument("--html", help="HTML body")
    parser.add_argument("--from", dest="sender", help="sender address (default SENDGRID_FROM_EMAIL)")
    parser.add_argument("--reply-to", dest="reply_to")
    args = parser.parse_args(argv)
    if not args.health_check and (not args.to or not args.subject):
        parser.error("--to and --subject are required (or use --health-check)")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    load_env_from_cwd()
    return health_check() if args.health_check else send(args)


if __name__ == "__main__":
    sys.exit(main())
