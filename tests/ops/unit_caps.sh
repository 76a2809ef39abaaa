#!/usr/bin/env bash
# unit_caps.sh UNIT CMD...: runs CMD (a controller test) with the capability
# bounding set and no_new_privs that UNIT (ward-controller.service) gives
# the controller, as systemd would: what its launcher starts (ward-blk,
# ward-hv) and its own lockdown must work with only those. systemd itself
# is not PID 1 here, so this is the part of the unit a test can apply.
set -uo pipefail
unit=${1:?usage: unit_caps.sh UNIT CMD...}
shift
[ "$(id -u)" = 0 ] || { echo "SKIP: applying a unit's capability bounding set needs root"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv (util-linux) missing"; exit 77; }
command -v capsh >/dev/null || { echo "SKIP: capsh (libcap2-bin) missing"; exit 77; }
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || { echo "FAIL: $unit has no CapabilityBoundingSet="; exit 1; }
nnp=()
grep -q '^NoNewPrivileges=yes' "$unit" && nnp=(--no-new-privs)
set=-all
for c in $caps; do set+=",+$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done
# The set really is in force: the bounding set a child sees is the unit's,
# less what this machine's own bounding set lacks (a container may have no
# CAP_SYS_RESOURCE, for one): said, since the test then proves less.
have=$(capsh --decode="$(sed -n 's/^CapBnd:\t//p' /proc/self/status)" | sed 's/.*=//' | tr ',' '\n')
want="" lacking=""
for c in $(tr ' ' '\n' <<<"$caps" | tr '[:upper:]' '[:lower:]' | sort); do
	if grep -qx "$c" <<<"$have"; then want+="$c "; else lacking+="$c "; fi
done
[ -z "$lacking" ] || echo "note: this machine's bounding set lacks $lacking(not tested)"
bnd=$(setpriv --bounding-set "$set" "${nnp[@]}" -- sed -n 's/^CapBnd:\t//p' /proc/self/status)
got=$(capsh --decode="$bnd" | sed 's/.*=//' | tr ',' '\n' | sort | tr '\n' ' ')
[ "$got" = "$want" ] || { echo "FAIL: bounding set $got, the unit says $want"; exit 1; }
echo "running under $unit's bounding set ($want) ${nnp[*]}"
exec setpriv --bounding-set "$set" "${nnp[@]}" -- "$@"
