#!/bin/sh
# check-numa.sh — `make check-numa`: boot a multi-node Linux guest under QEMU and run the
# mmcert suite inside it, on a kernel with real NUMA nodes (DESIGN.md "Real NUMA
# without NUMA hardware").
#
# Steps: check options (usage errors exit 2 before anything is touched); install what is
# missing from Debian (qemu-system-x86, busybox-static, e2fsprogs; needs root); fetch the
# kernel package linux-image-amd64 depends on with `apt-get download` into
# <build>/numa-cache and keep its /boot and the few modules the swap disk needs there
# (never touching the host's /boot or /lib/modules); build an initramfs (busybox, mmcert,
# libmmref.so, the libraries `ldd` lists, tests/numa/init, those modules); pick KVM only
# when a probe guest really runs under it, else TCG; boot with one memory backend per node
# and the distance table; watch the serial console with deadlines; check that the guest saw
# the topology we asked for; read the TAP from its own serial port; exit with the verdict.
#
# Swap disk: when the Linux implementation runs, the guest also gets a virtio disk,
# <build>/numa/swapdisk.img, an empty ext4 made with mkfs.ext4 before every boot (sparse,
# as large as the guest's memory) and removed at the end; init loads virtio_pci,
# virtio_blk, crc32c_generic and ext4 (with their dependencies, from the modules' depends=
# fields; compressed modules are decompressed here), mounts it on /mnt/swapdisk and runs
# the Linux implementation with TMPDIR there, so its per-VM swap files can exist and its
# swap SPEC ids (SWAP-1..3, ZIP-1, SEC-2, TPS-7, INT-1) are judged. Without it (a module
# or the disk missing, --kernel without modules) the guest says why on the console, the
# harness repeats it, and the Linux run goes on with those ids not shown.
#
# Exit status: 0 the suite passed (every case ok or skipped for a reason other than lack of
# real NUMA); 1 the suite, `mmcert topology`, `mmcert qualify` or (--bench) a benchmark
# failed inside the guest; 2 bad usage;
# 3 a harness fault (missing package or root, QEMU failing, kernel not booting, guest
# hang, TAP cut short, topology differing from the request). Never 0 without a complete
# TAP stream with a plan that matches.
#
# Logs (kept): <build>/numa/console.log (serial console), tap.log (the suite's TAP),
# results.json, qemu.cmd, qemu.out; with --bench also bench.log and bench.json; with the
# Linux implementation (default when built) tap-linux.log, results-linux.json and
# mkfs.log (the swap disk's mkfs.ext4). <build> is
# ./build unless --build-dir or $NUMA_BUILD.
set -u
# Byte-wise text tools: the console log holds firmware escapes and need not be UTF-8.
export LC_ALL=C

ME=check-numa
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# Defaults (documented in --help).
nodes=4
mem_per_node=512M
cpus_per_node=
cpus=
default_cpus=2 # 2 vCPUs; with 4 nodes, nodes 2 and 3 are memory-only
distances=
cases=
bench=
bench_only=0
mode=quick
timeout_scale=
timeout_s=780
retries=1
boot_timeout_s=
accel=auto
tcg_threads=single
keep=0
linux=auto
install=1
topology_only=0
kernel=
kernel_args=
build_dir=${NUMA_BUILD:-}
cache_dir=

usage() {
  cat <<EOF
Usage: $0 [OPTION]...
Boot a multi-node Linux guest under QEMU and run mmcert inside it.

  --nodes N              NUMA nodes, 1..64 (default $nodes)
  --mem-per-node SIZE    memory of each node, with a unit: 256M, 1G (default $mem_per_node);
                         64M..64G
  --cpus N               total vCPUs, 1..255, spread over the nodes in order; with fewer
                         vCPUs than nodes the last nodes are memory-only (CPU-less), as
                         KNL MCDRAM or CXL memory (default $default_cpus: with 4 nodes,
                         nodes 0 and 1 have one vCPU each, nodes 2 and 3 none)
  --cpus-per-node N      vCPUs on each node, 1..16, instead of --cpus (1: no
                         memory-only node)
  --distances 'ROWS'     distance table: N rows separated by ';', N values per row
                         separated by ',' or spaces; 10 on the diagonal, 11..254 elsewhere;
                         may be asymmetric. Default: nodes paired like sockets, 21 within
                         a pair, 31 across, e.g. '10,21,31,31;21,10,31,31;31,31,10,21;31,31,21,10'
  --cases GLOB[,GLOB]... cases to run (one mmcert run --case per GLOB); default all
  --bench NAME[,NAME]... also run these benchmarks in the guest after the suite
                         (mmcert bench NAME...; names: mmcert bench --list); on the
                         guest's real nodes migration also measures move_pages(2);
                         the tables go to <build>/numa/bench.log; migration
                         needs --mem-per-node 1G or more
  --bench-only           run the --bench benchmarks only: no suite, no qualify
  --mode quick|full      suite mode (default $mode)
  --timeout-scale X      mmcert run --timeout-scale X, 0 < X <= 1000 (default 4 under
                         TCG, where code runs several times slower, 1 under KVM)
  --timeout SECONDS      whole guest run, boot included, 10..86400 (default $timeout_s)
  --boot-timeout SECONDS time for the kernel to reach init, 5..3600 (default 120, or
                         --timeout if that is shorter)
  --retries N            when the guest does not reach init in time, stops, or does not
                         finish (a stall), run it again up to N times, 0..5 (default
                         $retries); every stall is reported with the last case
                         finished and its logs kept
  --accel auto|kvm|tcg   auto: KVM when /dev/kvm runs a probe guest, else TCG (default)
  --tcg-threads single|multi
                         TCG runs the vCPUs on one host thread (single, default) or
                         one thread each (multi: QEMU's MTTCG, which here stalled
                         guests: both vCPUs stuck in the guest kernel)
  --kernel FILE          boot this bzImage instead of Debian's linux-image-amd64 kernel
                         (without modules: the Linux implementation gets no swap disk)
  --kernel-args 'ARGS'   more kernel command line (letters, digits, = , . _ / - and spaces)
  --build-dir DIR        where mmcert and libmmref.so are and logs go (default ./build)
  --cache-dir DIR        where the kernel is cached (default <build>/numa-cache)
  --topology-only        boot and check the topology only; do not run mmcert
  --no-linux             run only the reference; by default the suite (and --bench) also
                         runs on the Linux implementation (libmmlinux.so, when built): its
                         TAP to <build>/numa/tap-linux.log, results to results-linux.json,
                         benchmarks to bench-linux.log and bench-linux.json; its
                         certificate (NOT CERTIFIED or INCOMPLETE) is reported, not judged,
                         but a crash, a cut TAP or a missing results file fails the run;
                         its swap files go to a virtio disk with ext4 (swapdisk.img, as
                         large as the guest's memory, sparse, made for every boot)
  --no-install           never call apt-get; fail if something is missing
  --keep                 keep the initramfs tree and image under <build>/numa/
  -h, --help             this help

Exit: 0 passed, 1 a case or benchmark failed, 2 bad usage, 3 harness fault (boot, hang,
QEMU, TAP). Logs: <build>/numa/console.log, tap.log, results.json, qemu.cmd, qemu.out;
with --bench also bench.log and bench.json.
EOF
}

die_usage() {
  printf '%s: %s\n' "$ME" "$1" >&2
  printf "Try '%s --help'.\n" "$0" >&2
  exit 2
}
fault() {
  printf '%s: FAULT: %s\n' "$ME" "$*" >&2
  exit 3
}
note() { printf '%s: %s\n' "$ME" "$*"; }

# is_uint VALUE MIN MAX: a decimal integer in [MIN, MAX] (at most 9 digits, no overflow).
is_uint() {
  case $1 in '' | *[!0-9]*) return 1 ;; esac
  [ ${#1} -le 9 ] || return 1
  [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# ---------------------------------------------------------------- options
while [ $# -gt 0 ]; do
  opt=$1
  val=
  has_val=0
  case $opt in
  --*=*)
    val=${opt#*=}
    opt=${opt%%=*}
    has_val=1
    ;;
  esac
  case $opt in
  --nodes | --mem-per-node | --cpus-per-node | --cpus | --distances | --cases | --bench | --mode | --timeout-scale | \
    --timeout | --boot-timeout | --retries | --accel | --tcg-threads | --kernel | --kernel-args | --build-dir | --cache-dir)
    if [ $has_val = 0 ]; then
      [ $# -ge 2 ] || die_usage "option $opt needs a value"
      val=$2
      shift
    fi
    ;;
  --topology-only | --bench-only | --no-install | --no-linux | --keep | -h | --help)
    [ $has_val = 0 ] || die_usage "option $opt takes no value"
    ;;
  *) die_usage "unknown option '$opt'" ;;
  esac
  case $opt in
  --nodes) nodes=$val ;;
  --mem-per-node) mem_per_node=$val ;;
  --cpus-per-node) cpus_per_node=$val ;;
  --cpus) cpus=$val ;;
  --distances) distances=$val ;;
  --cases) cases=$val ;;
  --bench) bench=$val ;;
  --bench-only) bench_only=1 ;;
  --mode) mode=$val ;;
  --timeout-scale) timeout_scale=$val ;;
  --timeout) timeout_s=$val ;;
  --boot-timeout) boot_timeout_s=$val ;;
  --retries) retries=$val ;;
  --accel) accel=$val ;;
  --tcg-threads) tcg_threads=$val ;;
  --kernel) kernel=$val ;;
  --kernel-args) kernel_args=$val ;;
  --build-dir) build_dir=$val ;;
  --cache-dir) cache_dir=$val ;;
  --topology-only) topology_only=1 ;;
  --no-install) install=0 ;;
  --no-linux) linux=0 ;;
  --keep) keep=1 ;;
  -h | --help)
    usage
    exit 0
    ;;
  esac
  shift
done

is_uint "$nodes" 1 64 || die_usage "--nodes '$nodes': expected an integer from 1 to 64"

mem_mib=
case $mem_per_node in
*[!0-9KkMmGg]* | [!0-9]*) ;;
*[0-9][Mm]) is_uint "${mem_per_node%?}" 1 999999 && mem_mib=${mem_per_node%?} ;;
*[0-9][Gg]) is_uint "${mem_per_node%?}" 1 999 && mem_mib=$((${mem_per_node%?} * 1024)) ;;
esac
if [ -z "$mem_mib" ] || [ "$mem_mib" -lt 64 ] || [ "$mem_mib" -gt 65536 ]; then
  die_usage "--mem-per-node '$mem_per_node': expected a size with a unit M or G from 64M to 64G (e.g. 512M, 1G)"
fi

if [ -n "$cpus_per_node" ] && [ -n "$cpus" ]; then
  die_usage "--cpus-per-node and --cpus exclude each other: give one"
fi
if [ -n "$cpus_per_node" ]; then
  is_uint "$cpus_per_node" 1 16 || die_usage "--cpus-per-node '$cpus_per_node': expected an integer from 1 to 16"
  smp=$((nodes * cpus_per_node))
  [ "$smp" -le 255 ] || die_usage "--nodes $nodes x --cpus-per-node $cpus_per_node = $smp vCPUs: at most 255"
elif [ -n "$cpus" ]; then
  is_uint "$cpus" 1 255 || die_usage "--cpus '$cpus': expected an integer from 1 to 255"
  smp=$cpus
else
  smp=$default_cpus
fi

case $mode in quick | full) ;; *) die_usage "--mode '$mode': expected quick or full" ;; esac
if [ -n "$timeout_scale" ]; then
  case $timeout_scale in
  *[!0-9.]* | *.*.* | .* | *.) ok=0 ;;
  *) ok=$(awk -v x="$timeout_scale" 'BEGIN { print (x > 0 && x <= 1000) ? 1 : 0 }') ;;
  esac
  [ "$ok" = 1 ] || die_usage "--timeout-scale '$timeout_scale': expected a number, 0 < X <= 1000"
fi
is_uint "$timeout_s" 10 86400 || die_usage "--timeout '$timeout_s': expected seconds from 10 to 86400"
if [ -z "$boot_timeout_s" ]; then
  boot_timeout_s=120
  [ "$timeout_s" -ge 120 ] || boot_timeout_s=$timeout_s
fi
is_uint "$retries" 0 5 || die_usage "--retries '$retries': expected a whole number from 0 to 5"
is_uint "$boot_timeout_s" 5 3600 || die_usage "--boot-timeout '$boot_timeout_s': expected seconds from 5 to 3600"
[ "$boot_timeout_s" -le "$timeout_s" ] || die_usage "--boot-timeout $boot_timeout_s exceeds --timeout $timeout_s"
case $accel in auto | kvm | tcg) ;; *) die_usage "--accel '$accel': expected auto, kvm or tcg" ;; esac
case $tcg_threads in single | multi) ;; *) die_usage "--tcg-threads '$tcg_threads': expected single or multi" ;; esac

# The glob reaches the guest's shell through a config file: allow glob and id characters only.
if [ -n "$cases" ]; then
  case $cases in
  *[!A-Za-z0-9_.,:*?[\]-]*) die_usage "--cases '$cases': allowed characters are letters, digits, _ . , : - and the glob characters * ? [ ]" ;;
  esac
fi
# Names reach the guest's shell through the config file too; they are checked against
# the host's mmcert once it is found (below).
case $bench in
*[!a-z0-9_,]* | ,* | *, | *,,*) die_usage "--bench '$bench': expected benchmark names separated by commas (mmcert bench --list names them)" ;;
esac
if [ $bench_only = 1 ] && [ -z "$bench" ]; then
  die_usage "--bench-only needs --bench NAME[,NAME]...: which benchmarks to run"
fi
if [ -n "$bench" ] && [ $topology_only = 1 ]; then
  die_usage "--bench and --topology-only exclude each other: --topology-only runs no mmcert"
fi
if [ $bench_only = 1 ] && [ -n "$cases" ]; then
  die_usage "--bench-only and --cases exclude each other: --bench-only runs no suite"
fi
# The migration benchmark's VM (256 MB) and its peers' buffers of as many pages sit on
# nodes 0 and 1 at once: with 512M a node the guest's OOM killer ended it (measured).
bench_migration_mib=1024
case ",$bench," in
*,migration,*)
  [ "$mem_mib" -ge $bench_migration_mib ] ||
    die_usage "--bench migration needs --mem-per-node 1G or more (the 256 MB VM and its peers' buffers on nodes 0 and 1); $mem_per_node given"
  ;;
esac
case $kernel_args in
*[!A-Za-z0-9=,._/\ -]*) die_usage "--kernel-args '$kernel_args': allowed characters are letters, digits, = , . _ / - and spaces" ;;
esac
if [ -n "$kernel" ] && [ ! -f "$kernel" ]; then
  die_usage "--kernel '$kernel': no such file"
fi

# Distance table: validated and normalised to "src dst val" lines (off-diagonal only).
default_distances() {
  awk -v n="$1" 'BEGIN {
    for (i = 0; i < n; i++) {
      row = ""
      for (j = 0; j < n; j++) {
        d = (i == j) ? 10 : (int(i / 2) == int(j / 2) ? 21 : 31)
        row = row (j ? "," : "") d
      }
      out = out (i ? ";" : "") row
    }
    print out
  }'
}
[ -n "$distances" ] || distances=$(default_distances "$nodes")
dist_pairs=$(printf '%s\n' "$distances" | awk -v n="$nodes" '
  function bad(msg) { print "error " msg; exit 1 }
  { text = text $0 }
  END {
    sub(/;[ \t]*$/, "", text)
    nr = split(text, rows, ";")
    if (nr != n) bad("has " nr " rows; --nodes " n " needs " n)
    for (i = 1; i <= nr; i++) {
      r = rows[i]
      gsub(/^[ \t,]+|[ \t,]+$/, "", r)
      nv = split(r, v, /[ \t]*,[ \t]*|[ \t]+/)
      if (nv != n) bad("row " i - 1 " has " nv " values; expected " n)
      for (j = 1; j <= nv; j++) {
        if (v[j] !~ /^[0-9]+$/) bad("row " i - 1 " value \"" v[j] "\" is not an integer")
        x = v[j] + 0
        if (i == j && x != 10) bad("row " i - 1 ": the local distance must be 10, not " x)
        if (i != j && (x < 11 || x > 254)) bad("row " i - 1 " column " j - 1 ": remote distance " x " is outside 11..254")
        if (i != j) print i - 1, j - 1, x
      }
    }
  }')
dist_err=$(printf '%s\n' "$dist_pairs" | sed -n 's/^error //p')
[ -z "$dist_err" ] || die_usage "--distances '$distances': $dist_err"

# ---------------------------------------------------------------- environment
[ -n "$build_dir" ] || build_dir=$ROOT/build
case $build_dir in /*) ;; *) build_dir=$(pwd)/$build_dir ;; esac
work=$build_dir/numa
cache=${cache_dir:-$build_dir/numa-cache}
mmcert_bin=$build_dir/mmcert
libmmref=$build_dir/libmmref.so
libmmlinux=$build_dir/libmmlinux.so
bench_linux=0
[ "$linux" = auto ] && [ -n "$bench" ] && [ -f "$libmmlinux" ] && bench_linux=1
if [ "$linux" = auto ]; then
  linux=0
  [ $topology_only = 0 ] && [ $bench_only = 0 ] && [ -f "$libmmlinux" ] && linux=1
fi
if [ $topology_only = 0 ]; then
  [ -x "$mmcert_bin" ] || fault "$mmcert_bin is missing: run 'make' first (or use --topology-only)"
  [ -f "$libmmref" ] || fault "$libmmref is missing: run 'make' first"
fi
if [ -n "$bench" ]; then
  known=$("$mmcert_bin" bench --list 2>/dev/null | awk '{ print $1 }') ||
    fault "$mmcert_bin bench --list failed: cannot check the --bench names"
  for name in $(printf '%s\n' "$bench" | tr ',' ' '); do
    printf '%s\n' "$known" | grep -qx "$name" ||
      die_usage "--bench: unknown benchmark '$name'; built in: $(printf '%s\n' "$known" | tr '\n' ' ' | sed 's/ $//')"
  done
fi
mkdir -p "$work" "$cache" || fault "cannot create $work and $cache"
# One run per build directory: two would share the logs and the initramfs tree.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$work/.lock"
  flock -n 9 || fault "another check-numa is running with $work (lock $work/.lock)"
fi

is_static() { ! ldd "$1" >/dev/null 2>&1; }

# apt_install PKG...: install Debian packages without recommends (root only).
apt_install() {
  [ $install = 1 ] || fault "missing Debian package(s) $*; install them (--no-install given)"
  [ "$(id -u)" = 0 ] || fault "missing Debian package(s) $*: installing them needs root; run as root or 'sudo apt-get install --no-install-recommends $*'"
  note "installing $* (apt-get install --no-install-recommends)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
    >"$work/apt.log" 2>&1; then
    note "apt-get install failed; running apt-get update and retrying"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$work/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
      >>"$work/apt.log" 2>&1 || {
      tail -n 20 "$work/apt.log" >&2
      fault "apt-get install $* failed (log: $work/apt.log)"
    }
  fi
}

missing=
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
busybox=$(command -v busybox 2>/dev/null || true)
if [ -z "$busybox" ] || ! is_static "$busybox"; then
  missing="$missing busybox-static"
fi
# The Linux implementation runs in the guest (its suite or benchmarks): it then gets the
# swap disk (below), which mkfs.ext4 makes.
linux_runs=0
if [ $topology_only = 0 ] && { [ "$linux" = 1 ] || [ "$bench_linux" = 1 ]; }; then
  linux_runs=1
  command -v mkfs.ext4 >/dev/null 2>&1 || missing="$missing e2fsprogs"
fi
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing
qemu=$(command -v qemu-system-x86_64) || fault "qemu-system-x86_64 not found after installing qemu-system-x86"
busybox=$(command -v busybox) || fault "busybox not found after installing busybox-static"
is_static "$busybox" || fault "$busybox is not statically linked: install busybox-static"

# ---------------------------------------------------------------- kernel
# The guest's swap disk (the Linux implementation's swap files, see "swap disk" below)
# needs modules Debian's kernel has only as modules: virtio_pci and virtio_blk for the
# disk, ext4 for its filesystem, and crc32c_generic, ext4's and jbd2's soft dependency
# (their checksums: mount fails without a crc32c). Listed in load order; each one's own
# dependencies (its depends= field) are found and loaded before it.
swapdisk_modules="virtio_pci virtio_blk crc32c_generic ext4"
# swapdisk_why: why the guest gets no swap disk (empty: it gets one).
swapdisk_why=
mod_list=
[ $linux_runs = 1 ] || swapdisk_why="not needed: the Linux implementation does not run"

# kernel_pkg: the versioned package linux-image-amd64 depends on, from the local apt
# lists (refreshed once if they do not know it and we are root).
kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# Modules: the cache keeps, beside boot/, modules/NAME.ko (plain, whatever the package's
# compression) for the modules above and their dependencies, modules/builtin (the
# package's modules.builtin: those need no loading) and modules/wanted (the list they
# were taken for: a cache made for another list is fetched again).
# mod_deps FILE: the modules FILE needs (its depends= field).
mod_deps() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '; }
# mod_file NAME: sets mod_f to the plain module file of NAME in $mod_dir, taken first
# (when $mod_tree names an unpacked package) from the package, decompressed; empty when
# there is none (and mod_why says why).
mod_file() {
  mod_f=$mod_dir/$1.ko
  src=
  if [ ! -s "$mod_f" ] && [ -n "$mod_tree" ]; then
    src=$(awk -v n="$1" '$1 == n { print $2; exit }' "$mod_tree.index")
    case $src in
    '') ;;
    *.ko) cp "$src" "$mod_f" ;;
    *.ko.xz) xz -dc "$src" >"$mod_f" 2>/dev/null ;;
    *.ko.zst) zstd -qdc "$src" >"$mod_f" 2>/dev/null ;;
    *.ko.gz) gzip -dc "$src" >"$mod_f" 2>/dev/null ;;
    esac
  fi
  [ -s "$mod_f" ] && return 0
  rm -f "$mod_f"
  mod_f=
  if [ -n "${src:-}" ]; then
    mod_why="$mod_why; cannot decompress ${src#"$mod_tree"} (xz-utils or zstd missing?)"
  else
    mod_why="$mod_why; no module $1"
  fi
}
# mod_visit NAME: NAME's dependencies, then NAME, onto mod_list (load order); a module the
# kernel has built in needs nothing; one not found goes to mod_missing, and so does one
# whose dependency is missing (mod_why says why).
mod_visit() {
  case " $mod_seen " in *" $1 "*) return 0 ;; esac
  mod_seen="$mod_seen $1"
  grep -qx "$1" "$mod_dir/builtin" 2>/dev/null && return 0
  mod_file "$1"
  if [ -z "$mod_f" ]; then
    mod_missing="$mod_missing $1"
    return 0
  fi
  # Positional parameters are this call's own: NAME, then its dependencies.
  # shellcheck disable=SC2046 # one word per module name
  set -- "$1" $(mod_deps "$mod_f")
  for d; do [ "$d" = "$1" ] || mod_visit "$d"; done
  for d; do
    case " $mod_missing " in *" $d "*)
      mod_missing="$mod_missing $1"
      mod_why="$mod_why; $1 needs $d"
      return 0
      ;;
    esac
  done
  mod_list="$mod_list $1"
}
# mod_resolve DIR [TREE]: the load order of $swapdisk_modules from DIR (filled from the
# unpacked package TREE when given): sets mod_list, mod_missing, mod_why.
mod_resolve() {
  mod_dir=$1
  mod_tree=${2:-}
  mod_list=
  mod_missing=
  mod_why=
  mod_seen=
  for m in $swapdisk_modules; do mod_visit "$m"; done
  mod_why=${mod_why#; }
}

# fetch_kernel PKG KDIR: download PKG and keep its /boot and the swap disk's modules in
# KDIR, which is replaced only when all went well; else 1 with fetch_why saying why.
fetch_kernel() {
  note "fetching $1 (apt-get download into $cache)"
  fetch_why=
  rm -rf "$2.tmp" "$cache"/"$1"_*.deb
  if ! (cd "$cache" && apt-get download "$1" >"$work/apt-download.log" 2>&1); then
    tail -n 20 "$work/apt-download.log" >&2
    fetch_why="apt-get download $1 failed (log: $work/apt-download.log)"
    return 1
  fi
  deb=$(ls -1 "$cache"/"$1"_*.deb 2>/dev/null | head -n 1)
  [ -n "$deb" ] || { fetch_why="apt-get download $1 left no .deb in $cache"; return 1; }
  # The whole package (~400 MB unpacked) for a moment; kept: /boot and the modules.
  mkdir -p "$2.tmp/pkg" "$2.tmp/modules"
  if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$2.tmp/pkg" || ! mv "$2.tmp/pkg/boot" "$2.tmp/boot"; then
    rm -rf "$2.tmp" "$deb"
    fetch_why="cannot unpack /boot from $deb"
    return 1
  fi
  find "$2.tmp/pkg" -name 'modules.builtin' | head -n 1 | xargs -r cat | sed 's|.*/||; s/\.ko$//; s/-/_/g' \
    >"$2.tmp/modules/builtin"
  # "NAME PATH" per module file; a module's name is its file's, - and _ alike (as to the kernel).
  find "$2.tmp/pkg" -name '*.ko*' -type f | LC_ALL=C sort | awk '{
    n = $0; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); print n, $0 }' \
    >"$2.tmp/pkg.index"
  mod_resolve "$2.tmp/modules" "$2.tmp/pkg"
  printf '%s\n' "$swapdisk_modules" >"$2.tmp/modules/wanted"
  rm -rf "$2.tmp/pkg" "$2.tmp/pkg.index" "$deb"
  rm -rf "$2" && mv "$2.tmp" "$2"
}

if [ -z "$kernel" ]; then
  pkg=$(kernel_pkg)
  if [ -z "$pkg" ] && [ $install = 1 ] && [ "$(id -u)" = 0 ]; then
    note "apt does not know linux-image-amd64; running apt-get update"
    apt-get update -q >"$work/apt.log" 2>&1 || true
    pkg=$(kernel_pkg)
  fi
  if [ -z "$pkg" ]; then
    # Offline, or no apt lists: a kernel cached by an earlier run still serves.
    kernel=$(ls -1 "$cache"/linux-image-*/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
    [ -n "$kernel" ] || fault "cannot tell which kernel linux-image-amd64 depends on (apt-cache depends linux-image-amd64 found nothing) and no kernel is cached in $cache"
    kdir=$(dirname "$(dirname "$kernel")")
    note "kernel: $kernel (cached; apt could not name the current package)"
  else
    kdir=$cache/$pkg
    kernel=$(ls -1 "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
    how=cached
    # A cache from before the swap disk (boot/ only), or made for other modules: fetched
    # again when the swap disk is needed.
    if [ -z "$kernel" ] || { [ -z "$swapdisk_why" ] &&
      [ "$(cat "$kdir/modules/wanted" 2>/dev/null)" != "$swapdisk_modules" ]; }; then
      if fetch_kernel "$pkg" "$kdir"; then
        how=downloaded
      elif [ -z "$kernel" ]; then
        fault "$fetch_why"
      else # the cached kernel still boots; only the swap disk is lost
        swapdisk_why="its modules are not cached and fetching them failed: $fetch_why"
        how="cached; its modules could not be fetched"
      fi
    fi
    kernel=$(ls -1 "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
    [ -n "$kernel" ] || fault "the package $pkg holds no boot/vmlinuz-*"
    note "kernel: $kernel ($how)"
  fi
  if [ -z "$swapdisk_why" ]; then
    mod_resolve "$kdir/modules" # from the cache alone
    if [ -n "$mod_missing" ]; then
      swapdisk_why="modules missing from the kernel's cache $kdir/modules: $mod_why"
      mod_list=
    fi
  fi
elif [ -z "$swapdisk_why" ]; then
  swapdisk_why="--kernel $kernel comes without modules, and the swap disk needs $swapdisk_modules"
fi

# ---------------------------------------------------------------- initramfs
rootfs=$work/rootfs
initrd=$work/initramfs.cpio.gz
rm -rf "$rootfs" "$initrd"
mkdir -p "$rootfs"/bin "$rootfs"/sbin "$rootfs"/usr/bin "$rootfs"/usr/sbin "$rootfs"/dev \
  "$rootfs"/proc "$rootfs"/sys "$rootfs"/tmp "$rootfs"/etc "$rootfs"/root \
  "$rootfs"/opt/mmcert || fault "cannot create $rootfs"
cp "$busybox" "$rootfs"/bin/busybox || fault "cannot copy $busybox"
for applet in $("$busybox" --list-full); do
  [ -e "$rootfs/$applet" ] || [ -L "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
done

# copy_with_libs FILE DEST: FILE into the tree at DEST, and every library `ldd` lists for
# it (the dynamic loader included) at the same path as on the host.
copy_with_libs() {
  mkdir -p "$rootfs/$(dirname "$2")" && cp -L "$1" "$rootfs/$2" || fault "cannot copy $1"
  ldd_out=$(ldd "$1" 2>&1) || return 0 # static: nothing to add
  if printf '%s\n' "$ldd_out" | grep -q 'not found'; then
    printf '%s\n' "$ldd_out" >&2
    fault "$1 needs libraries ldd cannot find"
  fi
  for lib in $(printf '%s\n' "$ldd_out" | awk '
      $2 == "=>" && $3 ~ /^\// { print $3; next }
      $1 ~ /^\// { print $1 }'); do
    [ -e "$rootfs$lib" ] && continue
    mkdir -p "$rootfs$(dirname "$lib")" && cp -L "$lib" "$rootfs$lib" || fault "cannot copy $lib"
  done
}
if [ $topology_only = 0 ]; then
  copy_with_libs "$mmcert_bin" /opt/mmcert/mmcert
  copy_with_libs "$libmmref" /opt/mmcert/libmmref.so
  { [ "$linux" = 1 ] || [ "$bench_linux" = 1 ]; } && copy_with_libs "$libmmlinux" /opt/mmcert/libmmlinux.so
fi
# Optional evidence tools: another view of the guest's nodes and distances.
for tool in numactl lstopo-no-graphics; do
  path=$(command -v $tool 2>/dev/null) && copy_with_libs "$path" "/usr/bin/$tool"
done
cp "$HERE/init" "$rootfs/init" && chmod 755 "$rootfs/init" || fault "cannot install init"
# The swap disk's modules, plain, in load order (init loads them with busybox insmod).
if [ -z "$swapdisk_why" ]; then
  mkdir -p "$rootfs/lib/modules" || fault "cannot create $rootfs/lib/modules"
  for m in $mod_list; do
    cp "$kdir/modules/$m.ko" "$rootfs/lib/modules/$m.ko" || fault "cannot copy the module $m"
  done
fi

suite_args="--mode $mode"
for glob in $(printf '%s\n' "$cases" | tr ',' ' '); do
  suite_args="$suite_args --case $glob"
done
cat >"$rootfs/etc/mmcert-numa.conf" <<EOF
NUMA_TOPOLOGY_ONLY=$topology_only
NUMA_SUITE_ARGS='$suite_args'
NUMA_BENCH='$(printf '%s\n' "$bench" | tr ',' ' ')'
NUMA_BENCH_ONLY=$bench_only
NUMA_LINUX=$linux
NUMA_BENCH_LINUX=$bench_linux
NUMA_SWAPDISK_MODULES='$(printf '%s' "$mod_list" | sed 's/^ //')'
NUMA_SWAPDISK_WHY='$(printf '%s' "$swapdisk_why" | tr -d "'")'
EOF

if command -v cpio >/dev/null 2>&1; then
  cpio_cmd="cpio --quiet -o -H newc -R 0:0"
else
  cpio_cmd="$busybox cpio -o -H newc -R 0:0"
fi
(cd "$rootfs" && find . | LC_ALL=C sort | $cpio_cmd) 2>"$work/cpio.log" | gzip -1 >"$initrd" ||
  fault "cannot build $initrd (log: $work/cpio.log)"
# The pipeline's status is gzip's: make sure cpio really archived the tree.
listing=$(gzip -dc "$initrd" | "$busybox" cpio -t 2>/dev/null)
for f in init bin/busybox etc/mmcert-numa.conf; do
  printf '%s\n' "$listing" | grep -qx "$f" || fault "$initrd lacks $f (log: $work/cpio.log)"
done
if [ $topology_only = 0 ]; then
  printf '%s\n' "$listing" | grep -qx opt/mmcert/mmcert || fault "$initrd lacks opt/mmcert/mmcert"
fi
note "initramfs: $initrd ($(($(wc -c <"$initrd") / 1024)) KiB)"

# ---------------------------------------------------------------- accelerator
qpid=
swapdisk=$work/swapdisk.img # the guest's swap disk (see "swap disk" below)
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null
  fi
  rm -f "$swapdisk"
  if [ $keep = 0 ]; then rm -rf "$rootfs" "$initrd" "$work/kvm-probe.img"; fi
}
trap cleanup EXIT
trap 'exit 3' INT TERM HUP

# kvm_works: /dev/kvm is usable AND a probe guest executes code under it: a boot sector
# that writes 0x21 to isa-debug-exit makes QEMU exit with (0x21 << 1) | 1 = 67, with the
# CPU model the real boot uses. Nested KVM can open /dev/kvm yet fail to set the host
# CPU's MSRs, or run a boot sector yet hang in the kernel: the probe catches the first,
# the short KVM boot window with a TCG fallback below the second.
kvm_works() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
  img=$work/kvm-probe.img
  # mov al,0x21; out 0xf4,al; hlt; jmp $-1 ... then the 0x55 0xAA boot signature.
  {
    printf '\260\041\346\364\364\353\375'
    dd if=/dev/zero bs=1 count=503 2>/dev/null
    printf '\125\252'
  } >"$img"
  timeout 20 "$qemu" -accel kvm -cpu host -nodefaults -display none -monitor none -serial none \
    -no-reboot -drive file="$img",format=raw,if=ide,index=0 \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null >"$work/kvm-probe.out" 2>&1
  [ $? = 67 ]
}
accel_why=
case $accel in
auto)
  if kvm_works; then
    accel=kvm
    accel_why="auto: a probe guest ran under /dev/kvm"
  else
    accel=tcg
    if [ -e /dev/kvm ]; then
      accel_why="auto: /dev/kvm is present but a probe guest did not run under it"
    else
      accel_why="auto: no /dev/kvm"
    fi
    # An auto choice of KVM that then fails to boot falls back to TCG below.
  fi
  accel_auto=1
  ;;
*)
  accel_why="requested"
  accel_auto=0
  ;;
esac

# ---------------------------------------------------------------- QEMU command line
total_mib=$((nodes * mem_mib))
host_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
[ $((total_mib * 1024)) -lt "$host_kib" ] ||
  fault "the guest would need ${total_mib} MiB but this host has $((host_kib / 1024)) MiB: lower --mem-per-node or --nodes"

# CPUs in contiguous blocks, as evenly as possible, lower nodes first.
numa_args=
base=$((smp / nodes))
extra=$((smp % nodes))
next_cpu=0
i=0
while [ $i -lt "$nodes" ]; do
  n=$base
  [ $i -lt $extra ] && n=$((n + 1))
  cpu_opt=
  if [ $n -gt 0 ]; then
    cpu_opt=",cpus=$next_cpu-$((next_cpu + n - 1))"
    next_cpu=$((next_cpu + n))
  fi
  numa_args="$numa_args -object memory-backend-ram,id=m$i,size=${mem_mib}M"
  numa_args="$numa_args -numa node,nodeid=$i,memdev=m$i$cpu_opt"
  eval "want_cpus_$i=$n"
  i=$((i + 1))
done
while read -r s d v; do
  [ -n "$s" ] || continue
  numa_args="$numa_args -numa dist,src=$s,dst=$d,val=$v"
done <<EOF
$dist_pairs
EOF

# ---------------------------------------------------------------- swap disk
# The Linux implementation makes a swap file per VM at power-on (linux-impl/swap.c:
# configured - reservation bytes, allocated, in $TMPDIR unless the case names a
# directory), and the kernel takes swap files only on a disk filesystem, not on the
# initramfs's tmpfs: the guest gets a virtio disk with an empty ext4 (init mounts it and
# runs the Linux implementation with TMPDIR there). The image is made afresh for every
# boot and removed at the end. Its size is the guest's memory (a host in the guest has at
# most that, and the VMs powered on together fit in their host unless a case
# overcommits a small one): the most swap files held at once in the quick suite was
# 240 MB (2 runs, sampled every 50 ms), the SWAP-1 refusal asks for 1.5 times the free
# space whatever it is. The image is sparse and the swap files' extents are allocated
# unwritten, so the host keeps only what the guest writes: ~10 MB of ext4 metadata and
# every page swapped out during the run (nothing is discarded: 277 MB in a quick run,
# 2026-12-07; reported at the end).
# make_swapdisk: a new empty ext4 image; sets swapdisk_opt, QEMU's options for it.
make_swapdisk() {
  swapdisk_opt=
  [ -z "$swapdisk_why" ] || return 0
  rm -f "$swapdisk"
  # No lazy initialisation: the guest's kernel would zero the inode tables and journal in
  # the background, during the cases. A fixed inode count (the suite's temporary files and
  # the swap files) and a small journal keep what mkfs writes small at any size.
  { truncate -s "${total_mib}M" "$swapdisk" &&
    mkfs.ext4 -F -q -m 0 -N 16384 -J size=8 -L mmcert-swap \
      -E lazy_itable_init=0,lazy_journal_init=0 "$swapdisk"; } >"$work/mkfs.log" 2>&1 ||
    fault "cannot make the swap disk $swapdisk (log: $work/mkfs.log)"
  # cache=unsafe: the image is thrown away after the run, so the guest's flushes need not
  # reach the host's disk.
  swapdisk_opt="-drive file=$swapdisk,if=virtio,format=raw,cache=unsafe"
}

console=$work/console.log
taplog=$work/tap.log
jsonlog=$work/results.json
serial2=$work/serial2.bin # results.json, then (Linux) tap-linux.log and results-linux.json
taplinux=$work/tap-linux.log
jsonlinux=$work/results-linux.json
benchjson=$work/bench.json
serial3=$work/serial3.bin # bench.json, then (Linux) bench-linux.json
benchlinuxjson=$work/bench-linux.json

# boot ACCEL BOOT_DEADLINE_S: run the guest; sets boot_s, qemu_rc, outcome
# (done|qemu-exit|no-boot|hang).
boot() {
  rm -f "$console" "$taplog" "$jsonlog" "$serial2" "$taplinux" "$jsonlinux" "$benchjson" "$serial3" "$benchlinuxjson" "$work/qemu.out"
  boot_deadline=$2
  make_swapdisk
  cpu_model=
  accel_opt=$1
  [ "$1" = kvm ] && cpu_model="-cpu host"
  [ "$1" = tcg ] && accel_opt="tcg,thread=$tcg_threads"
  scale=$timeout_scale
  if [ -z "$scale" ]; then
    scale=4
    [ "$1" = kvm ] && scale=1
  fi
  # softlockup_panic=1: a guest CPU stuck in its kernel for 20 s panics
  # (with the stuck stack on the console) instead of idling to --timeout;
  # the panic ends QEMU (-no-reboot) and the run counts as a stall. Seen
  # under TCG: both vCPUs stuck in the kernel for mmcert during INT-1, RCU
  # starved, for the whole 600 s.
  # shellcheck disable=SC2086
  set -- "$qemu" -accel "$accel_opt" $cpu_model -m "${total_mib}M" -smp "$smp" $numa_args \
    -kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 softlockup_panic=1 quiet mmcert.timeout_scale=$scale${kernel_args:+ $kernel_args}" \
    -nographic -monitor none -nic none -no-reboot \
    -serial "file:$console" -serial "file:$taplog" -serial "file:$serial2" \
    -serial "file:$serial3" $swapdisk_opt
  printf '%s\n' "$*" >"$work/qemu.cmd"
  t0=$(date +%s.%N)
  "$@" </dev/null >"$work/qemu.out" 2>&1 &
  qpid=$!
  booted=0
  boot_s=
  outcome=
  now=0
  while :; do
    if ! kill -0 "$qpid" 2>/dev/null; then
      wait "$qpid"
      qemu_rc=$?
      qpid=
      break
    fi
    now=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $booted = 0 ] && grep -q 'MMCERT-NUMA: init ' "$console" 2>/dev/null; then
      booted=1
      boot_s=$now
    fi
    if [ $booted = 0 ] && [ "${now%.*}" -ge "$boot_deadline" ]; then
      outcome='no-boot'
      break
    fi
    if [ "${now%.*}" -ge "$timeout_s" ]; then
      outcome='hang'
      break
    fi
    sleep 0.2
  done
  if [ -n "$qpid" ]; then
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
    qpid=
    qemu_rc=killed
  fi
  run_s=$now
  # A guest may boot and finish between two looks: then only "at most" is known.
  if [ $booted = 0 ] && grep -q 'MMCERT-NUMA: init ' "$console" 2>/dev/null; then
    booted=1
    boot_s="<=$now"
  fi
  if [ -z "$outcome" ]; then
    if grep -q 'MMCERT-NUMA: poweroff' "$console" 2>/dev/null; then
      outcome='done'
    elif [ $booted = 0 ]; then
      outcome='qemu-exit-early'
    else
      outcome='qemu-exit'
    fi
  fi
}

# Drop carriage returns and the firmware's terminal escapes, so every marker starts a line.
esc=$(printf '\033')
normalize() { tr -d '\r' | sed "s/${esc}c//g; s/${esc}\[[0-9;?]*[A-Za-z]//g"; }
console_tail() {
  printf -- '--- last 30 lines of %s ---\n' "$console" >&2
  if [ -s "$console" ]; then normalize <"$console" | tail -n 30 >&2; else echo "(empty)" >&2; fi
  printf -- '--- end ---\n' >&2
}

note "guest: $nodes nodes x $mem_per_node, $smp vCPUs, distances '$distances'"
tcg_how="one host thread for all vCPUs"
[ "$tcg_threads" = multi ] && tcg_how="one host thread per vCPU (MTTCG)"
if [ "$accel" = tcg ]; then
  note "accel: $accel ($accel_why); $tcg_how"
else
  note "accel: $accel ($accel_why)"
fi
if [ "$accel" = kvm ] && [ $accel_auto = 1 ]; then
  # KVM chosen by probe: give it a short boot window, then fall back to TCG.
  kvm_boot=20
  [ "$boot_timeout_s" -lt $kvm_boot ] && kvm_boot=$boot_timeout_s
  boot kvm $kvm_boot
  if [ "$outcome" = no-boot ] || [ "$outcome" = qemu-exit-early ]; then
    note "accel: KVM did not boot the kernel within ${kvm_boot}s ($outcome); falling back to tcg, $tcg_how"
    cp "$console" "$work/console-kvm-failed.log" 2>/dev/null
    accel=tcg
    boot tcg "$boot_timeout_s"
  fi
else
  boot "$accel" "$boot_timeout_s"
fi

# ---------------------------------------------------------------- stalls
# A guest that did not reach init in time, or booted but stopped, or did not
# finish in time, is run again (--retries), never silently: the stall is
# reported with the last case the guest finished, and that attempt's logs
# are kept beside the new ones. A boot that hangs is rare but seen under TCG
# (CI, once: nothing after the firmware's "Booting from ROM" for 120 s where
# boots take 5-8 s); the same image then boots normally.
attempt=1
stalls=
while { [ "$outcome" = hang ] || [ "$outcome" = qemu-exit ] || [ "$outcome" = no-boot ]; } &&
  [ "$attempt" -le "$retries" ]; do
  last=$(grep -E '^(not )?ok [0-9]' "$taplog" 2>/dev/null | tail -n 1)
  for f in console.log tap.log serial2.bin qemu.out; do
    [ -f "$work/$f" ] && cp "$work/$f" "$work/attempt$attempt-$f"
  done
  what="stopped before powering off (QEMU status $qemu_rc)"
  [ "$outcome" = hang ] && what="did not finish within ${timeout_s}s"
  [ "$outcome" = no-boot ] && what="did not reach init within ${boot_timeout_s}s"
  note "STALL: attempt $attempt: the guest $what after '${last:-no case finished}'; logs kept as $work/attempt$attempt-*; running it again ($attempt of $retries retries)"
  stalls="${stalls}attempt $attempt $what after '${last:-no case finished}'; "
  attempt=$((attempt + 1))
  boot "$accel" "$boot_timeout_s"
done

# ---------------------------------------------------------------- faults
case $outcome in
qemu-exit-early)
  if [ ! -s "$console" ]; then
    sed 's/^/  qemu: /' "$work/qemu.out" >&2
    fault "QEMU exited (status $qemu_rc) before the guest printed anything: see $work/qemu.out, command in $work/qemu.cmd"
  fi
  console_tail
  fault "the kernel did not reach init (QEMU exited with status $qemu_rc): $console"
  ;;
no-boot)
  console_tail
  fault "the kernel did not reach init within ${boot_timeout_s}s under $accel; QEMU killed"
  ;;
hang)
  console_tail
  fault "the guest did not finish within --timeout ${timeout_s}s under $accel; QEMU killed"
  ;;
qemu-exit)
  console_tail
  fault "the guest stopped before powering off (QEMU status $qemu_rc; a panic or init death?)"
  ;;
esac

# ---------------------------------------------------------------- topology check
normalize <"$console" >"$console.txt" && mv "$console.txt" "$console"

# ttyS2 carried the reference's results, then (Linux) its TAP and results: split by the
# byte counts the guest announced, and check that every byte arrived.
sent_bytes() { sed -n "s/^MMCERT-NUMA: $1 sent bytes=\([0-9]*\).*/\1/p" "$console" | head -n 1; }
j_ref=$(sent_bytes json)
j_ltap=$(sent_bytes 'linux tap')
j_ljson=$(sent_bytes 'linux json')
s2_want=$((${j_ref:-0} + ${j_ltap:-0} + ${j_ljson:-0}))
s2_got=0
[ -f "$serial2" ] && s2_got=$(wc -c <"$serial2")
[ "$s2_got" = "$s2_want" ] ||
  fault "ttyS2: the guest sent $s2_want bytes (results ${j_ref:-0}, Linux TAP ${j_ltap:-0}, Linux results ${j_ljson:-0}), $serial2 holds $s2_got"
head -c "${j_ref:-0}" "$serial2" >"$jsonlog"
# ttyS3 the same way: the benchmarks' results, then the Linux implementation's.
b_ref=$(sent_bytes 'bench json')
b_lin=$(sent_bytes 'bench-linux json')
s3_got=0
[ -f "$serial3" ] && s3_got=$(wc -c <"$serial3")
[ "$s3_got" = $((${b_ref:-0} + ${b_lin:-0})) ] ||
  fault "ttyS3: the guest sent $((${b_ref:-0} + ${b_lin:-0})) bytes (bench ${b_ref:-0}, Linux bench ${b_lin:-0}), $serial3 holds $s3_got"
head -c "${b_ref:-0}" "$serial3" >"$benchjson"
tail -c +$((${b_ref:-0} + 1)) "$serial3" >"$benchlinuxjson"
[ -s "$benchjson" ] || rm -f "$benchjson"
[ -s "$benchlinuxjson" ] || rm -f "$benchlinuxjson"
tail -c +$((${j_ref:-0} + 1)) "$serial2" | head -c "${j_ltap:-0}" >"$taplinux"
tail -c +$((${j_ref:-0} + ${j_ltap:-0} + 1)) "$serial2" >"$jsonlinux"
[ -s "$jsonlinux" ] || rm -f "$jsonlinux"
[ -n "$j_ltap" ] || rm -f "$taplinux"
echo "--- guest topology (from $console) ---"
sed -n 's/^MMCERT-NUMA: fact //p' "$console"
topo_bad=
seen_nodes=$(sed -n 's/^MMCERT-NUMA: fact nodes=\([0-9]*\).*/\1/p' "$console")
[ "$seen_nodes" = "$nodes" ] || topo_bad="the guest sees ${seen_nodes:-no} nodes, $nodes requested"
i=0
rows=$(printf '%s\n' "$distances" | tr ';' '\n')
while [ $i -lt "$nodes" ]; do
  line=$(grep "^MMCERT-NUMA: fact node=$i " "$console")
  want_row=$(printf '%s\n' "$rows" | sed -n "$((i + 1))p" | tr ',\t' '  ' | tr -s ' ' | sed 's/^ //;s/ $//')
  got_row=${line##*distance=}
  mem_kb=$(printf '%s\n' "$line" | sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p')
  got_cpus=$(printf '%s\n' "$line" | sed -n 's/.* cpus=\([^ ]*\) .*/\1/p')
  want_n=
  eval "want_n=\$want_cpus_$i"
  if [ -z "$line" ]; then
    topo_bad="$topo_bad${topo_bad:+; }node $i is missing"
  else
    [ "$got_row" = "$want_row" ] ||
      topo_bad="$topo_bad${topo_bad:+; }node $i distances '$got_row', requested '$want_row'"
    [ "${mem_kb:-0}" -gt 0 ] || topo_bad="$topo_bad${topo_bad:+; }node $i has no memory"
    if [ "$want_n" = 0 ]; then
      [ "$got_cpus" = - ] || topo_bad="$topo_bad${topo_bad:+; }node $i has CPUs $got_cpus, none requested"
    else
      [ "$got_cpus" != - ] || topo_bad="$topo_bad${topo_bad:+; }node $i has no CPUs, $want_n requested"
    fi
  fi
  i=$((i + 1))
done
[ -z "$topo_bad" ] || fault "guest topology differs from the request: $topo_bad"
note "guest topology matches: $nodes real nodes with the requested distances"

uptime_at() { sed -n "s/^MMCERT-NUMA: $1.*uptime=\([0-9.]*\).*/\1/p" "$console" | head -n 1; }
guest_init=$(uptime_at init)
note "boot: init reached ${boot_s}s after QEMU started (guest uptime ${guest_init}s) under $accel"

if [ $topology_only = 1 ]; then
  note "PASS (topology only): console log $console"
  exit 0
fi

# ---------------------------------------------------------------- verdict
echo "--- mmcert topology (guest) ---"
sed -n '/^MMCERT-NUMA: topology begin/,/^MMCERT-NUMA: topology end/p' "$console" |
  sed '1d;$d'
topo_rc=$(sed -n 's/^MMCERT-NUMA: topology end rc=\([0-9]*\).*/\1/p' "$console")
verdict=0
if [ $bench_only = 0 ]; then
  suite_rc=$(sed -n 's/^MMCERT-NUMA: suite end rc=\([0-9a-z]*\).*/\1/p' "$console")
  [ -n "$suite_rc" ] || { console_tail; fault "no 'suite end' marker on the console: the suite did not finish"; }
  t_begin=$(uptime_at 'suite begin')
  t_end=$(uptime_at 'suite end')
  suite_s=$(awk -v a="$t_begin" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')

  # The JSON crossed a serial port whole (checked with the ttyS2 split above).
  [ -n "$j_ref" ] || note "the guest wrote no results JSON"

  echo "--- TAP (from $taplog) ---"
  cat "$taplog"
  summary=$(awk -f "$HERE/tap-summary.awk" "$taplog")
  get() { printf '%s\n' "$summary" | sed -n "s/^$1=//p"; }
  plan=$(get plan)
  seen=$(get seen)
  echo "--- summary ---"
  note "suite: $(get pass) passed, $(get fail) failed, $(get skip) skipped, $(get todo) todo of $seen (plan $plan); exit status $suite_rc; ${suite_s}s inside the guest"
  note "times: boot ${boot_s}s (to init), suite ${suite_s}s (guest clock), whole run ${run_s}s, accel $accel"
  note "logs: $console, $taplog, $jsonlog"

  # mmcert run answers with its certificate: 0 CERTIFIED, 1 NOT CERTIFIED,
  # 4 INCOMPLETE (nothing failed, some SPEC ids not shown).
  case $suite_rc in
  0 | 1 | 4) ;;
  *)
    console_tail
    fault "mmcert run exited with status $suite_rc inside the guest (2 = bad usage or input, above 128 = killed by a signal, e.g. 137 by the OOM killer)"
    ;;
  esac
  # On real nodes the whole suite must certify the reference: an id left
  # "not shown" here is one the guest was built to show.
  if [ "$suite_rc" = 4 ] && [ -z "$cases" ]; then
    grep '^# not shown' "$taplog" | sed 's/^/  /'
    note "FAIL: the certificate is INCOMPLETE on $nodes real nodes (SPEC ids not shown above)"
    verdict=1
  fi
  [ "$(get bail)" = 0 ] || fault "the suite bailed out (TAP 'Bail out!')"
  [ "$plan" != none ] || fault "the TAP has no plan line: the stream was cut short ($seen tests seen)"
  [ "$plan" = "$seen" ] || fault "TAP plan 1..$plan but $seen tests seen: the stream stopped early or lost lines"
  [ "$(get numbering)" = ok ] || fault "TAP test numbers are not 1..$seen in order: lines were lost"
  [ "$plan" -gt 0 ] || fault "the suite ran no cases (plan 1..0)"

  if [ "$(get fail)" -gt 0 ]; then
    get failed | sed 's/^/  /'
    note "FAIL: $(get fail) case(s) failed"
    verdict=1
  fi
  # Inside this guest the nodes are real: a case skipped for lack of real NUMA nodes it does
  # not need more of than the guest has ("needs K real NUMA nodes", K <= nodes) is a bug.
  if [ "$nodes" -ge 2 ]; then
    numa_skips=$(get skipped | awk -v n="$nodes" '
      match($0, /needs [0-9]+ real NUMA/) {
        k = substr($0, RSTART + 6, RLENGTH - 16) + 0
        if (k <= n) print
        next
      }
      /real NUMA/ { print }')
    if [ -n "$numa_skips" ]; then
      printf '%s\n' "$numa_skips" | sed 's/^/  /'
      note "FAIL: case(s) skipped for lack of real NUMA on a guest with $nodes real nodes"
      verdict=1
    fi
  fi
  if [ "$suite_rc" = 0 ] && [ $verdict = 1 ]; then
    note "FAIL: mmcert run exited 0 although the TAP shows failures"
  fi
  if [ "$suite_rc" = 1 ] && [ "$(get fail)" = 0 ]; then
    note "FAIL: mmcert run exited 1 although every top-level test is ok (see $console)"
    verdict=1
  fi
  # mmcert qualify ran on the guest's real nodes: it must finish (0, or 1 when
  # TCG's flat latencies fail the ordering checks, which it reports), see every
  # node, and say the machine is virtual.
  qual_rc=$(sed -n 's/^MMCERT-NUMA: qualify end rc=\([0-9]*\).*/\1/p' "$console")
  qual_nodes=$(sed -n 's/^NUMA nodes: \([0-9]*\).*/\1/p' "$console" | head -n 1)
  case ${qual_rc:-none} in
  0 | 1)
    if [ "${qual_nodes:-0}" != "$nodes" ]; then
      note "FAIL: mmcert qualify saw ${qual_nodes:-no} NUMA nodes, the guest has $nodes"
      verdict=1
    elif ! grep -q '^machine: VIRTUAL' "$console"; then
      note "FAIL: mmcert qualify did not say the machine is virtual"
      verdict=1
    else
      note "qualify: ${qual_nodes}x${qual_nodes} matrices measured on the guest's real nodes, exit $qual_rc (virtual machine detected)"
    fi
    ;;
  *)
    note "FAIL: mmcert qualify exited with status ${qual_rc:-none} inside the guest"
    verdict=1
    ;;
  esac
fi

# ---------------------------------------------------------------- swap disk (report)
# Reported, never judged: without the disk the Linux implementation's swap ids are not
# shown (its certificate says why), which is no fault of the harness.
if [ $linux_runs = 1 ]; then
  sd=$(sed -n 's/^MMCERT-NUMA: swapdisk \(ready\|MISSING\)/\1/p' "$console" | head -n 1)
  written=
  [ -f "$swapdisk" ] && written="; $(du -k "$swapdisk" | cut -f1) KiB of its ${total_mib} MiB image written on the host"
  case $sd in
  ready*) note "swap disk: ${sd#ready }$written" ;;
  MISSING*) note "swap disk ${sd}" ;;
  *) note "swap disk: the guest said nothing of it (see $console)" ;;
  esac
  sed -n 's/^MMCERT-NUMA: swapdisk after \(.*\)/swap disk after \1/p' "$console" |
    while read -r line; do note "$line"; done
fi

# ---------------------------------------------------------------- the Linux implementation
# Its certificate is the finding (Linux lacks most of ESXi's policies: NOT CERTIFIED or
# INCOMPLETE is expected and reported); what fails the run is a harness-level fault of
# that run: an exit status other than 0, 1 or 4, a TAP cut short, no results file.
if [ "$linux" = 1 ]; then
  linux_rc=$(sed -n 's/^MMCERT-NUMA: linux end rc=\([0-9]*\).*/\1/p' "$console")
  echo "--- Linux implementation: TAP (from $taplinux) ---"
  [ -f "$taplinux" ] && grep -v '^    ' "$taplinux"
  if [ -z "$linux_rc" ]; then
    note "FAIL: no 'linux end' marker on the console: the Linux implementation's run did not finish"
    verdict=1
  else
    lsum=$(awk -f "$HERE/tap-summary.awk" "$taplinux" 2>/dev/null)
    lget() { printf '%s\n' "$lsum" | sed -n "s/^$1=//p"; }
    lverdict=$(sed -n 's/^# verdict: //p' "$taplinux" | tail -n 1)
    lbroken=$(grep -c '^# BROKEN' "$taplinux")
    note "linux: $(lget pass) passed, $(lget fail) failed ($lbroken broken), $(lget skip) skipped of $(lget seen) (plan $(lget plan)); exit status $linux_rc; certificate: ${lverdict:-none}"
    [ "$lbroken" = 0 ] || grep -B1 '^# BROKEN' "$taplinux" | grep -v '^--' | sed 's/^/  /'
    case $linux_rc in
    0 | 1 | 4) ;;
    *)
      note "FAIL: mmcert run --impl libmmlinux.so exited with status $linux_rc inside the guest (2 = bad usage or input, above 128 = killed by a signal)"
      verdict=1
      ;;
    esac
    if [ "$(lget plan)" = none ] || [ "$(lget plan)" != "$(lget seen)" ] || [ "$(lget numbering)" != ok ]; then
      note "FAIL: the Linux implementation's TAP was cut short (plan $(lget plan), $(lget seen) tests seen)"
      verdict=1
    fi
    if [ ! -s "$jsonlinux" ]; then
      note "FAIL: the Linux implementation's run wrote no results file"
      verdict=1
    else
      note "logs: $taplinux, $jsonlinux (mmcert report --matrix $jsonlog $jsonlinux)"
    fi
  fi
fi

# ---------------------------------------------------------------- benchmarks
# check-numa --bench: the tables are printed and kept; a benchmark that could
# not measure fails the run (mmcert bench exits 1), a missed target does not
# (the figures are an emulator's). On real nodes the migration table must
# hold its move_pages(2) row: that peer is measured nowhere else.
if [ -n "$bench" ]; then
  benchlog=$work/bench.log
  sed -n '/^MMCERT-NUMA: bench begin/,/^MMCERT-NUMA: bench end/p' "$console" | sed '1d;$d' >"$benchlog"
  bench_rc=$(sed -n 's/^MMCERT-NUMA: bench end rc=\([0-9]*\).*/\1/p' "$console")
  echo "--- benchmarks (guest; $benchlog) ---"
  cat "$benchlog"
  [ -n "$bench_rc" ] || { console_tail; fault "no 'bench end' marker on the console: the benchmarks did not finish"; }
  t_begin=$(uptime_at 'bench begin')
  t_end=$(uptime_at 'bench end')
  bjson_sent=$(sed -n 's/^MMCERT-NUMA: bench json sent bytes=\([0-9]*\).*/\1/p' "$console")
  bjson_note="; the guest wrote no results file"
  [ -n "$bjson_sent" ] && bjson_note="; results file $benchjson (mmcert results import)"
  note "benchmarks: $bench, exit status $bench_rc, $(awk -v a="$t_begin" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')s inside the guest$bjson_note"
  [ $bench_only = 1 ] && note "times: boot ${boot_s}s (to init), whole run ${run_s}s, accel $accel"
  if [ "$bench_rc" != 0 ]; then
    note "FAIL: mmcert bench exited with status $bench_rc inside the guest (1: a benchmark could not measure; above 128: killed by a signal, e.g. 137 by the OOM killer: more --mem-per-node; see $benchlog)"
    verdict=1
  fi
  for name in $(printf '%s\n' "$bench" | tr ',' ' '); do
    if ! grep -q "^== $name: " "$benchlog"; then
      note "FAIL: benchmark $name printed no table"
      verdict=1
    fi
  done
  case ",$bench," in
  *,migration,*)
    # bu_row: figure, value, unit, peer (its words), value, ratio[, target]:
    # with no target the last two fields are the peer's value and the ratio.
    mp=$(grep -E '^  migration throughput +[0-9.]+ pages/s +move_pages\(2\), vCPUs running +[0-9.]+ ' "$benchlog")
    mp_cpu=$(grep -E '^  migration per CPU-second of engine +[0-9.]+ pages/s +move_pages\(2\), per CPU-second ' "$benchlog")
    if [ "$nodes" -ge 2 ] && [ -z "$mp" ]; then
      why=$(grep -m 1 'move_pages(2) peer.*not measured' "$benchlog" | sed 's/^ *//')
      note "FAIL: the migration benchmark measured no move_pages(2) peer on $nodes real nodes${why:+: $why}"
      verdict=1
    elif [ -n "$mp" ]; then
      note "migration beside the kernel's move_pages(2), vCPUs running: $(printf '%s\n' "$mp" | awk '{ printf "%s pages/s against %s, ratio %s", $3, $(NF - 1), $NF }')${mp_cpu:+; per CPU-second: }$(printf '%s\n' "$mp_cpu" | awk 'NF { printf "%s against %s, ratio %s", $6, $(NF - 1), $NF }')"
    fi
    ;;
  esac
fi
# The Linux implementation's benchmarks: tables kept and printed; a benchmark it has no
# mechanism for says so and exits 1 (reported); a crash fails the run, and so does a
# migration benchmark on real nodes without its row beside move_pages(2) (the kernel's
# migration of a changed binding: what the guest is there to measure).
if [ "$bench_linux" = 1 ]; then
  blog=$work/bench-linux.log
  sed -n '/^MMCERT-NUMA: bench-linux begin/,/^MMCERT-NUMA: bench-linux end/p' "$console" | sed '1d;$d' >"$blog"
  blrc=$(sed -n 's/^MMCERT-NUMA: bench-linux end rc=\([0-9]*\).*/\1/p' "$console")
  echo "--- benchmarks of the Linux implementation (guest; $blog) ---"
  cat "$blog"
  if [ -z "$blrc" ]; then
    note "FAIL: no 'bench-linux end' marker: the Linux implementation's benchmarks did not finish"
    verdict=1
  else
    bl_s=$(awk -v a="$(uptime_at 'bench-linux begin')" -v b="$(uptime_at 'bench-linux end')" 'BEGIN { printf "%.1f", b - a }')
    note "Linux benchmarks: $bench, exit status $blrc, ${bl_s}s inside the guest${b_lin:+; results file $benchlinuxjson}"
    [ "$blrc" -le 1 ] || { note "FAIL: mmcert bench --impl libmmlinux.so exited with status $blrc (above 128: killed by a signal)"; verdict=1; }
    lmp=$(grep -E '^  migration throughput +[0-9.]+ pages/s +move_pages\(2\), vCPUs running +[0-9.]+ ' "$blog")
    [ -z "$lmp" ] || note "Linux migration beside move_pages(2), vCPUs running: $(printf '%s\n' "$lmp" | awk '{ printf "%s pages/s against %s, ratio %s", $3, $(NF - 1), $NF }')"
    # Under TCG on one host thread each page the kernel migrates of a VM
    # whose vCPU threads run cost ~4 ms of CPU; the same guest under MTTCG
    # moved them 100 times faster (doc/migration.md).
    [ -n "$lmp" ] && [ "$accel" = tcg ] && [ "$tcg_threads" = single ] &&
      note "  (TCG on one host thread: there the emulator itself slows the kernel's migration of a VM whose vCPUs run, so this figure measures QEMU more than Linux; --tcg-threads multi measures it without that: doc/migration.md)"
    case ",$bench," in
    *,migration,*)
      if [ "$nodes" -ge 2 ] && [ -z "$lmp" ]; then
        why=$(grep -m 1 -E 'mmcert bench migration: |move_pages\(2\) peer.*not measured' "$blog" | sed 's/^ *//')
        note "FAIL: the Linux implementation's migration benchmark measured nothing beside move_pages(2) on $nodes real nodes${why:+: $why}"
        verdict=1
      fi
      ;;
    esac
  fi
fi
if [ "${topo_rc:-none}" != 0 ]; then
  note "FAIL: mmcert topology exited with status ${topo_rc:-none} inside the guest"
  verdict=1
fi
[ $verdict = 0 ] && [ -n "$stalls" ] && note "STALL before this run (see above): $stalls"
[ $verdict = 0 ] && note "PASS${stalls:+ (after a stalled attempt: see the STALL notes)}"
exit $verdict
