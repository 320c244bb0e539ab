#!/usr/bin/env bash
# Build the node and operator images as OCI archives under dist/, with or without a Docker daemon.
#
#   scripts/images.sh    # dist/webmesh-node-<tag>.tar, dist/webmesh-operator-<tag>.tar: OCI archives
#                        # (buildah), or docker archives (docker save)
#
# 1. A wheelhouse from the lock (dist/wheelhouse/): every wheel the images install, downloaded
#    hash-checked (pip --require-hashes); the two sdists (python-ldap, pysyncobj) and webmesh itself
#    are built into wheels here, with the locked setuptools. The images then install with no index,
#    no compiler and no network for Python (pip, run from its own locked wheel).
# 2. The images from node/Dockerfile and operator/Dockerfile: with buildah when it is installed
#    (daemonless, `--isolation chroot`), else with docker. The base is BASE (default
#    python:3.11-slim-bookworm); where no registry is reachable, give an OCI archive, e.g.
#    BASE=oci-archive:/path/debian-python.oci.tar (the Makefile passes ../shared/kube-node's).
# Environment: IMAGE_TAG (0.1.0), PY (.venv/bin/python), BASE, OUT (dist), IMAGES (which to build:
# "node operator", the default, or one of them).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${IMAGE_TAG:-0.1.0}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-dist}
WHEELS=$OUT/wheelhouse
BASE=${BASE:-python:3.11-slim-bookworm}
IMAGES=${IMAGES:-node operator}

step() { printf '==> %s\n' "$*" >&2; }
# pip, without the warnings this machine's pip.conf causes about extra indexes it cannot read.
quiet_pip() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

wheelhouse() {
  step "wheelhouse from the lock: $WHEELS"
  rm -rf "$WHEELS" "$OUT/webmesh-src"
  mkdir -p "$WHEELS/node" "$WHEELS/operator" "$WHEELS/pip"
  local pip=(quiet_pip "$PY" -m pip --disable-pip-version-check)
  for image in node operator; do
    "${pip[@]}" wheel -q --require-hashes --no-deps --no-build-isolation \
      -r "requirements/$image.txt" -w "$WHEELS/$image"
  done
  "${pip[@]}" download -q --require-hashes --no-deps -r requirements/build.txt -d "$WHEELS/pip"
  find "$WHEELS/pip" -type f ! -name 'pip-*.whl' -delete
  # webmesh itself, built from a copy of its sources (the build writes build/ and egg-info).
  mkdir -p "$OUT/webmesh-src"
  cp -r pyproject.toml README.md node operator "$OUT/webmesh-src/"
  find "$OUT/webmesh-src" -name __pycache__ -prune -exec rm -rf {} +
  "${pip[@]}" wheel -q --no-deps --no-build-isolation "$OUT/webmesh-src" -w "$WHEELS/webmesh"
  rm -rf "$OUT/webmesh-src"
  cp "$WHEELS"/webmesh/webmesh-*.whl "$WHEELS/node/"
  cp "$WHEELS"/webmesh/webmesh-*.whl "$WHEELS/operator/"
}

build() {  # build NAME DOCKERFILE
  local name=$1 dockerfile=$2 archive="$OUT/$1-$TAG.tar" started=$SECONDS
  step "image $name:$TAG from $dockerfile (base $BASE)"
  rm -f "$archive"
  if command -v buildah >/dev/null; then
    buildah bud --quiet --isolation chroot --layers=false -f "$dockerfile" \
      --build-arg "BASE=$BASE" --build-arg "VERSION=$TAG" -t "localhost/$name:$TAG" . >/dev/null
    # The name a kubelet looks for: "webmesh-node:0.1.0" in a pod spec means docker.io/library/...
    buildah push --quiet "localhost/$name:$TAG" "oci-archive:$archive:docker.io/library/$name:$TAG" \
      >/dev/null
    buildah rmi --force "localhost/$name:$TAG" >/dev/null 2>&1 || true
  elif command -v docker >/dev/null; then
    docker build -f "$dockerfile" --build-arg "BASE=$BASE" --build-arg "VERSION=$TAG" -t "$name:$TAG" .
    docker save "$name:$TAG" -o "$archive"
  else
    echo "make images needs buildah (Debian: apt-get install buildah) or docker" >&2
    exit 1
  fi
  printf '%s:%s  %s  %d MB  built in %d s\n' "$name" "$TAG" "$archive" \
    "$(( $(stat -c %s "$archive") / 1000000 ))" "$(( SECONDS - started ))"
}

for image in $IMAGES; do
  case $image in
    node | operator) ;;
    *) echo "IMAGES: unknown image '$image' (node, operator)" >&2; exit 2 ;;
  esac
done
wheelhouse
for image in $IMAGES; do
  build "webmesh-$image" "$image/Dockerfile"
done
