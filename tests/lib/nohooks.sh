#!/usr/bin/env bash
# nohooks: a default build has no fault-injection hooks. Checks the default
# of -Dtest_hooks in the source tree (meson's own reading of
# meson_options.txt), then runs test_nohooks: the hooked sources compiled
# without hooks ignore the variables that drive the hooks.
set -euo pipefail
exe=$1
default=$(cd "$WARD_SOURCE_ROOT" && meson introspect --buildoptions meson.build 2>/dev/null |
	/usr/bin/python3 -c 'import json, sys
print([o["value"] for o in json.load(sys.stdin) if o["name"] == "test_hooks"][0])')
if [ "$default" != False ]; then
	echo "FAIL: -Dtest_hooks defaults to $default; a plain 'meson setup' must build no hooks"
	exit 1
fi
echo "ok: -Dtest_hooks defaults to false"
exec "$exe"
