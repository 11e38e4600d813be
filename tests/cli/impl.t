# impl.t — --impl refuses what it cannot call (bad input): a
# missing path, a file that is no shared object, a shared object without the
# contract symbol, another ABI, a NULL required function. Exit 2, a message.
. "$(dirname "$0")/lib.sh"

run "$MMCERT" run --impl "$T/missing.so"
check "missing --impl: exit 2" status_is 2
check "missing --impl: names the path" err_has "$T/missing.so"
check "missing --impl: no TAP on stdout" out_empty

echo "not an ELF file" >"$T/text.so"
run "$MMCERT" run --impl "$T/text.so"
check "not a shared object: exit 2" status_is 2
check "not a shared object: says so with the loader's reason" err_has "not a loadable shared object: .*text.so: "

run "$MMCERT" run --impl "$IMPLS/no_symbol.so"
check "no contract symbol: exit 2" status_is 2
check "no contract symbol: names mmcert_impl" err_has "does not export the contract symbol 'mmcert_impl'"

run "$MMCERT" run --impl "$IMPLS/wrong_abi.so"
check "wrong ABI: exit 2" status_is 2
check "wrong ABI: names both versions" err_has "built for ABI 3, this mmcert speaks ABI 2"

run "$MMCERT" run --impl "$IMPLS/small_struct.so"
check "struct_size too small: exit 2" status_is 2
check "struct_size too small: both sizes named" err_has "table is 64 bytes, this mmcert needs at least [0-9]*"

run "$MMCERT" run --impl "$IMPLS/null_fn.so"
check "NULL required function: exit 2" status_is 2
check "NULL required function: named" err_has "setting_info is NULL"
done_testing
