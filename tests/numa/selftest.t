# selftest.t — proves tests/numa/check-numa.sh never passes silently (faults):
# boots the real guest with fake `mmcert` programs (busybox sh scripts) that pass, fail,
# cut their TAP short, hang, lie about their exit status, skip NUMA cases, panic the
# kernel; and with kernels that cannot start or never reach init; the Linux
# implementation's swap disk there, and its absence said (no modules, a module that does
# not load) without failing the run. Each must give the documented exit status and
# message. Boots ~15 guests (about 3-4 minutes under TCG);
# not part of `make check`: run `prove --exec /bin/sh tests/numa/selftest.t`.
# The kernel comes from ./build/numa-cache (a first `make check-numa` fills it) unless
# NUMA_CACHE names another directory.
HERE=$(cd "$(dirname "$0")" && pwd)
HARNESS=$HERE/check-numa.sh
CACHE=${NUMA_CACHE:-$HERE/../../build/numa-cache}
T=$(mktemp -d "${TMPDIR:-/tmp}/check-numa-selftest.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
n=0
failed=0

# fake NAME BODY [BENCH]: a build directory whose mmcert runs BODY for `mmcert run` (the
# TAP) and BENCH for `mmcert bench` (default: exit 0).
fake() {
  mkdir -p "$T/$1"
  {
    echo '#!/bin/sh'
    echo 'if [ "$1" = topology ]; then echo "fake topology"; exit 0; fi'
    # the harness also runs `mmcert qualify` and wants every node seen, on a VM
    echo 'if [ "$1" = qualify ]; then set -- /sys/devices/system/node/node[0-9]*'
    echo '  echo "NUMA nodes: $#"; echo "machine: VIRTUAL (fake)"; exit 0; fi'
    # check-numa --bench: names from `bench --list` (also run on the host), then
    # the benchmark's table from BENCH (a bench.json at --json's path, like mmcert)
    echo 'if [ "$1" = bench ] && [ "$2" = --list ]; then echo "migration  fake"; exit 0; fi'
    echo 'if [ "$1" = bench ]; then for a; do [ "$p" = --json ] && echo "{\"fake\": 1}" >"$a"; p=$a; done'
    printf '  %s\n' "${3:-exit 0}"
    echo 'fi'
    printf '%s\n' "$2"
  } >"$T/$1/mmcert"
  chmod +x "$T/$1/mmcert"
  echo "not a library" >"$T/$1/libmmref.so"
}

# expect NAME STATUS REGEX ARG...: the harness exits STATUS and its output matches REGEX.
expect() {
  name=$1
  want_status=$2
  want=$3
  shift 3
  status=0
  sh "$HARNESS" --cache-dir "$CACHE" --timeout 60 "$@" >"$T/out" 2>&1 || status=$?
  n=$((n + 1))
  if [ "$status" = "$want_status" ] && grep -q -- "$want" "$T/out"; then
    echo "ok $n - $name"
  else
    failed=$((failed + 1))
    echo "not ok $n - $name"
    echo "#   exit $status (want $want_status), output must match: $want"
    tail -n 15 "$T/out" | sed 's/^/#   /'
  fi
}

TAPH='echo "TAP version 13"'
fake pass "$TAPH; echo 1..2; echo 'ok 1 - A'; echo 'ok 2 - B # SKIP needs root (running as uid 5)'; exit 0"
fake fail "$TAPH; echo 1..2; echo 'ok 1 - A'; echo 'not ok 2 - B'; exit 1"
fake short "$TAPH; echo 1..3; echo 'ok 1 - A'; exit 0"
fake noplan "$TAPH; echo 'ok 1 - A'; exit 0"
fake hang "$TAPH; echo 1..1; exec sleep 100000"
fake numaskip "$TAPH; echo 1..2; echo 'ok 1 - NUMA-1 # SKIP needs 2 real NUMA nodes, topology x has 1'; echo 'ok 2 - NUMA-9 # SKIP needs 8 real NUMA nodes, topology x has 4'; exit 0"
fake bignuma "$TAPH; echo 1..1; echo 'ok 1 - NUMA-9 # SKIP needs 8 real NUMA nodes, topology x has 4'; exit 0"
fake lies "$TAPH; echo 1..1; echo 'not ok 1 - A'; exit 0"
fake usage "echo 'mmcert run: bad' >&2; exit 2"
fake bail "$TAPH; echo 1..2; echo 'ok 1 - A'; echo 'Bail out! no impl'; exit 1"
fake panic "$TAPH; echo 1..1; echo c >/proc/sysrq-trigger"
MIGHEAD='echo "== migration: fake"; echo "  figure  value unit  peer  value  ratio  target"'
MPROW='echo "  migration throughput                  39531.376 pages/s  move_pages(2), vCPUs running        197462.319    0.200  "'
fake benchpass "$TAPH; echo 1..1; echo 'ok 1 - A'; exit 0" "$MIGHEAD; $MPROW; exit 0"
fake benchnomp "$TAPH; exit 0" "$MIGHEAD; echo '  move_pages(2) peer: not measured'; exit 0"
# The Linux implementation (a libmmlinux.so beside mmcert): its run says where its TMPDIR is.
LINUXRUN='case "$*" in *libmmlinux*) for a; do [ "$p" = --json ] && echo "{}" >"$a"; p=$a; done
  echo "TAP version 13"; echo 1..1; echo "ok 1 - TMPDIR $TMPDIR is $(stat -f -c %T "$TMPDIR")"; exit 1 ;; esac'
fake linux "$LINUXRUN
$TAPH; echo 1..1; echo 'ok 1 - A'; exit 0"
echo "not a library" >"$T/linux/libmmlinux.so"
# A kernel cache whose ext4 module is damaged.
cp -r "$CACHE" "$T/badcache" && for m in "$T"/badcache/*/modules/ext4.ko; do echo "not a module" >"$m"; done
fake benchbroken "$TAPH; exit 0" "$MIGHEAD; echo 'mmcert bench migration: setup: no memory' >&2; exit 1"

echo "TAP version 13"
echo "1..20"
expect "a passing suite passes" 0 "check-numa: PASS" --build-dir "$T/pass"
expect "a failing case fails" 1 "FAIL: 1 case(s) failed" --build-dir "$T/fail"
expect "TAP cut short is a fault" 3 "TAP plan 1..3 but 1 tests seen" --build-dir "$T/short"
expect "TAP without a plan is a fault" 3 "no plan line" --build-dir "$T/noplan"
expect "a hanging guest is killed at --timeout" 3 "did not finish within --timeout 30s" \
  --build-dir "$T/hang" --timeout 30
expect "a NUMA case skipped on real nodes fails" 1 "skipped for lack of real NUMA" --build-dir "$T/numaskip"
expect "a skip for more nodes than the guest has is fine" 0 "check-numa: PASS" --build-dir "$T/bignuma"
expect "exit 0 with a failure is caught" 1 "exited 0 although the TAP shows failures" --build-dir "$T/lies"
expect "mmcert usage error in the guest is a fault" 3 "exited with status 2 inside the guest" --build-dir "$T/usage"
expect "Bail out! is a fault" 3 "bailed out" --build-dir "$T/bail"
expect "a kernel panic is a fault" 3 "stopped before powering off" --build-dir "$T/panic"
expect "a kernel that never reaches init times out" 3 "did not reach init within 15s" \
  --build-dir "$T/pass" --boot-timeout 15 --retries 0 --kernel-args 'rdinit=/nonexistent panic=0'
expect "a boot that hangs is run again, reported as STALL" 3 \
  "STALL: attempt 1: the guest did not reach init within 15s" \
  --build-dir "$T/pass" --boot-timeout 15 --retries 1 --kernel-args 'rdinit=/nonexistent panic=0'
expect "benchmarks after the suite: the move_pages(2) row is reported, bench.json arrives" 0 \
  "migration beside the kernel's move_pages(2), vCPUs running: 39531.376 pages/s against 197462.319, ratio 0.200" \
  --build-dir "$T/benchpass" --bench migration --mem-per-node 1G
expect "a migration table without move_pages(2) on real nodes fails" 1 \
  "FAIL: the migration benchmark measured no move_pages(2) peer on 4 real nodes" \
  --build-dir "$T/benchnomp" --bench migration --bench-only --mem-per-node 1G
expect "a benchmark that could not measure fails" 1 \
  "FAIL: mmcert bench exited with status 1 inside the guest" \
  --build-dir "$T/benchbroken" --bench migration --bench-only --mem-per-node 1G
expect "the Linux implementation's swap files go to the swap disk (ext4)" 0 \
  "ok 1 - TMPDIR /mnt/swapdisk is ext2/ext3" --build-dir "$T/linux"
expect "a kernel without modules: no swap disk, said, and the Linux run goes on" 0 \
  "swap disk MISSING: --kernel .* comes without modules" \
  --build-dir "$T/linux" --kernel "$(ls -1 "$CACHE"/linux-image-*/boot/vmlinuz-* | head -n 1)"
expect "a module that does not load: said, and the Linux run goes on" 0 \
  "swap disk MISSING: insmod ext4 failed" --build-dir "$T/linux" --cache-dir "$T/badcache"
echo "not a kernel" >"$T/notakernel"
expect "QEMU refusing to start is a fault" 3 "QEMU exited (status 1) before the guest printed anything" \
  --build-dir "$T/pass" --kernel "$T/notakernel"
[ "$failed" = 0 ]
