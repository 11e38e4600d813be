/*
 * replay.c — a main() for a fuzz target without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named (directories: each file
 * in them), so `make check` replays the committed corpus with the
 * ordinary compiler. Prints one line per input run; exit 0 when every
 * input ran (a broken property aborts).
 */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
  return 0;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 4096;
      uint8_t *n = realloc(buf, cap);
      if (!n) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = n;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    perror(path);
    free(buf);
    return -1;
  }
  /* A copy of exactly len bytes: ASAN then sees a read past the input. */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *path, size_t *n) {
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    return -1;
  }
  char **names = NULL;
  size_t count = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (count + 1) * sizeof *names);
    if (!grown)
      break;
    names = grown;
    if (asprintf(&names[count], "%s/%s", path, e->d_name) >= 0)
      count++;
  }
  closedir(d);
  qsort(names, count, sizeof *names, cmp_names); /* the same order every run */
  int rc = 0;
  for (size_t i = 0; i < count; i++) {
    if (run_file(names[i]) == 0)
      (*n)++;
    else
      rc = -1;
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  size_t n = 0;
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      rc = 1;
    } else if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &n) != 0 : run_file(argv[i]) != 0) {
      rc = 1;
    } else if (!S_ISDIR(st.st_mode)) {
      n++;
    }
  }
  printf("%zu inputs replayed\n", n);
  return rc;
}
