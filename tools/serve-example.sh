#!/usr/bin/env bash
# Starts `gitsync serve` on the bundled example: a local bare repository holding examples/acme, and a
# data directory with its two workspaces (acme-staging, acme-production) connected to `main`.
#
#   bash tools/serve-example.sh [FOLDER]      # default: target/serve-example (made afresh)
#
# The gitsync it runs: $GITSYNC if set, else the one on PATH, else one built from this checkout.
# Prints an API token and the webhook secrets, then serves on http://127.0.0.1:8787 until Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/target/serve-example}"
if [ -n "${GITSYNC:-}" ]; then
    gitsync="$GITSYNC"
elif command -v gitsync >/dev/null 2>&1; then
    gitsync="$(command -v gitsync)"
else
    echo "serve-example: no gitsync on PATH (nor GITSYNC=…): building one from this checkout"
    cargo build --quiet --manifest-path "$root/Cargo.toml" -p gitsync
    gitsync="${CARGO_TARGET_DIR:-$root/target}/debug/gitsync"
fi
echo "serve-example: using $gitsync ($("$gitsync" --version))"

rm -rf "$dir"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
echo "serve-example: a bare repository with examples/acme at $dir/remote.git"
git init --quiet --bare -b main "$dir/remote.git"
git init --quiet -b main "$dir/work"
cp -R "$root/examples/acme/." "$dir/work/"
git -C "$dir/work" add -A
git -C "$dir/work" -c user.name="Acme" -c user.email="data@acme.example" commit --quiet -m "Acme's Git Sync repository"
git -C "$dir/work" push --quiet "$dir/remote.git" main
rm -rf "$dir/work"

data="$dir/data"
for ws in acme-staging acme-production; do
    "$gitsync" --data "$data" workspace init "$ws" >/dev/null
    # The sources and destinations the example's manifest lists, so the manifest gitsync writes
    # matches the one in the repository.
    while IFS=$'\t' read -r what id name type; do
        "$gitsync" --data "$data" --workspace "$ws" workspace "add-$what" "$id" --name "$name" --type "$type" >/dev/null
    done < <(awk '
        /^sources:/ { what = "source"; next }
        /^destinations:/ { what = "destination"; next }
        /^  [^ ].*:$/ { id = $1; sub(/:$/, "", id); next }
        /^    name:/ { name = $0; sub(/^    name: */, "", name); next }
        /^    type:/ { type = $2; print what "\t" id "\t" name "\t" type }
    ' "$root/examples/acme/manifest-$ws.yaml")
    "$gitsync" --data "$data" --workspace "$ws" connect --repo "file://$dir/remote.git" --branch main >/dev/null
    "$gitsync" --data "$data" --workspace "$ws" sync >/dev/null || true
    echo "serve-example: workspace $ws: $("$gitsync" --data "$data" --workspace "$ws" workspace list | wc -l) resources taken in from main"
    echo "serve-example: webhook secret of $ws: $("$gitsync" --data "$data" --workspace "$ws" webhook secret | sed -n 2p)"
done
token=$("$gitsync" --data "$data" token create --as "Ada Lovelace <ada@acme.example>" | sed -n 2p)
echo "serve-example: API token (Ada Lovelace): $token"
echo "serve-example: try  curl -H 'Authorization: Bearer $token' http://127.0.0.1:8787/api/v1/workspaces"
echo "serve-example: or open http://127.0.0.1:8787/ and paste the token"
exec "$gitsync" --data "$data" serve "${@:2}"
