# configure.t — what configure says about make fuzz's compiler, in a
# scratch directory (configure writes config.mk where it runs). A clang
# without libFuzzer's runtime (Debian leaves libclang-rt-N-dev out when
# Recommends are not installed; a wrapper pointing clang at an empty
# resource directory stands for it) is named with the package to install;
# a compiler that is not clang is refused without a package guess; and
# `make fuzz` without a fuzz compiler stops at once with exit 2 naming the
# packages.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$T" || exit 1

skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

if command -v clang >/dev/null 2>&1; then
	mkdir -p "$T/empty-resources"
	printf '#!/bin/sh\nexec clang -resource-dir=%s "$@"\n' "$T/empty-resources" >"$T/bare-clang"
	chmod +x "$T/bare-clang"
	major=$(clang -dumpversion | cut -d. -f1)
	run env FUZZ_CC="$T/bare-clang" "$ROOT/configure"
	check "clang without libFuzzer's runtime: configure still succeeds" status_is 0
	check "clang without libFuzzer's runtime: the package named" \
		out_has "^checking for libFuzzer (make fuzz)\.\.\. *no (make fuzz unavailable: .*bare-clang cannot link -fsanitize=fuzzer,address,undefined (libFuzzer's runtime missing: package libclang-rt-$major-dev))$"
	check "clang without libFuzzer's runtime: FUZZ_CC empty in config.mk" grep -qx 'FUZZ_CC = ' "$T/config.mk"
else
	for d in 1 2 3; do skip "no clang"; done
fi
run env FUZZ_CC=gcc "$ROOT/configure"
check "gcc as FUZZ_CC: refused, no package guessed" \
	out_has "^checking for libFuzzer (make fuzz)\.\.\. *no (make fuzz unavailable: gcc cannot link -fsanitize=fuzzer,address,undefined)$"
run make -s -C "$ROOT" fuzz FUZZ_CC=
check "make fuzz without a fuzz compiler: exit 2, the packages named" \
	sh -c "[ $rc -eq 2 ] && grep -q 'no clang that links -fsanitize=fuzzer (Debian: clang and libclang-rt-14-dev' '$T/err'"
done_testing
