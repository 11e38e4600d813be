# kill-matrix.t — the suite's power, tested: every broken twin of the
# reference (reference-impl/twin.h) runs through the cases that name its
# SPEC id and must be failed by one of that id's checks; every SPEC id has a
# twin; doc/kill-matrix.md lists the twins as twin-list does; libmmref.so
# holds nothing of the twin build. tests/twins/kill-matrix.pl does it all and
# prints the TAP (two twins at a time: KILL_MATRIX_JOBS to change it).
SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${MMCERT:?set MMCERT to the mmcert binary}"
: "${MMCERT_BUILD:=$(dirname "$MMCERT")}"
exec perl "$SRC/tests/twins/kill-matrix.pl" --mmcert "$MMCERT" --twins "$MMCERT_BUILD/tests/twins" \
	--spec "$SRC/doc/spec.md" --check-doc "$SRC/doc/kill-matrix.md" \
	--lib "$MMCERT_BUILD/libmmref.so" --jobs "${KILL_MATRIX_JOBS:-2}"
