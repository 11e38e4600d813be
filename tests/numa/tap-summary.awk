# tap-summary.awk — summarise the top-level TAP of `mmcert run` as read back from a
# serial port (`make check-numa`).
#
# Input: the TAP stream (TAP version 13, KTAP-indented subtests, which are ignored here:
# only column-0 lines count). Output: key=value lines on stdout for check-numa.sh:
#   plan=N|none  seen=N  pass=N  fail=N  skip=N  todo=N  bail=0|1  numbering=ok|bad
#   failed=<test line>           (one per top-level failure)
#   skipped=<test line>          (one per top-level SKIP)
# Invariants: a carriage return left by a tty is not part of a line; a test that is
# "not ok" with a TODO directive does not count as a failure; the plan may come first
# or last; test numbers must run 1, 2, 3, ... (a gap means lost lines).
{
  sub(/\r+$/, "")
}
/^1\.\.[0-9]+/ {
  plan = $0
  sub(/^1\.\./, "", plan)
  sub(/[^0-9].*$/, "", plan)
  have_plan = 1
  next
}
/^Bail out!/ {
  bail = 1
  next
}
/^(not )?ok([ \t]|$)/ {
  seen++
  line = $0
  notok = (line ~ /^not ok/)
  rest = line
  sub(/^(not )?ok[ \t]*/, "", rest)
  num = rest
  sub(/[^0-9].*$/, "", num)
  if (num != "" && num + 0 != seen)
    badnum = 1
  directive = ""
  if (match(rest, /#[ \t]*[Ss][Kk][Ii][Pp]/))
    directive = "skip"
  else if (match(rest, /#[ \t]*[Tt][Oo][Dd][Oo]/))
    directive = "todo"
  if (directive == "skip") {
    skip++
    skipped[skip] = line
  } else if (directive == "todo") {
    todo++
  } else if (notok) {
    fail++
    failed[fail] = line
  } else {
    pass++
  }
}
END {
  print "plan=" (have_plan ? plan : "none")
  print "seen=" seen + 0
  print "pass=" pass + 0
  print "fail=" fail + 0
  print "skip=" skip + 0
  print "todo=" todo + 0
  print "bail=" bail + 0
  print "numbering=" (badnum ? "bad" : "ok")
  for (i = 1; i <= fail; i++)
    print "failed=" failed[i]
  for (i = 1; i <= skip; i++)
    print "skipped=" skipped[i]
}
