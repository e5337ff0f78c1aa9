#!/usr/bin/env bash
# Build the project image and smoke-run it with no Docker daemon and no container registry.
#
#   scripts/offline-image-build.sh [MODEL_TYPE ...]      (default: bert; run as root)
#
# 1. installs buildah, podman, runc and debootstrap with apt when they are missing;
# 2. debootstraps a Debian bookworm minbase rootfs (cached as a tarball under .cache/image/) and
#    imports it as a local base image;
# 3. builds a local stand-in for python:3.11-slim-bookworm on it (Debian's python3 in a venv at
#    /usr/local, with this machine's extra CA certificates baked in so pip works behind a TLS proxy);
# 4. builds ./Dockerfile on that stand-in with --pull=never, taking torch from a local CPU wheel
#    (a directory of wheels is mounted at build time) so nothing multi-GB is downloaded;
# 5. runs `tinymodels build MODEL_TYPE -o /out` in the image with no network and checks the output.
#
# It prints "SKIPPED: <reason>" and exits 0 only when containers cannot run on this machine.
# Environment: IMAGE (default localhost/tinymodels:dev), TINYMODELS_IMAGE_CACHE (default .cache/image),
# TORCH_WHEEL (a torch wheel to use; default: the first CPU cp311 torch wheel in pip's find-links),
# KEEP_OUTPUT=1 (keep the smoke-run output directory), REBUILD_BASE=1 (rebuild the base images).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${TINYMODELS_IMAGE_CACHE:-$ROOT/.cache/image}
IMAGE=${IMAGE:-localhost/tinymodels:dev}
BASE_IMAGE=localhost/tinymodels-debian:bookworm
STANDIN_IMAGE=localhost/tinymodels-python-standin:3.11-slim-bookworm
SUITE=bookworm
RUNNER_UID=1001 # the image's non-root user (see Dockerfile)
MODEL_TYPES=("$@")
[[ ${#MODEL_TYPES[@]} -gt 0 ]] || MODEL_TYPES=(bert)

START=$(date +%s)
TIMINGS=()

log() { printf '[image] %s\n' "$*" >&2; }
skip() {
    printf 'SKIPPED: %s\n' "$*"
    exit 0
}
die() {
    printf '[image] ERROR: %s\n' "$*" >&2
    exit 1
}
# step NAME CMD...: run CMD (errexit applies), record how long it took.
step() {
    local name=$1 t0
    shift
    t0=$(date +%s)
    log "== $name"
    "$@"
    TIMINGS+=("$(printf '%-28s %4ds' "$name" "$(($(date +%s) - t0))")")
}

# --- 0. can containers run here at all? ------------------------------------------------------
[[ $(uname -s) == Linux ]] || skip "containers need Linux (this is $(uname -s))"
[[ $(id -u) -eq 0 ]] || skip "needs root (rootless podman is not set up by this script)"

install_tools() {
    local missing=()
    command -v buildah >/dev/null || missing+=(buildah)
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null || skip "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || skip "apt-get update failed; cannot install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        skip "apt-get install ${missing[*]} failed"
}
step "tools" install_tools

mkdir -p "$CACHE"
# runc, not crun: crun refuses hybrid cgroup layouts. The ulimits stay within the hard limits that
# sandboxed machines impose (podman's defaults exceed them). Host network: no bridge, no iptables.
cat >"$CACHE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
NOFILE=$(ulimit -Hn)
if [[ $NOFILE != unlimited && $NOFILE -lt 20000 ]]; then
    sed -i "s/nofile=20000:20000/nofile=$NOFILE:$NOFILE/" "$CACHE/containers.conf"
fi
export CONTAINERS_CONF=$CACHE/containers.conf
# docker format: the OCI format drops SHELL (and with it pipefail) from the Dockerfile.
BUILD=(buildah bud --isolation chroot --network host --pull=never --layers --force-rm --format docker)

# --- 1. Debian base from debootstrap -----------------------------------------------------------
debian_mirror() {
    # The mirror this machine's apt already uses (deb822 or one-line sources), never a guessed one.
    local uri
    uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u && $0 ~ /(^|[ \t])bookworm([ \t]|$)/ {print u; exit}' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    printf '%s' "$uri"
}

make_rootfs() {
    local mirror rootfs=$CACHE/rootfs.tmp
    mirror=$(debian_mirror)
    [[ -n $mirror ]] || skip "no Debian $SUITE mirror configured in /etc/apt (needed by debootstrap)"
    rm -rf "$rootfs"
    if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
        tail -5 "$CACHE/debootstrap.log" >&2
        rm -rf "$rootfs"
        skip "debootstrap could not build a $SUITE rootfs from $mirror (see $CACHE/debootstrap.log)"
    fi
    rm -f "$rootfs"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$rootfs" -cf "$CACHE/rootfs.tar.tmp" .
    mv "$CACHE/rootfs.tar.tmp" "$CACHE/rootfs.tar"
    rm -rf "$rootfs"
}

if [[ ${REBUILD_BASE:-} == 1 ]]; then
    rm -f "$CACHE/rootfs.tar"
    podman rmi -f "$BASE_IMAGE" >/dev/null 2>&1 || true
fi
if ! podman image exists "$BASE_IMAGE"; then
    if [[ ! -f $CACHE/rootfs.tar ]]; then
        step "debootstrap $SUITE" make_rootfs
    fi
    step "import base" podman import --change 'CMD ["/bin/bash"]' "$CACHE/rootfs.tar" "$BASE_IMAGE" >/dev/null
fi

# A runtime that cannot start a container here is a reason to skip, not a failure of the project.
if ! probe=$(podman run --rm --network none "$BASE_IMAGE" true 2>&1); then
    skip "podman cannot run containers here: ${probe//$'\n'/ }"
fi

# --- 2. stand-in for python:3.11-slim-bookworm --------------------------------------------------
standin=$CACHE/standin
rm -rf "$standin" && mkdir -p "$standin/extra-ca"
# The sandbox's TLS-intercepting proxy CA (if any), so pip inside the build trusts it.
cp /usr/local/share/ca-certificates/*.crt "$standin/extra-ca/" 2>/dev/null || true
# Like the official image, keep no apt caches (a debootstrap rootfs keeps every downloaded .deb).
cat >"$standin/Containerfile" <<EOF
FROM $BASE_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \\
    && apt-get clean && rm -rf /var/lib/apt/lists/* \\
    && echo 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };' >/etc/apt/apt.conf.d/docker-clean
COPY extra-ca/ /usr/local/share/ca-certificates/
# A venv at /usr/local gives /usr/local/bin/python and pip, like the official image.
RUN update-ca-certificates && python3 -m venv /usr/local && python --version && pip --version
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt LANG=C.UTF-8
CMD ["python3"]
EOF
# Tagged by content: a changed Containerfile or CA set builds a new stand-in.
STANDIN_IMAGE+=-$(cat "$standin/Containerfile" "$standin"/extra-ca/* 2>/dev/null | sha256sum | cut -c1-12)
if ! podman image exists "$STANDIN_IMAGE"; then
    step "stand-in python image" "${BUILD[@]}" -q -f "$standin/Containerfile" -t "$STANDIN_IMAGE" "$standin" >/dev/null
fi

# --- 3. the project image -----------------------------------------------------------------------
find_torch_wheel() {
    # torch from a local CPU wheel (~190 MB) instead of the multi-GB default build: the image only
    # needs CPU. The cp311 tag matches the stand-in's Debian Python 3.11.
    local dir links
    links="${PIP_FIND_LINKS:-} $(pip config get global.find-links 2>/dev/null || true)"
    for dir in $links; do
        dir=${dir#file://}
        compgen -G "$dir/torch-*+cpu-cp311-*.whl" >/dev/null && {
            compgen -G "$dir/torch-*+cpu-cp311-*.whl" | sort -V | tail -1
            return 0
        }
    done
    return 0
}
# torch comes from local wheels (find-links) or this machine's configured index, never a CUDA download
# by surprise: say so explicitly, as the Dockerfile requires when TORCH_INDEX_URL is empty.
BUILD_ARGS=(--build-arg "BASE_IMAGE=$STANDIN_IMAGE" --build-arg ALLOW_DEFAULT_TORCH_INDEX=true)
TORCH_WHEEL=${TORCH_WHEEL:-$(find_torch_wheel)}
if [[ -n $TORCH_WHEEL ]]; then
    torch_version=$(basename "$TORCH_WHEEL" | cut -d- -f2)
    torch_version=${torch_version%%+*}
    # No torchvision: the only one on offer for this torch is the CUDA-linked build, which breaks
    # `import transformers` image utilities on a CPU torch (see WITH_TORCHVISION in the Dockerfile).
    log "torch: $TORCH_WHEEL, without torchvision"
    BUILD_ARGS+=(-v "$(dirname "$TORCH_WHEEL"):/tmp/wheels:ro" --build-arg PIP_FIND_LINKS=/tmp/wheels
        --build-arg "TORCH_SPEC=torch==$torch_version" --build-arg WITH_TORCHVISION=false)
else
    log "no local CPU torch wheel found: using the Dockerfile's default TORCH_SPEC (large download)"
fi
previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
step "project image" "${BUILD[@]}" "${BUILD_ARGS[@]}" -t "$IMAGE" "$ROOT"
# Drop the image this build replaced (its layers stay cached), so rebuilds do not pile up.
if [[ -n $previous && $previous != $(podman image inspect --format '{{.Id}}' "$IMAGE") ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
fi

# --- 4. smoke run -------------------------------------------------------------------------------
step "tinymodels --help" podman run --rm --network none "$IMAGE" --help >/dev/null

OUT=$(mktemp -d "${TMPDIR:-/tmp}/tinymodels-image-out.XXXXXX")
[[ ${KEEP_OUTPUT:-} == 1 ]] || trap 'rm -rf "$OUT"' EXIT
chown "$RUNNER_UID" "$OUT"
step "build ${MODEL_TYPES[*]}" podman run --rm --network none -v "$OUT:/out" "$IMAGE" \
    build "${MODEL_TYPES[@]}" -o /out

check_output() {
    local type arch ok=0
    [[ -f $OUT/reports/tiny_model_creation_report.json ]] || die "no reports/tiny_model_creation_report.json in the output"
    for type in "${MODEL_TYPES[@]}"; do
        for arch in "$OUT/$type"/*/; do
            [[ -f $arch/config.json && -f $arch/model.safetensors ]] && ok=$((ok + 1))
        done
    done
    [[ $ok -gt 0 ]] || die "no architecture folder with config.json + model.safetensors under $OUT"
    log "output: $ok architecture folder(s) with config.json + model.safetensors, plus reports/"
}
check_output

# --- summary ------------------------------------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
printf '[image] %s\n' "${TIMINGS[@]}" >&2
printf '[image] image %s: %d MB; total %ds\n' "$IMAGE" $((size / 1000000)) $(($(date +%s) - START))
