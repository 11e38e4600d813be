# check-numa-args.t — tests/numa/check-numa.sh refuses bad options before it installs,
# downloads, builds or boots anything (bad input): exit 2, a message naming the
# option and what is allowed, and nothing written under the build directory.
# POSIX sh, TAP on stdout; run by `make check-cli` (no QEMU needed).
HARNESS=$(cd "$(dirname "$0")/../numa" && pwd)/check-numa.sh
T=$(mktemp -d "${TMPDIR:-/tmp}/check-numa-args.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
n=0
failed=0

# refuse "NAME" "REGEX the message must match" ARG...: exit 2, message, nothing written.
refuse() {
  name=$1
  want=$2
  shift 2
  status=0
  sh "$HARNESS" --build-dir "$T/build" "$@" >"$T/out" 2>"$T/err" || status=$?
  n=$((n + 1))
  if [ "$status" = 2 ] && grep -q -- "$want" "$T/err" && [ ! -s "$T/out" ] &&
    [ ! -e "$T/build" ]; then
    echo "ok $n - $name"
  else
    failed=$((failed + 1))
    echo "not ok $n - $name"
    echo "#   exit $status (want 2); stderr:"
    sed 's/^/#   /' "$T/err"
    [ -s "$T/out" ] && echo "#   stdout not empty" && sed 's/^/#   /' "$T/out"
    [ -e "$T/build" ] && echo "#   $T/build was created"
  fi
}

echo "TAP version 13"
echo "1..44"

refuse "unknown option" "unknown option '--frobnicate'" --frobnicate
refuse "stray argument" "unknown option 'extra'" extra
refuse "missing value" "option --nodes needs a value" --nodes
refuse "flag given a value" "option --keep takes no value" --keep=yes
refuse "--nodes 0" "--nodes '0': expected an integer from 1 to 64" --nodes 0
refuse "--nodes 65" "--nodes '65': expected an integer from 1 to 64" --nodes 65
refuse "--nodes not a number" "--nodes 'four'" --nodes four
refuse "--nodes=-1 form" "--nodes '-1'" --nodes=-1
refuse "--mem-per-node without unit" "--mem-per-node '512': expected a size with a unit M or G" --mem-per-node 512
refuse "--mem-per-node too small" "from 64M to 64G" --mem-per-node 32M
refuse "--mem-per-node too large" "from 64M to 64G" --mem-per-node 65G
refuse "--mem-per-node unknown unit" "--mem-per-node '1T'" --mem-per-node 1T
refuse "--cpus-per-node 0" "--cpus-per-node '0': expected an integer from 1 to 16" --cpus-per-node 0
refuse "--cpus 0" "--cpus '0': expected an integer from 1 to 255" --cpus 0
refuse "--cpus with --cpus-per-node" "exclude each other" --cpus 2 --cpus-per-node 1
refuse "--cpus 256" "--cpus '256': expected an integer from 1 to 255" --cpus 256
refuse "--distances row count" "has 2 rows; --nodes 4 needs 4" --distances '10,21;21,10'
refuse "--distances short row" "row 1 has 3 values; expected 4" \
  --distances '10,21,31,31;21,10,31;31,31,10,21;31,31,21,10'
refuse "--distances local not 10" "row 0: the local distance must be 10, not 12" \
  --nodes 2 --distances '12,21;21,10'
refuse "--distances remote 10" "row 1 column 0: remote distance 10 is outside 11..254" \
  --nodes 2 --distances '10,21;10,10'
refuse "--distances remote 255" "remote distance 255 is outside 11..254" \
  --nodes 2 --distances '10,255;21,10'
refuse "--distances not integers" "value \"x\" is not an integer" --nodes 2 --distances '10,x;21,10'
refuse "--cases with a quote" "--cases .*allowed characters" --cases "SET-1'; reboot"
refuse "--cases with a space" "--cases .*allowed characters" --cases "SET-1 NUMA-1"
refuse "--timeout too short" "--timeout '5': expected seconds from 10 to 86400" --timeout 5
refuse "--retries too many" "--retries '9': expected a whole number from 0 to 5" --retries 9
refuse "--boot-timeout over --timeout" "--boot-timeout 200 exceeds --timeout 100" \
  --timeout 100 --boot-timeout 200
refuse "--accel unknown" "--accel 'xen': expected auto, kvm or tcg" --accel xen
refuse "--tcg-threads unknown" "--tcg-threads 'many': expected single or multi" --tcg-threads many
refuse "--bench with a space" "--bench 'a b': expected benchmark names separated by commas" --bench 'a b'
refuse "--bench with an empty name" "--bench 'migration,': expected benchmark names" --bench migration,
refuse "--bench-only without --bench" "--bench-only needs --bench NAME" --bench-only
refuse "--bench with --topology-only" "--bench and --topology-only exclude each other" --bench migration --topology-only
refuse "--bench migration with 512M a node" "--bench migration needs --mem-per-node 1G or more" --bench migration
refuse "--bench-only with --cases" "--bench-only and --cases exclude each other" --bench migration --bench-only --cases 'NUMA-*'
refuse "--mode unknown" "--mode 'slow': expected quick or full" --mode slow
refuse "--kernel missing" "--kernel '$T/none': no such file" --kernel "$T/none"
refuse "--kernel-args with a semicolon" "--kernel-args .*allowed characters" --kernel-args 'quiet; reboot'
refuse "--timeout-scale 0" "--timeout-scale '0': expected a number, 0 < X <= 1000" --timeout-scale 0
refuse "--timeout-scale not a number" "--timeout-scale '1.2.3'" --timeout-scale 1.2.3
refuse "usage error hints at --help" "Try '.*--help'" --nodes x

# An unknown benchmark name is refused by the names the build's mmcert knows
# (mmcert bench --list), before the guest is built.
n=$((n + 1))
status=0
if [ -x "${MMCERT_BUILD:-}/mmcert" ]; then
  sh "$HARNESS" --build-dir "$MMCERT_BUILD" --bench placement,nosuch >"$T/out" 2>"$T/err" || status=$?
  if [ "$status" = 2 ] && grep -q -- "--bench: unknown benchmark 'nosuch'; built in: access placement migration" "$T/err" &&
    [ ! -s "$T/out" ]; then
    echo "ok $n - --bench with an unknown name, checked against mmcert bench --list"
  else
    failed=$((failed + 1))
    echo "not ok $n - --bench with an unknown name, checked against mmcert bench --list (exit $status)"
    sed 's/^/#   /' "$T/err"
  fi
else
  echo "ok $n # SKIP no built mmcert (\$MMCERT_BUILD unset): make check-cli sets it"
fi
n=$((n + 1))
status=0
sh "$HARNESS" --help >"$T/out" 2>"$T/err" || status=$?
if [ "$status" = 0 ] && grep -q -- '--mem-per-node SIZE' "$T/out" && [ ! -s "$T/err" ]; then
  echo "ok $n - --help prints the usage and exits 0"
else
  failed=$((failed + 1))
  echo "not ok $n - --help prints the usage and exits 0 (exit $status)"
fi
n=$((n + 1))
# 2 vCPUs by default, so with 4 nodes two are memory-only.
if grep -q -- 'default 2: with 4 nodes' "$T/out" && grep -q -- 'nodes 2 and 3 none' "$T/out"; then
  echo "ok $n - --help documents the default of 2 vCPUs (nodes 2 and 3 memory-only)"
else
  failed=$((failed + 1))
  echo "not ok $n - --help documents the default of 2 vCPUs (nodes 2 and 3 memory-only)"
fi
[ "$failed" = 0 ]
