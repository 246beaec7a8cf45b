#!/usr/bin/env bash
# Times the log explorer's reads on the fixture of bench/seed_logs.sh: for each filter (and
# some combinations), the SQL the API runs, under EXPLAIN ANALYZE, best of RUNS (default 3).
# Prints planning + execution milliseconds and the top plan node.
#
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/countersign_bench bench/logs_explain.sh
set -euo pipefail
url="${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL}"
runs="${RUNS:-3}"
ws="00000000-0000-7000-8000-00000000be9c"
columns="id, at, outcome, reason, explanation, platform, kid, alg, user_id, attributes_accepted, attributes_rejected, details, origin, ip, user_agent, latency_us"
week="at >= now() - interval '7 days'"
month="at >= now() - interval '31 days'"
# A cursor in the middle of the week: the 51st page of the unfiltered log, roughly.
mid="at <= now() - interval '3 days' AND (at, id) < (now() - interval '3 days', 'ffffffff-ffff-ffff-ffff-ffffffffffff')"

while IFS='|' read -r name condition; do
    [ -z "$name" ] && continue
    best=""
    for ((i = 0; i < runs; i++)); do
        out=$(psql "$url" -qtAc "EXPLAIN (ANALYZE, COSTS OFF) SELECT $columns FROM verification_log
            WHERE workspace_id = '$ws' AND $condition ORDER BY at DESC, id DESC LIMIT 51")
        node=$(echo "$out" | { grep -m1 'Index\|Seq Scan\|Bitmap' || true; } | sed 's/ (actual.*//; s/^ *-> *//; s/ on verification_log_[a-z0-9_]*//; s/verification_log_p[0-9]*_//; s/ verification_log_[0-9]*$//')
        ms=$(echo "$out" | awk '/Planning Time|Execution Time/ {sum += $3} END {printf "%.1f", sum}')
        if [ -z "$best" ] || awk "BEGIN {exit !($ms < $best)}"; then best=$ms; fi
    done
    printf '| %s | %s ms | %s |\n' "$name" "$best" "$node"
done <<LIST
no filter (last 7 days)|$week
outcome=rejected|$week AND outcome = 'rejected'
outcome=would_reject|$week AND outcome = 'would_reject'
platform=android|$week AND platform = 'android'
platform=android&outcome=would_reject (no such row)|$week AND outcome = 'would_reject' AND platform = 'android'
same, over 31 days|$month AND outcome = 'would_reject' AND platform = 'android'
reason=token_expired|$week AND reason = 'token_expired'
user_id=user-4242|$week AND user_id = 'user-4242'
user_id=nobody (no such row)|$week AND user_id = 'nobody'
kid=kid_1|$week AND kid = 'kid_1'
kid=kid_9 (no such row)|$week AND kid = 'kid_9'
origin=https://app3.example.com|$week AND origin = 'https://app3.example.com'
origin=https://nowhere.example (no such row)|$week AND origin = 'https://nowhere.example'
user_id=user-4242&outcome=verified|$week AND user_id = 'user-4242' AND outcome = 'verified'
kid=kid_2&origin=https://app1.example.com|$week AND kid = 'kid_2' AND origin = 'https://app1.example.com'
reason=unknown_key&platform=ios&outcome=rejected|$week AND reason = 'unknown_key' AND platform = 'ios' AND outcome = 'rejected'
kid=kid_2&outcome=would_reject|$week AND kid = 'kid_2' AND outcome = 'would_reject'
origin=https://app1.example.com&outcome=unverified&platform=web|$week AND origin = 'https://app1.example.com' AND outcome = 'unverified' AND platform = 'web'
from/to: one hour, 3 days ago|at >= now() - interval '3 days 1 hour' AND at < now() - interval '3 days'
cursor: a page 3 days back|$week AND $mid
cursor + outcome=would_reject&platform=ios|$week AND $mid AND outcome = 'would_reject' AND platform = 'ios'
LIST
