#!/usr/bin/env bash
# Installs what the test suite needs besides Go: Node.js and npm (for the
# end-to-end tests with the official OpenAI and Anthropic SDKs) and the SDK
# packages themselves, pinned by e2e/sdk/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

node_ok() {
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
		node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'
}

if ! node_ok; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: installing Node.js and npm from Debian's packages"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
	else
		echo "test-deps: Node.js 18+ and npm are required for the SDK tests; install them (e.g. sudo apt-get install nodejs npm) and run make test again" >&2
		exit 1
	fi
fi

# npm ci wipes and reinstalls; skip it when the installed tree matches the lock.
lock=e2e/sdk/package-lock.json
installed=e2e/sdk/node_modules/.package-lock.json
if [ -f "$installed" ] && [ "$installed" -nt "$lock" ] && [ -d e2e/sdk/node_modules/openai ] && [ -d e2e/sdk/node_modules/@anthropic-ai/sdk ]; then
	exit 0
fi
echo "test-deps: installing the SDK packages (npm ci)"
npm ci --prefix e2e/sdk --no-audit --no-fund --loglevel=error
