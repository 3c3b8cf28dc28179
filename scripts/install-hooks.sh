#!/usr/bin/env bash
# Installs the git hooks of scripts/hooks into this clone (.git/hooks), as symlinks so
# they follow the repository's versions:
#   pre-commit  clang-format check of staged C++, type check of staged UI TypeScript,
#               then the unit tests
#   pre-push    the integration tests
# Idempotent. `git commit --no-verify` / `git push --no-verify` skip them once.
set -euo pipefail
cd "$(dirname "$0")/.."
hooks_dir=$(git rev-parse --git-path hooks)
mkdir -p "$hooks_dir"
for h in pre-commit pre-push; do
  chmod +x "scripts/hooks/$h"
  ln -sf "$(pwd)/scripts/hooks/$h" "$hooks_dir/$h"
  echo "installed $hooks_dir/$h -> scripts/hooks/$h"
done
