#!/bin/sh
# A stand-in for the `claude` CLI in narrow unit tests (the scenarios that matter use the real CLI).
# Behaviour is chosen by STAND_IN_MODE, which the tests pass as a tenant variable:
#   ok          print a valid result JSON echoing the prompt (stdin) and a fixed session id
#   crash       print "boom" on stderr, exit 3
#   bad_output  print text that is not JSON, exit 0
#   bad_shape   print JSON without the fields of a result, exit 0
#   hang        start a child `sleep` in the same group (pid in $STAND_IN_PIDFILE), then sleep
#   ignore_term like hang, but ignore SIGTERM (the runner must follow up with SIGKILL)
#   argv        print a result whose text is the argv, one per line (to check flags)
#   env         print a result whose text is the environment (to check the allow-list)
#   stdin       print a result whose text is stdin (the prompt)
#   mcp_file    print the --mcp-config path, its mode and its content, separated by lines "---"
set -u
result() {
  # $1 = text (JSON-escaped by python3 to stay exact)
  python3 -c 'import json,sys; print(json.dumps({"type":"result","subtype":"success","is_error":False,"result":sys.argv[1],"session_id":"00000000-0000-4000-8000-000000000001"}))' "$1"
}
case "${STAND_IN_MODE:-ok}" in
  ok) result "echo: $(cat)" ;;
  crash) echo "boom" >&2; exit 3 ;;
  bad_output) echo "this is not json" ;;
  bad_shape) echo '{"type":"result","hello":1}' ;;
  hang) sleep 300 & echo "$!" > "${STAND_IN_PIDFILE:-/dev/null}"; wait ;;
  ignore_term) trap '' TERM; sleep 300 & echo "$!" > "${STAND_IN_PIDFILE:-/dev/null}"; wait; wait ;;
  argv) result "$(printf '%s\n' "$@")" ;;
  env) result "$(env | sort)" ;;
  stdin) result "$(cat)" ;;
  mcp_file)
    f=""; prev=""
    for a in "$@"; do [ "$prev" = "--mcp-config" ] && f="$a"; prev="$a"; done
    result "$(printf '%s\n---\n%s\n---\n%s' "$f" "$(stat -c %a "$f" 2>&1)" "$(cat "$f" 2>&1)")" ;;
  *) echo "unknown STAND_IN_MODE" >&2; exit 64 ;;
esac
