#!/usr/bin/env bash
# The etcd store's transaction semantics (test_store_etcd.c) against a
# real single-member etcd on loopback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ha_lib.sh"
ha_setup
etcd_start 1
WARD_TEST_ETCD=$ETCD_EPS "${WARD_BUILD_ROOT}/tests/api/test_store_etcd" 2>&1 | tee "$T/units.log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "test_store_etcd failed"
grep -q Sanitizer "$T/units.log" && fail "sanitizer report"
pass "etcd store: conflicts, fencing, own writes"
