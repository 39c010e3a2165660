#!/usr/bin/env bash
# Runs the whole vitest suite, then checks that nothing it started is still running, and ends with
# the plain line "N passed, N failed" that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."

run_id=$(cat /proc/sys/kernel/random/uuid)
export TERMHOST_TEST_RUN="$run_id"
report=$(mktemp /tmp/termhost-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT

node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?

# Every process the suite started inherited TERMHOST_TEST_RUN; any still alive is a leak.
leaks=()
for envf in /proc/[0-9]*/environ; do
  pid=${envf#/proc/}; pid=${pid%/environ}
  [ "$pid" = "$$" ] && continue
  if { tr '\0' '\n' <"$envf"; } 2>/dev/null | grep -qx "TERMHOST_TEST_RUN=$run_id"; then
    leaks+=("$pid")
  fi
done
if [ ${#leaks[@]} -gt 0 ]; then
  echo "LEAK: processes started by the suite are still running:" >&2
  for pid in "${leaks[@]}"; do
    echo "  $pid $({ tr '\0' ' ' </proc/"$pid"/cmdline; } 2>/dev/null)" >&2
    kill -9 "$pid" 2>/dev/null || true
  done
  rc=1
fi
# Rig namespaces are named th<owner pid>-<n>; an owner that is gone means a leaked namespace.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^th[0-9]+-[0-9]+$' || true); do
  owner=${ns#th}; owner=${owner%%-*}
  if ! kill -0 "$owner" 2>/dev/null; then
    echo "LEAK: network namespace $ns outlived its owner; deleting it" >&2
    ip netns delete "$ns" || true
    rc=1
  fi
done

counts=$(node -e '
  const fs = require("node:fs");
  let r;
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { r = {}; }
  const passed = r.numPassedTests ?? 0, failed = r.numFailedTests ?? 0;
  const failedSuites = (r.testResults ?? []).filter((t) => t.status === "failed" && (t.assertionResults ?? []).length === 0).length;
  console.log(`${passed} ${failed + failedSuites}`);
' "$report")
passed=${counts% *}
failed=${counts#* }
if [ "$passed" -eq 0 ] && [ "$rc" -eq 0 ]; then
  echo "no test ran" >&2
  rc=1
fi
echo "$passed passed, $failed failed"
exit $rc
