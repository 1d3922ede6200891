#!/usr/bin/env bash
# Measures `release-gate verify` on issue 9's layer flood: an `.att` manifest whose N layers all
# point at one 12 MiB blob, pushed with raw registry calls (no signing key needed), in a fresh
# docker-registry on loopback. Prints peak RSS and wall time per N (GNU time).
#
#   tests/evidence_support/layer_flood.sh BINARY [N...]      (default N: 1 10 40)
#
# Needs docker-registry, crane, curl, openssl, python3 and /usr/bin/time.
set -euo pipefail
bin=$(realpath "$1"); shift
if [[ $# -gt 0 ]]; then counts=("$@"); else counts=(1 10 40); fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat >"$work/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/data}, delete: {enabled: true}}
http: {addr: $host}
EOF
docker_registry=$(command -v docker-registry || echo /usr/bin/docker-registry)
"$docker_registry" serve "$work/config.yml" >/dev/null 2>"$work/registry.log" &
reg_pid=$!
trap 'kill $reg_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://$host/v2/" >/dev/null && break; sleep 0.1; done

repo=team/flood
echo "flood $(date +%s%N)" >"$work/hello.txt"
tar -cf "$work/layer.tar" -C "$work" hello.txt
crane append --insecure -f "$work/layer.tar" -t "$host/$repo:v1" >/dev/null 2>&1
digest=$(crane digest --insecure "$host/$repo:v1")

push_blob() { # file -> digest
  local d loc
  d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  loc=$(curl -sf -D - -o /dev/null -X POST "http://$host/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  [[ $loc == http* ]] || loc="http://$host$loc"
  [[ $loc == *\?* ]] && sep='&' || sep='?'
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$1" "$loc${sep}digest=$d" >/dev/null
  echo "$d"
}

# A DSSE-shaped JSON document of 12 MiB.
python3 - "$work/blob.json" <<'EOF'
import sys
open(sys.argv[1], "w").write('{"payloadType":"application/vnd.in-toto+json","payload":"'
    + "A" * (12 << 20) + '","signatures":[{"sig":"AAAA"}]}')
EOF
blob=$(push_blob "$work/blob.json")
size=$(stat -c %s "$work/blob.json")
printf '{}' >"$work/config.json"
# Any trusted key: nothing in the flood is signed by it.
openssl ecparam -genkey -name prime256v1 2>/dev/null | openssl ec -pubout -out "$work/key.pub" 2>/dev/null
config=$(push_blob "$work/config.json")

for n in "${counts[@]}"; do
  python3 - "$n" "$blob" "$size" "$config" >"$work/manifest.json" <<'EOF'
import json, sys
n, blob, size, config = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
layer = {"mediaType": "application/vnd.dsse.envelope.v1+json", "digest": blob, "size": size,
         "annotations": {"predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1"}}
print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
    "layers": [layer] * n}))
EOF
  curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$work/manifest.json" "http://$host/v2/$repo/manifests/sha256-${digest#sha256:}.att" >/dev/null
  set +e
  /usr/bin/time -f "%M %e" -o "$work/time" "$bin" verify "$host/$repo@$digest" \
    --key "$work/key.pub" --insecure-registry "$host" --require vuln \
    >"$work/out" 2>"$work/err"
  code=$?
  set -e
  read -r rss secs < <(tail -n 1 "$work/time")
  printf '%3d layers: exit %d, peak RSS %4d MiB, %6.2f s: %s\n' "$n" "$code" $((rss / 1024)) "$secs" \
    "$(cat "$work/err" "$work/out" | grep -E 'limit|REJECTED|ACCEPTED|\[' | head -2 | sed "s|$host/$repo@$digest|IMAGE|g" | cut -c1-220 | tr '\n' ' ')"
done
