#!/usr/bin/env bash
# Third-party test data, pinned and checked, from package registries, into OUT (the first argument;
# default <target>/tmp/testdata, <target> being $CARGO_TARGET_DIR or target/ — where the tests look):
#   json-schema-test-suite/  the official JSON Schema Test Suite, as shipped under json/ in the
#                            `jsonschema` sdist on PyPI (tests/ and remotes/)
#   sarif-validator/         Microsoft's SARIF validator, @microsoft/sarif-multitool from npm
#                            (versions pinned by tests/support/sarif-validator/package-lock.json)
#   python-tools/            pre-commit and check-jsonschema from PyPI, in a virtual environment
#                            (versions pinned by tests/support/python-tools/requirements.txt)
# The tests run this when the data is missing; `.ci/run` runs it first. Safe to run twice or at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${CARGO_TARGET_DIR:-$root/target}/tmp/testdata}
mkdir -p "$out"

JSONSCHEMA_VERSION=4.26.0
JSONSCHEMA_URL=https://files.pythonhosted.org/packages/b3/fc/e067678238fa451312d4c62bf6e6cf5ec56375422aee02f9cb5f909b3047/jsonschema-4.26.0.tar.gz
JSONSCHEMA_SHA256=0c26707e2efad8aa1bfc5b7ce170f3fccc2e4918ff85989ba9ffa9facb2be326

fetch() { # url file
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$1" "$2"
  fi
}

suite="$out/json-schema-test-suite"
if [ ! -f "$suite/.complete-$JSONSCHEMA_VERSION" ]; then
  tmp=$(mktemp -d "$out/.suite.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  fetch "$JSONSCHEMA_URL" "$tmp/sdist.tar.gz"
  echo "$JSONSCHEMA_SHA256  $tmp/sdist.tar.gz" | sha256sum -c --quiet - || {
    echo "fetch-testdata: jsonschema-$JSONSCHEMA_VERSION.tar.gz does not have the pinned SHA-256" >&2
    exit 1
  }
  tar -xzf "$tmp/sdist.tar.gz" -C "$tmp" "jsonschema-$JSONSCHEMA_VERSION/json"
  mv "$tmp/jsonschema-$JSONSCHEMA_VERSION/json" "$tmp/suite"
  touch "$tmp/suite/.complete-$JSONSCHEMA_VERSION"
  rm -rf "$suite"
  mv "$tmp/suite" "$suite" 2>/dev/null || true # another run may have put it there first
  rm -rf "$tmp"
  trap - EXIT
  echo "fetch-testdata: JSON Schema Test Suite from jsonschema $JSONSCHEMA_VERSION (PyPI)"
fi

sarif="$out/sarif-validator"
if ! cmp -s "$root/tests/support/sarif-validator/package-lock.json" "$sarif/package-lock.json" \
   || [ ! -x "$sarif/node_modules/.bin/sarif-multitool" ]; then
  command -v npm >/dev/null 2>&1 || { echo "fetch-testdata: npm (Node.js) is needed for the SARIF validator" >&2; exit 1; }
  tmp=$(mktemp -d "$out/.sarif.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cp "$root/tests/support/sarif-validator/package.json" "$root/tests/support/sarif-validator/package-lock.json" "$tmp/"
  (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # The package's postinstall only marks the binary executable; do it whether or not scripts ran.
  chmod u+x "$tmp"/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool 2>/dev/null || true
  rm -rf "$sarif"
  mv "$tmp" "$sarif" 2>/dev/null || rm -rf "$tmp"
  trap - EXIT
  echo "fetch-testdata: @microsoft/sarif-multitool from npm"
fi

tools="$out/python-tools"
if ! cmp -s "$root/tests/support/python-tools/requirements.txt" "$tools/requirements.txt"; then
  # A virtual environment records its own path, so it is built in place; the copied requirements
  # file, written last, marks it complete.
  rm -rf "$tools"
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/support/python-tools/requirements.txt"
  cp "$root/tests/support/python-tools/requirements.txt" "$tools/requirements.txt"
  echo "fetch-testdata: pre-commit and check-jsonschema from PyPI"
fi
