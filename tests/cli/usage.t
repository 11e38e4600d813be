# usage.t — command line: help, version, list, unknown commands and options
# exit 2 with a message naming what was wrong.
. "$(dirname "$0")/lib.sh"

run "$MMCERT" help
check "help exits 0" status_is 0
check "help lists the run options" out_has "--timeout-scale"
run "$MMCERT" --help
check "--help exits 0" status_is 0
run "$MMCERT" --version
check "--version exits 0 and prints the version" out_has "^mmcert [0-9]"
run "$MMCERT"
check "no command: exit 2" status_is 2
check "no command: says what is expected" err_has "missing command"
run "$MMCERT" frobnicate
check "unknown command: exit 2" status_is 2
check "unknown command: named" err_has "unknown command 'frobnicate'"
run "$MMCERT" run --bogus
check "unknown option: exit 2" status_is 2
check "unknown option: named" err_has "unknown option '--bogus'"
check "unknown option: nothing on stdout" out_empty
run "$MMCERT" run --impl
check "missing option value: exit 2" status_is 2
check "missing option value: named" err_has "'--impl' needs a value"
run "$MMCERT" run extra-arg
check "stray argument: exit 2" status_is 2
run "$MMCERT" list
check "list exits 0" status_is 0
check "list shows SET-1 with its SPEC id and title" out_has "^SET-1 *SET-1 .* every documented setting"
run "$MMCERT" list extra
check "list with an argument: exit 2" status_is 2
run "$MMCERT" bench no-such-bench
check "bench with an unknown name: exit 2" status_is 2
check "bench names what is built" err_has "unknown benchmark 'no-such-bench'; built in: access placement"
run "$MMCERT" bench --list
check "bench --list exits 0" status_is 0
check "bench --list: a name and a title a line" out_has "^migration  *unthrottled page migration"
check "bench --list: every benchmark" out_has "^sharing "
run "$MMCERT" bench --list migration
check "bench --list with a name: exit 2" status_is 2
check "bench --list with a name: says why" err_has "--list runs no benchmark: give it no names ('migration' given)"
run "$MMCERT" bench --repeat 0
check "bench --repeat 0: exit 2" status_is 2
run "$MMCERT" topology --topology builtin:4
check "topology builtin:4 exits 0" status_is 0
check "topology prints 4 nodes" out_has "4"
run "$MMCERT" topology --topology /no/such/file.xml
check "topology of a missing file: exit 2" status_is 2
check "topology of a missing file: names it" err_has "/no/such/file.xml"
done_testing
