#!/usr/bin/env bash
# install_test.sh: `meson install --destdir` from this build yields a working
# tree (binaries that run, man pages for each, guest images, units, sysusers,
# example configuration), `systemd-analyze verify` accepts the units with
# nothing to say, the KMS unit's syscall filter lets through every call of
# ward-kms's own allowlist, and the daemons read their configuration files
# (errors name file and line, flags override the file).
set -uo pipefail
B=${WARD_BUILD_ROOT:?}
SRC=${WARD_SOURCE_ROOT:?}
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
command -v systemd-analyze >/dev/null ||
	{ echo "SKIP: systemd-analyze missing (Debian package systemd)"; exit 77; }

D=$(mktemp -d "${TMPDIR:-/tmp}/ward-install-test.XXXXXX")
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT

# --no-rebuild: meson test built everything already; a ninja inside a test
# would race the one that runs the tests.
meson install -C "$B" --destdir "$D/root" --no-rebuild --quiet >"$D/install.log" 2>&1 ||
	{ cat "$D/install.log"; echo "FAIL: meson install"; exit 1; }
PREFIX=$(python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))' \
	< <(meson introspect "$B" --buildoptions))
R=$D/root$PREFIX
echo "installed under DESTDIR, prefix $PREFIX"

# Binaries: every daemon and tool, each runs from the installed tree.
BINS="ward ward-hv ward-blk ward-net ward-controller ward-boot ward-kms ward-api ward-fwtool ward-pki"
for b in $BINS; do
	[ -x "$R/bin/$b" ] || { fail "bin/$b not installed"; continue; }
done
for b in ward ward-hv ward-blk ward-net ward-controller ward-boot ward-kms ward-api ward-pki; do
	[ -x "$R/bin/$b" ] && { "$R/bin/$b" --help >/dev/null 2>&1 || fail "installed $b --help failed"; }
done
ok "binaries installed and run: $(ls "$R/bin" | tr '\n' ' ')"
# Only these: the development controller (verifies nothing) is never installed.
extra=$(ls "$R/bin" | grep -vxF -f <(tr ' ' '\n' <<<"$BINS"))
[ -z "$extra" ] || fail "unexpected programs installed: $extra"

# A man page per program, plus ward.conf(5); each renders without warnings.
for b in $BINS; do
	ls "$R"/share/man/man[18]/"$b".[18] >/dev/null 2>&1 || fail "no man page for $b"
done
[ -f "$R/share/man/man5/ward.conf.5" ] || fail "no ward.conf(5)"
for m in "$R"/share/man/man*/*; do
	w=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "man $(basename "$m"): $w"
done
ok "man pages: $(cd "$R/share/man" && ls man*/* | tr '\n' ' ')"

# The guest images a host runs as instance images, as ELF files.
for g in hello blk-check net-check; do
	f=$R/share/ward/guest/$g.elf
	[ "$(head -c4 "$f" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] || fail "guest $g.elf not installed"
done
ok "guest images installed"

# Units: paths follow the prefix; the controller starts through ward-boot.
U=$R/lib/systemd/system
for u in ward-controller ward-kms ward-api; do
	[ -f "$U/$u.service" ] || { fail "$u.service not installed"; continue; }
	grep -q '@[A-Z_]*@' "$U/$u.service" && fail "$u.service has an unsubstituted @VAR@"
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$U/$u.service")
	[ -x "$D/root$exe" ] || fail "$u.service runs $exe, which is not installed"
done
grep -q "^ExecStart=$PREFIX/bin/ward-boot .* $PREFIX/bin/ward-controller " "$U/ward-controller.service" ||
	fail "ward-controller.service does not start the controller through ward-boot"
grep -q '^Restart=on-failure' "$U/ward-controller.service" || fail "controller unit: no Restart=on-failure"
[ -f "$R/lib/sysusers.d/ward.conf" ] || fail "sysusers.d/ward.conf not installed"

# systemd-analyze verify, with the installed tree as root (so ExecStart= and
# the Documentation= man pages are checked against what was installed) and
# the system's own units copied in for the targets the units name. It must
# say nothing at all: systemd-analyze only warns (exit 0) about an unknown
# directive or syscall group, and such a line is a unit that does not do
# what it says.
mkdir -p "$D/root/usr/lib/systemd"
cp -a /lib/systemd/system "$D/root/usr/lib/systemd/" 2>/dev/null ||
	cp -a /usr/lib/systemd/system "$D/root/usr/lib/systemd/"
out=$(MANPATH=$R/share/man systemd-analyze verify --root="$D/root" \
	"$U/ward-controller.service" "$U/ward-kms.service" "$U/ward-api.service" 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify: the three units pass with no message"
else
	fail "systemd-analyze verify (rc $rc): $out"
fi
for u in ward-controller ward-kms ward-api; do
	echo "  $(systemd-analyze security --offline=true --root="$D/root" "$u.service" 2>&1 | grep 'Overall exposure')"
done
python3 "$SRC/tests/ops/unit_filter.py" "$U/ward-kms.service" "$SRC/src/kms/allowlist.c" \
	"$SRC/src/lib/sandbox.c" || fail "ward-kms.service's syscall filter"

# Example configuration files: each daemon accepts its own.
E=$R/share/doc/ward/examples
for d in controller kms api; do
	out=$("$R/bin/ward-$d" --config "$E/$d.conf" --no-such-option 2>&1)
	grep -q "$d.conf:" <<<"$out" && fail "example $d.conf refused: $out"
	grep -q -- "no-such-option" <<<"$out" || fail "ward-$d with example $d.conf: $out"
done
ok "the example configuration files are accepted"

# Errors name the file and line; exit status 2.
for d in controller kms api; do
	printf '# comment\n\nbogus-key = 1\n' >"$D/bad-$d.conf"
	out=$("$R/bin/ward-$d" --config "$D/bad-$d.conf" 2>&1)
	rc=$?
	[ "$rc" = 2 ] && grep -qF "ward-$d: $D/bad-$d.conf:3: unknown key 'bogus-key'" <<<"$out" ||
		fail "ward-$d with an unknown key: rc $rc: $out"
done
printf 'port = 70000\n' >"$D/bad-port.conf"
out=$("$R/bin/ward-kms" --config "$D/bad-port.conf" serve 2>&1)
grep -qF "bad-port.conf:1: 'port' must be an integer from 0 to 65535, got '70000'" <<<"$out" ||
	fail "ward-kms with a bad port: $out"
ok "configuration errors name file and line"

# ward-api really runs from its file, and a flag overrides a key: the file
# says port 1, the command line --port 0 (a free port).
"$R/bin/ward-pki" init "$D/pki" --ip 127.0.0.1 >/dev/null 2>&1 || fail "ward-pki init"
"$R/bin/ward-pki" server "$D/pki" api --ip 127.0.0.1 >/dev/null 2>&1 || fail "ward-pki server"
cat >"$D/api.conf" <<CONF
# ward-api for the install test
db = $D/api.db
master-key-file = $D/api.key
listen = 127.0.0.1
port = 1
cert = $D/pki/api.pem
key = $D/pki/api.key
port-file = $D/api.port
CONF
"$R/bin/ward-api" --config "$D/api.conf" --port 0 serve 2>"$D/api.log" &
PID=$!
for _ in $(seq 600); do	# a 30 s bound, not a timing
	[ -s "$D/api.port" ] && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.05
done
port=$(cat "$D/api.port" 2>/dev/null)
if [ -n "$port" ] && [ "$port" != 1 ] &&
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/pki/ca.pem" \
		"https://127.0.0.1:$port/" --data 'Action=GetCallerIdentity') && [ "$code" != 000 ]; then
	ok "ward-api serves from its configuration file on port $port (--port 0 overrode port = 1): HTTP $code"
else
	fail "ward-api from its configuration file: port '$port'"; cat "$D/api.log"
fi
kill "$PID"; wait "$PID" 2>/dev/null; PID=""
[ -f "$D/api.db" ] || fail "ward-api did not use the db path of its file"

# ward-pki's output: a chain the controller accepts.
openssl verify -CAfile "$D/pki/ca.pem" "$D/pki/server.pem" "$D/pki/kms.pem" "$D/pki/cp.pem" \
	"$D/pki/op.pem" "$D/pki/host.pem" >/dev/null || fail "ward-pki's certificates do not verify"
openssl x509 -in "$D/pki/cp.pem" -noout -subject | grep -q 'OU = control-plane' || fail "cp.pem has no control-plane OU"
[ "$(stat -c %a "$D/pki/ca.key")" = 600 ] || fail "ca.key is not 0600"
"$R/bin/ward-pki" init "$D/pki" >/dev/null 2>&1 && fail "ward-pki init overwrote an existing CA"

[ "$FAILS" = 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all checks passed"
