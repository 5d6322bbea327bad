# Shared by the benchmark scripts (`source bench/lib.sh`): the CPU pinning, a Gantry's seed catalog ids, the full
# truck form's evaluate request, a logged-in bench user and wrk's POST script.

# Sets server and client, the command prefixes that pin the servers to CPU 0 and the load tools to CPU 1 (each
# side a core of its own on a small machine); both empty with PIN=0, on one CPU or without taskset.
pin() {
  server=(); client=()
  if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    server=(taskset -c 0); client=(taskset -c 1)
    echo "pinned: servers on CPU 0, load tools on CPU 1"
  fi
}

# Sets volvo, fh, germany and trucks (seed options) and truck_body (an `evaluate` body filling the truck form,
# brand just changed) from the instance at $1.
seed_form() {
  local api=$1
  first_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])'; }
  volvo=$(curl -sf "$api/v1/options/brand?q=volvo" | first_id)
  fh=$(curl -sf "$api/v1/options/model?parent_id=$volvo&q=fh" | first_id)
  germany=$(curl -sf "$api/v1/options/country?q=germany" | first_id)
  trucks=$(curl -sf "$api/v1/options/category?q=trucks" | first_id)
  truck_body="{\"values\":{\"brand\":\"$volvo\",\"model\":\"$fh\",\"year\":2019,\"condition\":\"used\",\"country\":\"$germany\",\"mileage_km\":412000,\"fuel_type\":\"diesel\",\"emission_class\":\"euro_6\",\"adr\":true,\"adr_classes\":[\"3\"]},\"changed\":\"brand\"}"
}

# Registers bench@example.com on the instance at $1 (password $2) and prints an access token.
bench_token() {
  local api=$1 creds="{\"email\":\"bench@example.com\",\"password\":\"$2\"}"
  curl -sf -H 'content-type: application/json' -d "$creds" "$api/v1/auth/register" >/dev/null
  curl -sf -H 'content-type: application/json' -d "$creds" "$api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# Writes to $1 the wrk script that POSTs the JSON body $2.
post_lua() {
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$2" >"$1"
}
