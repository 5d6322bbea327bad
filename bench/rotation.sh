#!/usr/bin/env bash
# How long a secret rotation takes end to end on one local-profile instance (validate, stage, smoke, promote,
# invalidate, record), from the evidence records: N rotations of JWT_SECRET alternating between two values.
# Also /auth/me is not slowed down by the extra key versions: see bench/auth.sh.
#   bench/rotation.sh [rotations=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --bin gantry >/dev/null 2>&1
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
a=Vb7Nq2Lx9Rt4Kw8Mz3Hc6Jp1Df5Gs0Ya; b=Qm4Tr8Wx2Lp6Zc1Hv5Nd9Kf3Gs7Bj0Ye
printf %s "$a" > "$dir/jwt"
export GANTRY_ADMIN_TOKEN=Hn4Bv7Cx2Zl9Kj5Mg8Df3Sa6Qw1Er0Ty UPLOAD_GUEST_TOKEN_SECRET=Zt5Kp2Wq9Lx7Mv3Bn8Rc4Hd6Jf1Gs0Ya
GANTRY_DATA_DIR="$dir/data" GANTRY_HTTP_ADDR=127.0.0.1:18690 GANTRY_ADMIN_ADDR=127.0.0.1:19690 GANTRY_LOG=warn \
  JWT_SECRET_FILE="$dir/jwt" ./target/release/gantry 2>/dev/null &
for _ in $(seq 100); do curl -sf localhost:18690/healthz >/dev/null && break; sleep 0.1; done
for i in $(seq "$n"); do
  if [ $((i % 2)) = 1 ]; then printf %s "$b" > "$dir/jwt"; else printf %s "$a" > "$dir/jwt"; fi
  GANTRY_ADMIN_URL=http://127.0.0.1:19690 ./target/release/gantry secrets rotate --deployment-id bench >/dev/null
done
curl -sf -H "authorization: Bearer $GANTRY_ADMIN_TOKEN" localhost:19690/admin/rotations | python3 -c '
import json, sys, datetime as d
def t(s): return d.datetime.fromisoformat(s.replace("Z", "+00:00"))
rs = [r for r in json.load(sys.stdin)["rotations"] if r["outcome"] == "succeeded"]
ms = sorted((t(r["finished_at"]) - t(r["started_at"])).total_seconds() * 1000 for r in rs)
steps = {}
for r in rs:
    for s in r["detail"]["steps"]:
        if "finished_at" in s:
            steps.setdefault(s["name"], []).append((t(s["finished_at"]) - t(s["started_at"])).total_seconds() * 1000)
print(f"{len(ms)} rotations: median {ms[len(ms)//2]:.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")
print("median per step (ms): " + ", ".join(f"{k} {sorted(v)[len(v)//2]:.0f}" for k, v in steps.items()))
'
