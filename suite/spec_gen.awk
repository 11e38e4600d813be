# spec_gen.awk — doc/spec.md → the C tables of suite/spec.h (suite_spec[],
# suite_spec_settings[]). Run by the Makefile:
#
#     awk -f suite/spec_gen.awk doc/spec.md > build/gen/spec_table.c
#
# doc/spec.md is the one hand-written copy of the specification; this turns
# it into data, so `mmcert explain` and the certificate never disagree with
# the document. What it reads (doc/spec.md's opening says the same for
# writers):
#   - "## Advanced settings": table rows | `Name` | esxi-6.7 | osdi02 | min |
#     max | unit | meaning | source |   ("—" as max: no documented maximum);
#   - "## Per-VM options": table rows | `name` | default | meaning | source |;
#   - every "### ID · title" heading opens an entry of the area named by the
#     "## " heading above it; its fields are list items "- **Statement.** …",
#     Source, Settings, Cases, Checks (all five required) and Gaps (optional),
#     continued on lines indented by two spaces; Checks holds one "  - …"
#     item per check.
# It refuses (message naming doc/spec.md:LINE, exit 1, no output used) a
# malformed id, a duplicate, a missing field, a setting or option name that
# no table defines, and a default written in an entry's Settings field that
# differs from the tables: the defaults are typed once.
#
# POSIX awk (Debian's mawk): no gawk extensions.

function fail(msg) {
  printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
  failed = 1
  exit 1
}

function trim(s) {
  sub(/^[ \t]+/, "", s)
  sub(/[ \t]+$/, "", s)
  return s
}

function plain(s) {
  gsub(/`/, "", s)
  return s
}

function cstr(s) {
  gsub(/\\/, "\\\\", s)
  gsub(/"/, "\\\"", s)
  gsub(/\n/, "\\n", s)
  return "\"" s "\""
}

# Numbers of the settings table: an integer, or "—" (no maximum) → INT64_MAX.
function cint(s, what) {
  if (s == "—" || s == "-")
    return "INT64_MAX"
  if (s !~ /^-?[0-9]+$/)
    fail("settings table: " what " '" s "' is not an integer")
  return s "LL"
}

function table_row(line, cells,    n, i) {
  n = split(line, cells, "|")
  for (i = 1; i <= n; i++)
    cells[i] = trim(cells[i])
  return n
}

# A setting-like name used in an entry must be defined by a table. Names of
# an implementation's own tunables (Ref.*) are not the spec's.
function known(name) {
  return (name in set_default) || (name in opt_default)
}

function looks_like_setting(name) {
  return name ~ /^(Numa|Mem)\.[A-Za-z]+$/ || name ~ /^sched\.mem\./ || name ~ /^numa\.[a-z]/
}

# Every `Name` in a field: known if it looks like a setting; in Settings, a
# "(…)" right after it must start with the tables' default.
function check_names(text, field,    rest, name, after, want, got, i) {
  rest = text
  while (match(rest, /`[^`]+`/)) {
    name = substr(rest, RSTART + 1, RLENGTH - 2)
    rest = substr(rest, RSTART + RLENGTH)
    if (!looks_like_setting(name))
      continue
    if (!known(name))
      fail(cur_id ": " field " names " name ", which neither settings table defines")
    if (field != "Settings" || substr(rest, 1, 2) != " (")
      continue
    after = substr(rest, 3)
    want = (name in set_default) ? set_default[name] : opt_default[name]
    got = substr(after, 1, length(want))
    i = substr(after, length(want) + 1, 1)
    if (got != want || (i != ")" && i != ";" && i != "," && i != " "))
      fail(cur_id ": Settings gives " name " as '" substr(after, 1, index(after, ")") - 1) \
           "'; the settings table says its default is '" want "'")
  }
}

function flush_field() {
  if (field == "")
    return
  if (field in entry)
    fail(cur_id ": field " field " given twice")
  entry[field] = field_text
  field = ""
}

function flush_entry(    f, i) {
  flush_field()
  if (cur_id == "")
    return
  for (i = 1; i <= nfields; i++) {
    f = fields[i]
    if (!(f in entry) || entry[f] == "")
      fail(cur_id ": the entry has no " f " field (each entry needs Statement, Source, " \
           "Settings, Cases and Checks)")
  }
  check_names(entry["Statement"], "Statement")
  check_names(entry["Settings"], "Settings")
  check_names(entry["Gaps"], "Gaps")
  if (entry["Cases"] !~ /^[A-Za-z0-9-]+(, [A-Za-z0-9-]+)*$/)
    fail(cur_id ": Cases must be case ids separated by ', ', not '" entry["Cases"] "'")
  n_out++
  out[n_out] = sprintf("    {.id = %s,\n     .area = %s,\n     .statement = %s,\n" \
                       "     .source = %s,\n     .settings = %s,\n     .title = %s,\n" \
                       "     .cases = %s,\n     .checks = %s,\n     .gaps = %s},",
                       cstr(cur_id), cstr(cur_area), cstr(plain(entry["Statement"])),
                       cstr(plain(entry["Source"])), cstr(plain(entry["Settings"])),
                       cstr(plain(cur_title)), cstr(entry["Cases"]), cstr(plain(entry["Checks"])),
                       cstr(plain(entry["Gaps"])))
  for (f in entry)
    delete entry[f]
  cur_id = ""
}

BEGIN {
  nfields = split("Statement Source Settings Cases Checks", fields, " ")
  n_out = 0
  n_set = 0
}

/^## / {
  flush_entry()
  section = trim(substr($0, 4))
  next
}

/^### / {
  flush_entry()
  head = trim(substr($0, 5))
  cur_id = head
  sub(/[ \t].*$/, "", cur_id)
  cur_title = ""
  if (index(head, " · "))
    cur_title = trim(substr(head, index(head, " · ") + length(" · ")))
  if (cur_id !~ /^[A-Z]+-[0-9]+$/)
    fail("'" cur_id "' is not a SPEC id (LETTERS-NUMBER)")
  if (cur_id in seen)
    fail(cur_id " appears twice")
  seen[cur_id] = 1
  cur_area = section
  next
}

section == "Advanced settings" && /^\| `/ {
  table_row($0, c)
  name = plain(c[2])
  if (name in set_default)
    fail("setting " name " appears twice")
  unit = c[7]
  set_default[name] = c[3] (unit != "" ? " " unit : "")
  n_set++
  sets[n_set] = sprintf("    {%s, %s, %s, %s, %s, %s, %s, %s},", cstr(name), cint(c[3], "default"),
                        cint(c[4], "osdi02 default"), cint(c[5], "min"), cint(c[6], "max"),
                        cstr(unit), cstr(plain(c[8])), cstr(plain(c[9])))
  next
}

section == "Per-VM options" && /^\| `/ {
  table_row($0, c)
  opt_default[plain(c[2])] = c[3]
  next
}

cur_id == "" { next }

/^- \*\*[A-Za-z]+\.\*\*/ {
  flush_field()
  field = $0
  sub(/^- \*\*/, "", field)
  sub(/\.\*\*.*$/, "", field)
  ok = 0
  for (i = 1; i <= nfields; i++)
    ok = ok || fields[i] == field
  if (!ok && field != "Gaps")
    fail(cur_id ": unknown field '" field "' (fields: Statement, Source, Settings, Cases, " \
         "Checks, Gaps)")
  field_text = $0
  sub(/^- \*\*[A-Za-z]+\.\*\*[ \t]*/, "", field_text)
  next
}

field == "Checks" && /^  - / {
  item = trim(substr($0, 5))
  field_text = field_text (field_text == "" ? "" : "\n") item
  next
}

field != "" && /^  [^ ]/ {
  field_text = field_text " " trim($0)
  next
}

/^[ \t]*$/ {
  flush_field()
  next
}

field != "" {
  fail(cur_id ": line not part of a field (continue a field with two spaces of indent)")
}

END {
  if (failed)
    exit 1
  flush_entry()
  if (n_out == 0)
    fail("no SPEC entry found")
  if (n_set == 0)
    fail("no row of the \"## Advanced settings\" table found")
  print "/* Generated from doc/spec.md by suite/spec_gen.awk: do not edit. */"
  print "#include <stdint.h>"
  print ""
  print "#include \"spec.h\""
  print ""
  print "const suite_spec_t suite_spec[] = {"
  for (i = 1; i <= n_out; i++)
    print out[i]
  print "    {0}, /* end */"
  print "};"
  print ""
  print "const suite_spec_setting_t suite_spec_settings[] = {"
  for (i = 1; i <= n_set; i++)
    print sets[i]
  print "    {0}, /* end */"
  print "};"
}
