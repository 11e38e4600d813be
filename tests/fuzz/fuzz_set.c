/*
 * fuzz_set.c — `mmcert run --set NAME=VALUE` (suite_cli_parse_set), text
 * that scripts build from variables. Properties: a refusal has a message
 * with no control character in it (it goes to the terminal); an accepted
 * name is of the allowed characters and length, and name=value printed
 * back parses to the same pair.
 */
#include <inttypes.h>

#include "cli.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size);
  if (!text)
    return 0;
  char why[256], *name;
  int64_t v;
  if (suite_cli_parse_set(text, &name, &v, why, sizeof why) != 0) {
    fuzz_require(why[0] != '\0');
    for (const char *p = why; *p; p++)
      fuzz_require((unsigned char)*p >= 0x20 && *p != 0x7f);
    fuzz_require(name == NULL);
  } else {
    size_t n = strlen(name);
    fuzz_require(n >= 1 && n <= SUITE_CLI_SET_NAME_MAX);
    fuzz_require(strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") ==
                 n);
    char back[128], *name2;
    int64_t v2;
    snprintf(back, sizeof back, "%s=%" PRId64, name, v);
    fuzz_require(suite_cli_parse_set(back, &name2, &v2, why, sizeof why) == 0);
    fuzz_require(strcmp(name, name2) == 0 && v == v2);
    free(name2);
    free(name);
  }
  free(text);
  return 0;
}
