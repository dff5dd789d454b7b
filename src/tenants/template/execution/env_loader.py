#!/usr/bin/env python3
"""Load the tenant workspace's .env into this process's environment.

Every tool in execution/ starts with:

    from env_loader import load_env_from_cwd
    load_env_from_cwd()

Rules (the same as the ProxyStaff server's parser):
  * KEY=value per line; blank lines and lines starting with # are ignored; "export KEY=value" works.
  * Values may be quoted: 'single' (literal) or "double" (understands \\n, \\t, \\" and \\\\).
  * Unquoted values end at " #" (an inline comment) and are trimmed.
  * Variables already set in the environment are NOT overridden: the platform puts the tenant's
    vault credentials there, and those win over the file.

Run directly with --health-check to check that the .env can be read (prints key names, never values).
"""

import os
import re
import sys
from pathlib import Path

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def parse_env(text):
    """Parse .env text into a dict (invalid lines are skipped)."""
    values = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        key, rest = match.group(1), match.group(2)
        values[key] = _parse_value(rest)
    return values


def _parse_value(rest):
    if rest.startswith('"'):
        match = re.match(r'^"((?:[^"\\]|\\.)*)"', rest)
        inner = match.group(1) if match else rest[1:]
        return re.sub(r"\\([nt\"\\])", lambda m: _ESCAPES[m.group(1)], inner)
    if rest.startswith("'"):
        close = rest.find("'", 1)
        return rest[1:close] if close > 0 else rest[1:]
    return re.sub(r"\s+#.*$", "", rest).strip()


def find_env_file(start=None):
    """The workspace .env: in the current directory, else next to this script's folder (execution/..)."""
    candidates = [Path(start or os.getcwd()) / ".env", Path(__file__).resolve().parent.parent / ".env"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def load_env_from_cwd(path=None):
    """Load the workspace .env into os.environ without overriding variables already set.

    Returns the dict of keys this call set. A missing .env is not an error (returns {}).
    """
    env_file = Path(path) if path else find_env_file()
    if env_file is None or not env_file.is_file():
        return {}
    loaded = {}
    for key, value in parse_env(env_file.read_text(encoding="utf-8")).items():
        if key in os.environ:
            continue
        os.environ[key] = value
        loaded[key] = value
    return loaded


def _health_check():
    env_file = find_env_file()
    if env_file is None:
        print("ok: no .env in the workspace (nothing to load)")
        return 0
    try:
        keys = sorted(parse_env(env_file.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as err:
        print(f"failed: cannot read {env_file}: {err.__class__.__name__}")
        return 1
    if not keys:
        print("ok: .env readable, no keys in it (vault credentials reach tools as environment variables)")
    else:
        print(f"ok: .env readable ({len(keys)} key{'' if len(keys) == 1 else 's'}: {', '.join(keys)})")
    return 0


if __name__ == "__main__":
    if "--health-check" in sys.argv[1:]:
        sys.exit(_health_check())
    print("env_loader.py is a library: `from env_loader import load_env_from_cwd`. Use --health-check to test it.")
    sys.exit(0)
