#!/usr/bin/env bash
# Validates the deployment files under deploy/ offline (no container engine, no systemd as
# PID 1, no cluster): see "What is checked here" in deploy/README.md.
# Installs what it needs on first run, idempotently, and caches it under target/deploy/:
# a Python venv (jsonschema, PyYAML), the Compose Specification schema (Go module proxy),
# kubeconform (built from the Go module proxy), Kubernetes JSON schemas (PyPI wheel).
# Exits non-zero on any failure; prints what it validated and how long each part took.
set -euo pipefail
DEPLOY="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$DEPLOY/.." && pwd)"
CACHE="$ROOT/target/deploy"

# --- pins -----------------------------------------------------------------------------------
COMPOSE_GO_MODULE=github.com/compose-spec/compose-go/v2
COMPOSE_GO_VERSION=v2.16.2
COMPOSE_SCHEMA_SHA256=f266dcbb043229405d7cedd5aec918f9102c2b3d5e3850808fdd8edd564a43ff
KUBECONFORM_MODULE=github.com/yannh/kubeconform
KUBECONFORM_VERSION=v0.8.0
KUBECONFORM_SUM='h1:loDYd3a3spjIFrauqW67CDKF55Oo9R6uvC8AvpVd4ug='
K8S_VALIDATE_VERSION=1.37.0
K8S_VALIDATE_WHEEL=kubernetes_validate-1.37.0-py3-none-any.whl
K8S_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
K8S_VERSIONS="1.25.0 1.37.0"   # the oldest and the newest the wheel carries
PY_REQUIREMENTS="$DEPLOY/requirements-check.txt"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
T0=$(now)
PART_START=$T0
PART=""
part() {
  local t; t=$(now)
  if [ -n "$PART" ]; then echo "== deploy: [$(elapsed "$PART_START" "$t") s] $PART"; fi
  PART="$1"; PART_START=$t
  [ -n "$1" ] && echo "== deploy: $1"
  return 0
}
die() { echo "deploy/check.sh: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /tmp/.copilot-deploy-apt-updated ]; then
    apt-get update -qq && touch /tmp/.copilot-deploy-apt-updated
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$CACHE"

# --- tools ----------------------------------------------------------------------------------
part "tools (cached under target/deploy/)"
command -v systemd-analyze >/dev/null || apt_install systemd
"$ROOT/tests/install-services.sh"   # nginx (and redis), never started
command -v go >/dev/null || die "Go is required (the polyglot machine ships Go 1.26)"

VENV="$CACHE/venv"
PINS="$(cat "$PY_REQUIREMENTS")"
if ! "$VENV/bin/python" -c 'import jsonschema, yaml' 2>/dev/null || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$PY_REQUIREMENTS"
  echo "$PINS" >"$VENV/.pins"
fi
PY="$VENV/bin/python"
echo "   python venv ($(elapsed "$PART_START" "$(now)") s): $("$PY" -c 'import jsonschema, yaml, importlib.metadata as m; print("jsonschema", m.version("jsonschema"), "PyYAML", yaml.__version__)')"

t=$(now)
# The Compose Specification schema, as shipped in the compose-go module (Go module proxy).
SCHEMA="$CACHE/compose-spec-$COMPOSE_GO_VERSION.json"
if [ ! -f "$SCHEMA" ] || [ "$(sha256 "$SCHEMA")" != "$COMPOSE_SCHEMA_SHA256" ]; then
  dir="$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "$COMPOSE_GO_MODULE@$COMPOSE_GO_VERSION" |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  cp "$dir/schema/compose-spec.json" "$SCHEMA.tmp" && chmod 0644 "$SCHEMA.tmp" && mv "$SCHEMA.tmp" "$SCHEMA"
fi
[ "$(sha256 "$SCHEMA")" = "$COMPOSE_SCHEMA_SHA256" ] ||
  die "compose-spec.json of $COMPOSE_GO_MODULE@$COMPOSE_GO_VERSION: sha256 $(sha256 "$SCHEMA") != $COMPOSE_SCHEMA_SHA256"
echo "   Compose schema ($(elapsed "$t" "$(now)") s): $COMPOSE_GO_MODULE@$COMPOSE_GO_VERSION schema/compose-spec.json sha256 ${COMPOSE_SCHEMA_SHA256:0:16}…"

t=$(now)
# kubeconform, built from the Go module proxy (the go command checks it against sum.golang.org).
KC="$CACHE/bin/kubeconform"
kc_ok() {
  [ -x "$KC" ] && go version -m "$KC" 2>/dev/null | awk -v m="$KUBECONFORM_MODULE" -v v="$KUBECONFORM_VERSION" \
    -v s="$KUBECONFORM_SUM" '$1 == "mod" && $2 == m && $3 == v && $4 == s { found = 1 } END { exit !found }'
}
if ! kc_ok; then
  GOTOOLCHAIN=local GOBIN="$CACHE/bin" go install "$KUBECONFORM_MODULE/cmd/kubeconform@$KUBECONFORM_VERSION" ||
    die "building kubeconform $KUBECONFORM_VERSION failed (it needs Go >= 1.26; here: $(go version))"
fi
kc_ok || die "$KC is not $KUBECONFORM_MODULE $KUBECONFORM_VERSION $KUBECONFORM_SUM"
echo "   kubeconform ($(elapsed "$t" "$(now)") s): $KUBECONFORM_MODULE $KUBECONFORM_VERSION $KUBECONFORM_SUM"

t=$(now)
# Kubernetes JSON schemas, from the PyPI wheel of kubernetes-validate.
WHEEL="$CACHE/wheels/$K8S_VALIDATE_WHEEL"
if [ ! -f "$WHEEL" ] || [ "$(sha256 "$WHEEL")" != "$K8S_VALIDATE_SHA256" ]; then
  rm -f "$WHEEL"
  PIP_FIND_LINKS='' "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary :all: \
    -d "$CACHE/wheels" "kubernetes-validate==$K8S_VALIDATE_VERSION"
fi
[ "$(sha256 "$WHEEL")" = "$K8S_VALIDATE_SHA256" ] ||
  die "$K8S_VALIDATE_WHEEL: sha256 $(sha256 "$WHEEL") != $K8S_VALIDATE_SHA256"
echo "   Kubernetes schemas: PyPI kubernetes-validate $K8S_VALIDATE_VERSION sha256 ${K8S_VALIDATE_SHA256:0:16}…"
K8S_SCHEMAS="$CACHE/k8s-schemas-$K8S_VALIDATE_VERSION"
for v in $K8S_VERSIONS; do
  if [ ! -f "$K8S_SCHEMAS/v$v.done" ]; then
    "$PY" "$DEPLOY/check.py" k8s-schemas "$WHEEL" "$v" "$K8S_SCHEMAS"
    touch "$K8S_SCHEMAS/v$v.done"
  fi
done
echo "   Kubernetes schemas ready ($(elapsed "$t" "$(now)") s): $K8S_VERSIONS"

# --- systemd --------------------------------------------------------------------------------
part "systemd unit deploy/systemd/copilot-cli@.service"
UNIT="$DEPLOY/systemd/copilot-cli@.service"
"$PY" "$DEPLOY/check.py" unit "$UNIT"
# systemd-analyze verify refuses a unit whose ExecStart binary does not exist, and
# /usr/local/bin/copilot is not installed here: verify a copy whose ExecStart points at a stub
# executable. Verify it as the template and as an instance (port 4321); any output (an unknown
# key, a bad value, a missing binary) counts as a failure.
mkdir -p "$TMP/unit/bin"
printf '#!/bin/sh\nexit 0\n' >"$TMP/unit/bin/copilot" && chmod +x "$TMP/unit/bin/copilot"
grep -q '^ExecStart=/usr/local/bin/copilot ' "$UNIT" || die "ExecStart is not /usr/local/bin/copilot"
sed "s#^ExecStart=/usr/local/bin/copilot #ExecStart=$TMP/unit/bin/copilot #" "$UNIT" >"$TMP/unit/copilot-cli@.service"
cp "$TMP/unit/copilot-cli@.service" "$TMP/unit/copilot-cli@4321.service"
for u in copilot-cli@.service copilot-cli@4321.service; do
  out="$(cd "$TMP/unit" && systemd-analyze verify --man=no "./$u" 2>&1)" || die "systemd-analyze verify $u: $out"
  [ -z "$out" ] || die "systemd-analyze verify $u printed warnings: $out"
done
echo "  ok   systemd-analyze verify: template and instance copilot-cli@4321 load with no warning"
# The offline security review works without a running manager (systemd 252+).
THRESHOLD=20   # overall exposure 2.0 of 10 (systemd-analyze counts in tenths)
out="$(cd "$TMP/unit" && systemd-analyze security --offline=yes --threshold=$THRESHOLD ./copilot-cli@4321.service 2>&1)" ||
  die "systemd-analyze security: exposure over $THRESHOLD/100 or failure: $(echo "$out" | tail -n 3)"
echo "  ok   systemd-analyze security --offline: $(echo "$out" | grep -o 'Overall exposure level.*' | sed 's/ for [^:]*//')"
out="$(systemd-sysusers --root="$TMP/sysroot" --dry-run "$DEPLOY/systemd/copilot-sysusers.conf" 2>&1)" ||
  die "systemd-sysusers: $out"
echo "$out" | grep -q "Creating user 'copilot'" || die "systemd-sysusers creates no user copilot: $out"
echo "  ok   systemd-sysusers --dry-run: copilot-sysusers.conf creates user copilot"

# --- Compose --------------------------------------------------------------------------------
part "Compose deploy/compose/compose.yaml"
"$PY" "$DEPLOY/check.py" compose "$SCHEMA" "$DEPLOY/compose/compose.yaml"
# nginx -t on a copy whose upstream host names (resolved at load time, and unknown outside the
# compose network) are replaced by loopback addresses.
mkdir -p "$TMP/nginx/logs"
sed -E 's/server api-[0-9]+:8080/server 127.0.0.1:8080/' "$DEPLOY/compose/nginx.conf" >"$TMP/nginx/nginx.conf"
out="$(/usr/sbin/nginx -t -q -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf" -g "pid $TMP/nginx/nginx.pid;" 2>&1)" ||
  die "nginx -t: $out"
echo "  ok   nginx -t ($(/usr/sbin/nginx -v 2>&1 | sed 's/.*: //')): nginx.conf parses, upstream hosts replaced by 127.0.0.1"
# The images' entrypoint: secret files become environment variables.
mkdir -p "$TMP/secrets"
printf 'tok-1\n' >"$TMP/secrets/copilot_github_token"
printf 'tok-2' >"$TMP/secrets/copilot_connection_token"
out="$(SECRETS_DIR="$TMP/secrets" sh "$DEPLOY/docker/secrets-env.sh" sh -c 'echo "$COPILOT_GITHUB_TOKEN/$COPILOT_CONNECTION_TOKEN"')"
[ "$out" = "tok-1/tok-2" ] || die "secrets-env.sh exported '$out'"
out="$(SECRETS_DIR="$TMP/none" sh "$DEPLOY/docker/secrets-env.sh" echo ran)"
[ "$out" = "ran" ] || die "secrets-env.sh without secrets printed '$out'"
echo "  ok   docker/secrets-env.sh: secret files become COPILOT_* variables; runs the command without them"

# --- Kubernetes -----------------------------------------------------------------------------
part "Kubernetes deploy/k8s/"
expected="$("$PY" -c '
import sys, yaml, pathlib
print(sum(1 for f in pathlib.Path(sys.argv[1]).rglob("*.yaml") for d in yaml.safe_load_all(f.read_text()) if d))' "$DEPLOY/k8s")"
for v in $K8S_VERSIONS; do
  # Any schema fetch over the network would fail at once through this dead proxy.
  out="$(HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
    "$KC" -strict -summary -kubernetes-version "$v" \
    -schema-location "$K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    "$DEPLOY/k8s" 2>&1)" || die "kubeconform (Kubernetes $v): $out"
  echo "$out" | grep -q "Valid: $expected, Invalid: 0, Errors: 0, Skipped: 0" ||
    die "kubeconform (Kubernetes $v): expected $expected valid resources: $out"
  echo "  ok   kubeconform -strict, Kubernetes $v: $(echo "$out" | grep '^Summary' | sed 's/^Summary: //')"
done
"$PY" "$DEPLOY/check.py" k8s "$DEPLOY/k8s"

part ""
echo "== deploy: all deployment checks passed in $(elapsed "$T0" "$(now)") s"
