#!/usr/bin/env bash
# Seeds one workspace's verification log with ROWS rows (10 million by default) spread evenly
# over the last DAYS days, straight in Postgres with generate_series: a measurement fixture for
# the log explorer's reads (bench/logs_explain.sql) and, with the rollups and keys it adds, of
# the overview and Keys page (`cargo bench -p countersign-server --bench dashboard_reads`); not a
# path the product takes.
#
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:PORT/countersign_bench bench/seed_logs.sh
#
# The database is created and migrated (plain psql over migrations/) when it does not exist.
# The workspace id is fixed (00000000-0000-7000-8000-00000000be9c) so queries can name it.
#
# Mix: 90 % verified, 6 % rejected, 3 % unverified, 1 % would_reject (never on android, so
# `platform=android&outcome=would_reject` matches nothing); 60 % web, 25 % ios, 15 % android;
# 200,000 users; three kids; five origins on web, and a sixth seen in two hours six days apart.
set -euo pipefail
url="${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL}"
rows="${ROWS:-10000000}"
days="${DAYS:-30}"
chunk="${CHUNK:-1000000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
ws="00000000-0000-7000-8000-00000000be9c"

db="${url##*/}"
server="${url%/*}/postgres"
if ! psql "$server" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
    psql "$server" -qc "CREATE DATABASE $db"
    for file in "$root"/migrations/*.sql; do
        psql "$url" -q -v ON_ERROR_STOP=1 -f "$file"
    done
fi

# Daily partitions over the range, as the server's maintenance would have made them.
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO workspaces (id, app_id, name, created_at) VALUES ('$ws', 'app_bench_logs', 'Bench', now())
    ON CONFLICT DO NOTHING;
DO \$\$
DECLARE d date;
BEGIN
    FOR d IN SELECT generate_series(current_date - $days, current_date + 3, interval '1 day')::date LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS verification_log_p%s PARTITION OF verification_log FOR VALUES FROM (%L) TO (%L)',
                       to_char(d, 'YYYYMMDD'), d, d + 1);
    END LOOP;
END
\$\$;
SQL

start=$(date +%s)
for ((first = 0; first < rows; first += chunk)); do
    last=$((first + chunk < rows ? first + chunk : rows))
    psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO verification_log (id, workspace_id, at, outcome, reason, explanation, platform, kid, alg, user_id,
                              attributes_accepted, attributes_rejected, details, origin, ip, user_agent, latency_us)
SELECT gen_random_uuid(), '$ws', at, outcome,
       CASE outcome WHEN 'verified' THEN NULL
                    WHEN 'unverified' THEN 'missing_token'
                    ELSE (ARRAY['invalid_signature', 'token_expired', 'unknown_key'])[1 + i % 3] END,
       'Seeded attempt.', platform,
       'kid_' || (i % 3), 'HS256', 'user-' || (i % 200000),
       '{}', '[]', '{}',
       CASE platform WHEN 'web' THEN 'https://app' || (i % 5) || '.example.com' END,
       '203.0.113.' || (i % 250), 'bench-agent', 150 + i % 500
  FROM (SELECT i,
               now() - make_interval(secs => (i::float8 * $days * 86400 / $rows)) AS at,
               CASE WHEN i % 100 < 90 THEN 'verified' WHEN i % 100 < 96 THEN 'rejected'
                    WHEN i % 100 < 99 THEN 'unverified' ELSE 'would_reject' END AS outcome,
               CASE WHEN i % 100 = 99 THEN (ARRAY['web', 'ios'])[1 + (i / 100) % 2]
                    WHEN (i / 100) % 20 < 12 THEN 'web' WHEN (i / 100) % 20 < 17 THEN 'ios' ELSE 'android' END AS platform
          FROM generate_series($first, $((last - 1))) AS i) AS s;
SQL
    echo "seeded $last of $rows rows ($(( $(date +%s) - start )) s)"
done
# One origin seen in just two hours, six days apart: a search whose matches are far apart.
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO verification_log (id, workspace_id, at, outcome, reason, explanation, platform, kid, alg, user_id,
                              attributes_accepted, attributes_rejected, details, origin, ip, user_agent, latency_us)
SELECT gen_random_uuid(), '$ws', now() - ago, 'verified', NULL, 'Seeded attempt.', 'web', 'kid_0', 'HS256',
       'user-rare', '{}', '[]', '{}', 'https://rare.example.com', '203.0.113.9', 'bench-agent', 150
  FROM unnest(ARRAY[interval '1 hour', interval '6 days']) AS ago;
SQL
psql "$url" -qc "VACUUM ANALYZE verification_log"
# The rollups and origin hours the log writer would have kept, and three keys for the Keys page.
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
DELETE FROM log_rollup_minute_merged WHERE workspace_id = '$ws';
DELETE FROM log_rollup_hour_merged WHERE workspace_id = '$ws';
INSERT INTO log_rollup_minute_merged (workspace_id, bucket, platform, outcome, reason, kid, attempts)
SELECT workspace_id, date_trunc('minute', at), coalesce(platform, ''), outcome, coalesce(reason, ''), coalesce(kid, ''), count(*)
  FROM verification_log WHERE workspace_id = '$ws' AND at >= now() - interval '48 hours' GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO log_rollup_hour_merged (workspace_id, bucket, platform, outcome, reason, kid, attempts, users, first_at, last_at)
SELECT workspace_id, date_trunc('hour', at), coalesce(platform, ''), outcome, coalesce(reason, ''), coalesce(kid, ''), count(*),
       bit_or(countersign_user_bit(user_id)), min(at), max(at)
  FROM verification_log WHERE workspace_id = '$ws' GROUP BY 1, 2, 3, 4, 5, 6;
DELETE FROM log_origin_hour_merged WHERE workspace_id = '$ws';
INSERT INTO log_origin_hour_merged (workspace_id, origin, bucket, first_at, last_at)
SELECT workspace_id, origin, date_trunc('hour', at), min(at), max(at) FROM verification_log
 WHERE workspace_id = '$ws' AND origin IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO workspace_keys (workspace_id, kid, sealed, fingerprint, state, expires_at, created_at, last_used_at)
VALUES ('$ws', 'kid_0', '\\x00', 'seeded', 'primary', NULL, now() - interval '10 days', now() - interval '40 seconds'),
       ('$ws', 'kid_1', '\\x00', 'seeded', 'rotating', now() + interval '1 day', now() - interval '40 days', now() - interval '40 seconds'),
       ('$ws', 'kid_2', '\\x00', 'seeded', 'revoked', NULL, now() - interval '90 days', now() - interval '40 seconds')
ON CONFLICT DO NOTHING;
VACUUM ANALYZE log_rollup_minute_merged;
VACUUM ANALYZE log_rollup_hour_merged;
VACUUM ANALYZE log_origin_hour_merged;
SQL
echo "done: $rows rows over $days days in $(( $(date +%s) - start )) s"
