#!/usr/bin/env bash
# Audits vaultgate's TLS with testssl.sh (Debian package `testssl.sh`), reproducibly: starts a
# server from the sources on a free port with a throwaway data directory and development
# certificate, runs testssl.sh, and fails when any finding is rated MEDIUM or worse, except the
# ones that only say the development certificate is not trusted (self-signed, no public CA).
#
#   scripts/testssl.sh            # exit 0 = no finding MEDIUM or worse apart from the dev certificate
#   KEEP=1 scripts/testssl.sh     # keep the JSON report and server log (path printed)
set -euo pipefail
cd "$(dirname "$0")/.."

TESTSSL=$(command -v testssl || command -v testssl.sh || true)
if [ -z "$TESTSSL" ]; then
  echo "testssl.sh is not installed (Debian/Ubuntu: apt-get install -y testssl.sh)" >&2
  exit 2
fi

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ "${KEEP:-}" = "1" ]; then echo "kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

PORT=$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
env -u VAULTGATE_TLS_CERT -u VAULTGATE_TLS_KEY -u VAULTGATE_TLS_CLIENT_CA -u VAULTGATE_INSECURE_HTTP \
  VAULTGATE_DATA_DIR="$WORK/data" VAULTGATE_PORT="$PORT" VAULTGATE_LOG_LEVEL=warn \
  node --import tsx -e "import('./src/cli/main.ts').then((m) => m.main(['start']))" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 120); do
  if curl -ks --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/healthz"; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; fi
  sleep 0.5
done

echo "testssl.sh ($(dpkg-query -W -f '${Version}' testssl.sh 2>/dev/null || echo "version unknown")) against https://localhost:$PORT" >&2
# testssl's own exit code counts findings of every kind; the JSON decides here.
# Every check goes to the JSON (no --severity filter there), so the summary can show the
# protocol lines too; the verdict below counts MEDIUM, HIGH and CRITICAL only. The checks are the
# default run's (protocols, cipher categories, forward secrecy, server preferences and defaults,
# HTTP headers, vulnerabilities) minus the client simulation, which rates nothing and takes longest.
"$TESTSSL" --quiet --color 0 --warnings off --ip 127.0.0.1 -p -s -f -P -S -h -U \
  --jsonfile "$WORK/testssl.json" "localhost:$PORT" >"$WORK/testssl.txt" 2>&1 || true
if [ ! -s "$WORK/testssl.json" ]; then echo "testssl.sh produced no report:" >&2; cat "$WORK/testssl.txt" >&2; exit 1; fi

node - "$WORK/testssl.json" <<'JS'
const findings = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const rank = { CRITICAL: 4, HIGH: 3, MEDIUM: 2 };
// Only these say "the development certificate is not trusted": self-signed, so no chain to a
// public CA, and therefore no revocation or transparency information either.
const devCertificate = /^(cert_chain_of_trust|cert_trust|cert_caIssuers|cert_crlDistributionPoints|cert_ocspURL|cert_revocation|OCSP_stapling|cert_certificateTransparency)/;
const serious = findings.filter((f) => rank[f.severity] !== undefined);
const accepted = serious.filter((f) => devCertificate.test(f.id));
const rejected = serious.filter((f) => !devCertificate.test(f.id));
for (const f of accepted) console.log(`accepted (development certificate): ${f.id} ${f.severity} ${f.finding}`);
for (const f of rejected) console.log(`FINDING: ${f.id} ${f.severity} ${f.finding}`);
const count = (s) => findings.filter((f) => f.severity === s).length;
console.log(`summary: ${findings.length} checks; CRITICAL ${count('CRITICAL')}, HIGH ${count('HIGH')}, MEDIUM ${count('MEDIUM')}; ` +
  `${accepted.length} accepted as the untrusted development certificate, ${rejected.length} other finding(s) MEDIUM or worse`);
for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'ALPN_HTTP2', 'ALPN', 'cipherlist_AVERAGE', 'PFS', 'PFS_ECDHE_curves', 'secure_renego', 'secure_client_renego', 'CRIME_TLS', 'BREACH', 'HSTS_time', 'cipher_order']) {
  const f = findings.find((x) => x.id === id);
  if (f) console.log(`  ${id}: ${f.finding} [${f.severity}]`);
}
process.exit(rejected.length === 0 ? 0 : 1);
JS
