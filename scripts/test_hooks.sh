#!/usr/bin/env bash
# test_hooks.sh DIR: prints whether the meson build dir DIR is configured
# with the fault-injection hooks (-Dtest_hooks): "true" or "false".
# `make test` wants them on in its dirs, `make build` off in build/.
set -euo pipefail
/usr/bin/python3 - "$1/meson-info/intro-buildoptions.json" <<'PY'
import json, sys
opts = json.load(open(sys.argv[1]))
print(str(next(o["value"] for o in opts if o["name"] == "test_hooks")).lower())
PY
