#!/usr/bin/env bash
# Re-pins the RustSec advisory database that .ci/run audits against.
# Usage: scripts/update_advisory_db.sh <path to a clone of rustsec/advisory-db> [commit]
# (a bare mirror works too). Writes .ci/advisory-db.tar.xz (the `crates/`
# and `rust/` advisories, ~300 KB) and .ci/advisory-db.commit.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:?path to an advisory-db clone}
commit=$(git -C "$src" rev-parse "${2:-HEAD}")
git -C "$src" archive --format=tar "$commit" crates rust LICENSE.txt README.md | xz -9 > .ci/advisory-db.tar.xz
echo "$commit" > .ci/advisory-db.commit
echo "pinned rustsec/advisory-db at $commit ($(git -C "$src" log -1 --format=%cs "$commit"))"
