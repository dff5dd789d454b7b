#!/bin/sh
# A stand-in agent for the several-instances tests: answers "ran in <cwd> :: <tag>" for each "[tN mM]"
# tag in the prompt (the cwd is the workspace, so it names the instance whose TENANTS_DIR holds it) and
# appends the same line to runs.log in the workspace. A prompt with "[slow]" takes 4 s (a kill lands
# mid-turn). A prompt with "[real]" is handed to the real Claude CLI with the same arguments.
set -u
prompt=$(cat)
case "$prompt" in
  *"[real]"*)
    here=$(dirname "$0")
    printf '%s' "$prompt" | "$here/../../node_modules/.bin/claude" "$@"
    exit $? ;;
esac
case "$prompt" in *"[slow]"*) sleep 4 ;; esac
tags=$(printf '%s' "$prompt" | grep -o '\[t[0-9]* m[0-9]*\]' | tr '\n' ' ')
line="ran in $(pwd) :: $tags"
printf '%s\n' "$line" >> runs.log
python3 -c 'import json,sys; print(json.dumps({"type":"result","subtype":"success","is_error":False,"result":sys.argv[1],"session_id":"00000000-0000-4000-8000-000000000002"}))' "$line"
