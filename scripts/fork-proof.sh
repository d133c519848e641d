#!/usr/bin/env bash
# Issue 10.7, proven by hand (not part of `pnpm test`, which it runs): a fork that changes every
# environment value keeps `pnpm test` green. In a temp clone of this checkout's HEAD it edits the
# spec (scripts/fork-proof-edit.mjs: namespaces, hosts, replica bounds, resources, config, the
# managed database host, and a new environment `qa`), runs `pnpm generate`, `pnpm check` and
# `pnpm test`, and prints each result. node_modules and .tools are linked from this checkout.
# Usage: bash scripts/fork-proof.sh [vitest args...]   (e.g. test/release.test.ts to run one file)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d "${TMPDIR:-/tmp}/fork-proof-XXXXXX")"
trap 'rm -rf "$dir"' EXIT
git clone --quiet --no-hardlinks "$here" "$dir/fork"
cd "$dir/fork"
ln -s "$here/node_modules" node_modules
ln -s "$here/.tools" .tools
node scripts/fork-proof-edit.mjs overlays/environments.yaml
git -c user.name=fork -c user.email=fork@example.com commit --quiet -am "fork: every environment value changed, environment qa added"
echo "== pnpm generate"
node bin/gitops.mjs generate
git add -A
git -c user.name=fork -c user.email=fork@example.com commit --quiet -m "fork: generated"
git diff --stat HEAD~2 | tail -1
echo "== pnpm check"
node bin/gitops.mjs check
echo "== pnpm test"
if [ "$#" -eq 0 ]; then ./node_modules/.bin/tsc --noEmit; fi
./node_modules/.bin/vitest run "$@"
