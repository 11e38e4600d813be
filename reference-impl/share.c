/*
 * share.c — transparent page sharing (REF_MECH_SHARE, MMC_CAP_SHARING):
 * a paced scanner visiting guest pages in random order, XXH3-64 hashing into
 * a per-node table of shared frames and hints (OSDI02 §4), merges through
 * the page map's remap protocol, copy-on-write on the first write.
 *
 * SPEC: TPS-1 (hash, then full comparison; a mismatch is never shared),
 * TPS-2 (COW: the writer gets a private frame on its home node), TPS-3
 * (pacing), TPS-4 (a page shares only with pages on the same node), TPS-5
 * (zero pages share like any content and are counted as zero_pages), TPS-6
 * (sched.mem.pshare.enable=FALSE, Mem.ShareScanGHz=0, Mem.ShareRateMax=0),
 * TPS-8 (every identical page of N clones shares), SALT-1/2, SEC-1.
 *
 * Pacing. The scanner runs every Ref.ShareTick (a periodic hook: stepped or
 * live clock alike); how many pages each VM may have scanned in a run is the
 * pure policy of sharepace.h (TPS-3: once per Mem.ShareScanTime, at most
 * Mem.ShareRateMax pages/s per VM, the host's Mem.ShareScanGHz budget cut
 * in proportion when it binds, no burst after a pause; TPS-6: ScanGHz=0 or
 * RateMax=0 stop the scanner, a VM with pshare_enable false is skipped).
 * This file feeds it: ShareScanTime counts minutes, or units of
 * Ref.ShareScanTimeUnitMs (quick live-clock cases shorten a pass that way:
 * the documented minimum is 10 minutes of real time); the host's clock is
 * the topology's cpu_mhz x cores (cores 0: the nodes' cores). Every visited
 * gpfn counts in pages_scanned (an unbacked or already shared page costs
 * nothing but is part of the pass).
 * Order: a per-VM pseudo-random permutation of blocks of Ref.ShareScanBlock
 * consecutive gpfns (a 4-round Feistel network with cycle walking, keys from
 * the host seed, VM id and pass number), each block's pages in order:
 * random, deterministic, no per-page state. Blocks (512 pages = 2 MB by
 * default, 1 = page by page) keep the frames a run frees mostly
 * consecutive, so they are punched with few fallocate calls
 * (ref_frame_free_many at the end of the run), and keep hashing near the
 * speed of a sequential pass: measured here, XXH3 over the same pages runs
 * at 4.4M pages/s in order, 4.3M in 512-page blocks, 4.0M in 64-page
 * blocks, 1.2M page by page (TLB and prefetch).
 *
 * Table (one per node with memory, its own mutex): an entry arena and an
 * open-addressing slot array (linear probing, power of two, load <= 1/2,
 * sized by the entries, not the node). Entries are keyed by (hash, salt id)
 * and are either SHARED (a frame of that node, its sharer count and pins)
 * or HINT (VM id, gpfn: a page hashed once with no match).
 * A scanned PRIVATE page:
 *  - matches a SHARED entry: merge candidate; the merge compares it in full
 *    with the frame once no vCPU can write it (with a masked hash, also now);
 *  - matches a HINT: the hint page is checked (still private on this node,
 *    same salt, VM still sharing); the entry becomes SHARED around the hint
 *    page's own frame ("forming") and both pages are candidates. At the
 *    merge the hint page is rehashed (it may have changed: a stale hint does
 *    not form and is dropped), then each joiner is compared in full with it.
 *    With a masked hash the hint page is also compared (and, when it
 *    differs, rehashed) right away, to tell a collision from a stale hint;
 *  - different content behind an equal hash is a collision: never shared;
 *  - no match: the page becomes a hint (one per page: hint_of[] per VM).
 * Ref.ShareHashBits < 64 masks the hash, forcing collisions for TPS-1 tests.
 * Salt ids (SALT-2): ForceSalting 0 -> 0 for all; 1 -> the VM's salt, unset
 * = "0"; 2 -> its salt, unset = unique per VM; an empty salt is unique (in 1
 * and 2). Salts are interned as exact strings (no hash), so two pages with
 * different salts never meet (SALT-1). Salts are read at each run; a SHARED
 * page the scanner meets whose frame was shared under another salt than its
 * VM's now gets a private copy (remap, PH_UNSHARE): a salting change takes
 * effect within one pass (SEC-1).
 *
 * Merging: the candidates of a run, sorted by VM and gpfn, go through
 * ref_pmap_remap in three phases (unshare, form, join), one quiescence wait
 * per VM per phase with candidates. transform() re-checks
 * the page's content against the shared frame (it may have changed since it
 * was hashed) and publishes SHARED(node, frame); release() frees the private
 * frame. A pending candidate pins its entry, so a COW break elsewhere
 * cannot free the shared frame before the run ends; after the run, an entry
 * with no sharer and no pin is removed and its frame freed.
 *
 * COW (fault row for SHARED + write; the page map has already waited for the
 * VM's other vCPUs): a zeroed frame on the VM's home node (ref_vm_alloc_frame,
 * nearest node when full), a copy, then the reference is dropped; the last
 * sharer frees the frame. Power-off releases references the same way.
 * Reference counts are 32-bit and never overflow: a frame with UINT32_MAX
 * sharers takes no more (an identical page then starts another frame).
 *
 * Per node (TPS-4): a page shares only within its own node's table, so a
 * shared frame is always on the node of every page mapping it and each node
 * keeps its own copy of popular content. Migration: move_range (vm.c) and
 * page migration (migrate.c, same rule) move PRIVATE entries only, so a
 * SHARED entry is never moved by them. Instead, a SHARED page the scanner
 * meets on another node than its NUMA client's home gets a private copy on
 * the home node (PH_UNSHARE), which later merges with that node's copy: a
 * shared frame whose sharers all moved goes with them (re-formed on the new
 * node, the old frame freed by the last one leaving); sharers that stayed
 * keep the old node's copy.
 *
 * Accounting: a shared page stays counted in its VM's pages_per_node (it is
 * backed by a frame on that node), so resident_pages = private + shared;
 * host saved_pages = sharers - shared frames.
 *
 * Locking (ref.h, "Lock ordering"): the scanner and the TPS-7 hook run with
 * h->lock held; a table's mutex is taken briefly, one table at a time, and
 * never across a quiescence wait (a vCPU in COW may need one) nor while a
 * frame is freed. The COW path (entry BUSY) takes only a table mutex and
 * the leaves.
 *
 * Invariants (tests/unit/test_share.c):
 *  - an entry's frame is on the table's node; every SHARED pte points at a
 *    frame whose entry counts it exactly once (refs = ptes pointing at it);
 *  - a shared frame's content equals what each sharer last had when merged;
 *    no pte is SHARED with a frame of another node than its own (TPS-4);
 *  - a frame is freed exactly once: when refs and pins are both 0.
 */
#include "share.h"
#include "sharepace.h"
#include "ref_test.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "mech.h"
#include "mmc_units.h"
#include "twin.h"

#define TABLE_MIN 1024u         /* initial slots and entries per node */
#define SALT_UNIQUE 0x80000000u /* salt ids with this bit: unique to one VM (its id) */
#define FEISTEL_ROUNDS 4
#define NO_ENTRY 0u /* index + 1 convention: 0 = none */
/* Pages hashed before their table work: the slot prefetched after each hash
 * has the rest of the batch to arrive (64 measured ~5-10 % faster hashing
 * passes than 16; 32 and 64 alike). */
#define SCAN_AHEAD 64u
#define SORT_RUN 16u      /* candidates insertion-sorted before merging runs */
#define ARENA_CHUNK 4096u /* entries backed at a time (160 KB), a multiple of 4 KB */
/* Entries locked by a slow path or another remap are skipped; SAMPLED
 * (working-set sampling) is transparent, as it is to ref_pmap_remap. */
#define SH_LOCK_FLAGS                                                                              \
  (REF_PTE_MARK | REF_PTE_COPY | REF_PTE_BUSY) /* pages hashed ahead of their table work */
/* Slot array load: doubled past 1/2 (linear probing stays short); an
 * insert that would pass 3/4 (doubling failed) is refused. */
#define LOAD_GROW_NUM 1u
#define LOAD_GROW_DEN 2u
#define LOAD_MAX_NUM 3u
#define LOAD_MAX_DEN 4u

_Atomic uint32_t ref_share_test_ref_max;

enum { SH_FREE = 0, SH_HINT = 1, SH_SHARED = 2 };
/* Candidates of a run, remapped in this order. */
enum {
  PH_UNSHARE = 0, /* a SHARED page off its home node or under another salt: private copy */
  PH_FORM = 1,    /* the hint page whose frame becomes the shared frame */
  PH_JOIN = 2,    /* a page joining a shared frame */
  PH_COUNT
};

typedef struct sh_entry {
  uint64_t hash;  /* XXH3-64 of the content, masked by Ref.ShareHashBits */
  uint64_t where; /* HINT: gpfn; SHARED: frame */
  uint32_t salt;  /* salt id */
  uint32_t next;  /* FREE: next on the free list (index + 1) */
  uint32_t vm;    /* HINT: VM id */
  uint32_t refs;  /* SHARED: ptes pointing at the frame */
  uint32_t pins;  /* SHARED: candidates of the running scan */
  uint8_t kind;
  bool zero;    /* SHARED: the content is all zeros */
  bool forming; /* SHARED: its frame is still the hint page's private frame */
  bool owned;   /* SHARED: the table frees the frame when the last sharer goes */
} sh_entry_t;

typedef struct sh_table {
  pthread_mutex_t lock;
  uint32_t node;
  uint64_t *slot;     /* open addressing: key << 32 | index + 1; 0 = empty */
  uint32_t nslots;    /* power of two */
  sh_entry_t *e;      /* arena, lazily backed: grows in place (mremap) */
  uint32_t cap, used; /* arena: entries [0, used) handed out at least once */
  uint32_t free_head;
  uint32_t live;
  uint32_t *frame_entry; /* by frame: index + 1 of its SHARED entry */
  size_t frame_entry_bytes;
  uint64_t shared_live; /* SHARED entries with refs > 0 */
  uint64_t sharers;     /* sum of refs */
  uint64_t hints;
} sh_table_t;

typedef struct sh_vm {
  uint64_t cursor; /* position in this pass's permutation of blocks */
  uint64_t in;     /* next page within the current block */
  uint64_t block;  /* pages per block this pass (Ref.ShareScanBlock) */
  uint64_t nblocks;
  uint64_t cur; /* current block */
  uint64_t pass;
  uint32_t half; /* Feistel half width in bits */
  uint64_t hmask;
  uint64_t key[FEISTEL_ROUNDS];
  uint32_t *hint_of; /* by gpfn: index + 1 of its hint (in the node table of its last scan) */
  size_t hint_bytes;
  bool hinted;
  sharepace_vm_t pace; /* the pacing policy's state and this run's quota (sharepace.h) */
#ifdef REF_TWINS
  uint8_t *twin_claimed; /* twin TPS8_COUNTED_NEVER_MERGED: pages reported shared */
  bool twin_scanned;     /* twin TPS3_BURST_REPORTED_PACED: the one whole pass done */
#endif
  _Atomic uint64_t shared_pages, zero_pages, cow_breaks, pages_scanned;
} sh_vm_t;

typedef struct sh_item {
  ref_vm_t *vm;
  uint64_t gpfn;
  mmc_vm_id_t vm_id; /* vm->id: the sort key with gpfn */
  uint32_t node;
  uint32_t entry;
  uint8_t phase; /* PH_*: what the end of the run does with it */
} sh_item_t;

typedef struct sh_host {
  sh_table_t *tab[MMC_MAX_NODES];
  uint64_t last_ns;
  bool scanning;         /* the pacing settings allowed scanning at the last change */
  sharepace_host_t pace; /* the host's scan budget (sharepace.h) */
  char **salts;          /* interned; id = index + 1 */
  uint32_t nsalts;
  sh_item_t *items;
  size_t nitems, items_cap;
  uint64_t *gpfns;
  size_t gpfns_cap;
  ref_frame_list_t freed; /* private frames merged away this run */
  ref_vm_t **vms;
  sharepace_vm_t **pace_vms; /* this run: &vms[i]'s pace, for the policy */
  size_t nvms, vms_cap;
  uint64_t collisions, stale, hashed, merged, runs, unshared;
#ifdef REF_TWINS
  uint64_t twin_saved, twin_frames; /* twin TPS8_COUNTED_NEVER_MERGED: reported, not real */
#endif
  uint8_t zero[MMC_PAGE_SIZE];
} sh_host_t;

static sh_host_t *host_of(ref_host_t *h) {
  return ref_host_mech(h, REF_MECH_SHARE);
}

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint8_t *frame_ptr(ref_host_t *h, uint32_t node, uint64_t frame) {
  return h->pool_bases[node] + frame * MMC_PAGE_SIZE;
}

static uint32_t ref_max(void) {
  uint32_t m = atomic_load_explicit(&ref_share_test_ref_max, memory_order_relaxed);
  return m ? m : UINT32_MAX;
}

/* ---------------------------------------------------------------- table */

/* A lazily backed table array (slots, entries, frame_entry, hint_of): 4 KB
 * pages only. Transparent huge pages were tried (fewer TLB misses on random
 * slots) and measured worse: each first write zeroes a fresh 2 MB page, and
 * on a host whose free huge pages have gone back to the hypervisor that cost
 * 20 % of a hashing pass, more than the misses it saves at these sizes. */
static void *lazy_map(size_t bytes) {
  void *p =
      mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* A slot array, backed now: slots are probed at random, so at the load it
 * is used at (>= 1/4 after a doubling, 512 slots a page) every page is
 * touched anyway, and one MADV_POPULATE_WRITE backs them all without a
 * read fault (zero page) then a write fault per page; present pages also let
 * the scanner's prefetch of a slot work (a prefetch never faults). */
static uint64_t *slots_map(uint32_t n) {
  uint64_t *p = lazy_map((size_t)n * sizeof *p);
#ifdef MADV_POPULATE_WRITE
  if (p)
    (void)madvise(p, (size_t)n * sizeof *p, MADV_POPULATE_WRITE); /* advice: faults work too */
#endif
  return p;
}

static void tab_free(sh_table_t *t) {
  if (!t)
    return;
  if (t->frame_entry)
    munmap(t->frame_entry, t->frame_entry_bytes);
  if (t->slot)
    munmap(t->slot, (size_t)t->nslots * sizeof *t->slot);
  if (t->e)
    munmap(t->e, (size_t)t->cap * sizeof *t->e);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

static sh_table_t *tab_new(uint32_t node, uint64_t frames) {
  sh_table_t *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  pthread_mutex_init(&t->lock, NULL);
  t->node = node;
  /* Slots sized for the entries, not the node: they start small and
   * double with the load. An array sized for every frame of the node is
   * touched at random by the first few thousand inserts, so all of it is
   * faulted in and zeroed (megabytes of fresh memory per node, costing
   * more than the hashing of a pass of a few VMs); doubling reads only the
   * old slots (the key is in them). */
  t->nslots = TABLE_MIN;
  /* The entry arena is reserved for one entry per frame (address space
   * only: pages are backed as entries are handed out). */
  t->cap = frames + TABLE_MIN < UINT32_MAX / 2 ? (uint32_t)(frames + TABLE_MIN) : UINT32_MAX / 2;
  t->slot = slots_map(t->nslots);
  t->e = lazy_map((size_t)t->cap * sizeof *t->e);
  t->frame_entry_bytes = (size_t)frames * sizeof *t->frame_entry;
  t->frame_entry = lazy_map(t->frame_entry_bytes);
  if (!t->slot || !t->e || !t->frame_entry) {
    tab_free(t);
    return NULL;
  }
  return t;
}

/* The table key of (hash, salt): its low bits pick the home slot, all 32
 * are kept in the slot, so a probe rejects another key without reading its
 * entry (a cache miss each) and doubling needs no entry at all. */
static uint32_t key_of(uint64_t hash, uint32_t salt) {
  if (REF_TWIN(SALT1_SALT_NOT_COMPARED))
    salt = 0; /* twin: the salt left out of the key */
  return (uint32_t)mix64(hash ^ ((uint64_t)salt << 32 | salt));
}

static uint64_t slot_make(uint32_t key, uint32_t idx) {
  return (uint64_t)key << 32 | (idx + 1);
}

static uint32_t slot_key(uint64_t v) {
  return (uint32_t)(v >> 32);
}

/* Linear probing into a slot array with an empty slot left. */
static void slots_put(uint64_t *slot, uint32_t mask, uint64_t v) {
  uint32_t i = slot_key(v) & mask;
  while (slot[i] != 0)
    i = (i + 1) & mask;
  slot[i] = v;
}

/* Remove the slot of entry idx (backward-shift deletion: the entries after
 * it in the probe run that may move back do, so no tombstones and no
 * lookup ever passes an empty slot it should not). False: not linked. */
static bool slots_del(sh_table_t *t, uint32_t key, uint32_t idx) {
  uint32_t mask = t->nslots - 1, i = key & mask;
  uint64_t want = slot_make(key, idx);
  while (t->slot[i] != want) {
    if (t->slot[i] == 0)
      return false;
    i = (i + 1) & mask;
  }
  for (uint32_t j = i;;) {
    j = (j + 1) & mask;
    uint64_t v = t->slot[j];
    if (v == 0)
      break;
    /* v may fill the hole at i unless its home lies in (i, j]. */
    if (((j - (slot_key(v) & mask)) & mask) >= ((j - i) & mask)) {
      t->slot[i] = v;
      i = j;
    }
  }
  t->slot[i] = 0;
  return true;
}

/* Resize the slots to n (a power of two holding every live entry at a load
 * <= 1/2); best effort: on failure the old slots stay. */
static void tab_resize(sh_table_t *t, uint32_t n) {
  uint64_t *ns = slots_map(n);
  if (!ns)
    return;
  for (uint32_t i = 0; i < t->nslots; i++)
    if (t->slot[i] != 0)
      slots_put(ns, n - 1, t->slot[i]);
  munmap(t->slot, (size_t)t->nslots * sizeof *t->slot);
  t->slot = ns;
  t->nslots = n;
}

/* Slots for `entries` entries at a load <= LOAD_GROW. */
static uint32_t slots_for(uint64_t entries) {
  uint64_t n = TABLE_MIN;
  while (n < entries * LOAD_GROW_DEN / LOAD_GROW_NUM && n <= UINT32_MAX / 4)
    n *= 2;
  return (uint32_t)n;
}

/* Room for one more entry: double the slots past LOAD_GROW (best effort);
 * false when it would pass LOAD_MAX (doubling failed: the caller does
 * without it). */
static bool tab_room(sh_table_t *t) {
  uint64_t want = (uint64_t)t->live + 1;
  if (want * LOAD_GROW_DEN > (uint64_t)t->nslots * LOAD_GROW_NUM && t->nslots <= UINT32_MAX / 4)
    tab_resize(t, t->nslots * 2);
  return want * LOAD_MAX_DEN <= (uint64_t)t->nslots * LOAD_MAX_NUM;
}

/* Before a run: a pass leaves about one entry (a hint, or a sharer of a
 * shared frame) per page of the sharing VMs on the node, so size the slots
 * for those now, in one step, rather than doubling through every size while
 * the first pass inserts (each doubling reads all slots and maps fresh
 * memory). Never shrinks; tab_room still grows past it. Table locked. */
static void tab_presize(sh_table_t *t, uint64_t pages) {
  uint32_t n = slots_for(pages);
  if (n > t->nslots)
    tab_resize(t, n);
}

/* Link entry idx, whose key_of(hash, salt) is key. */
static void tab_link(sh_table_t *t, uint32_t idx, uint32_t key) {
  slots_put(t->slot, t->nslots - 1, slot_make(key, idx));
  t->live++;
}

/* A fresh entry (not linked), or UINT32_MAX when out of memory. */
static uint32_t tab_alloc(sh_table_t *t) {
  if (t->free_head != NO_ENTRY) {
    uint32_t idx = t->free_head - 1;
    t->free_head = t->e[idx].next;
    memset(&t->e[idx], 0, sizeof t->e[idx]);
    return idx;
  }
  if (t->used == t->cap) {
    if (t->cap > UINT32_MAX / 2 - 1)
      return UINT32_MAX;
    size_t bytes = (size_t)t->cap * sizeof *t->e;
    sh_entry_t *ne = mremap(t->e, bytes, bytes * 2, MREMAP_MAYMOVE);
    if (ne == MAP_FAILED)
      return UINT32_MAX;
    t->e = ne;
    t->cap *= 2;
  }
#ifdef MADV_POPULATE_WRITE
  /* Entries are handed out in order: back the next chunk in one call
   * rather than taking a page fault every 4 KB of them (advice only). */
  if (t->used % ARENA_CHUNK == 0) {
    uint32_t n = t->cap - t->used < ARENA_CHUNK ? t->cap - t->used : ARENA_CHUNK;
    (void)madvise(&t->e[t->used], (size_t)n * sizeof *t->e, MADV_POPULATE_WRITE);
  }
#endif
  memset(&t->e[t->used], 0, sizeof t->e[0]);
  return t->used++;
}

static void tab_unlink_free(sh_table_t *t, uint32_t idx) {
  sh_entry_t *e = &t->e[idx];
  if (slots_del(t, key_of(e->hash, e->salt), idx))
    t->live--;
  if (e->kind == SH_HINT)
    t->hints--;
  e->kind = SH_FREE;
  e->next = t->free_head;
  t->free_head = idx + 1;
}

/* ---------------------------------------------------------------- salts */

static uint32_t intern(sh_host_t *st, const char *s, uint32_t fallback) {
  for (uint32_t i = 0; i < st->nsalts; i++)
    if (strcmp(st->salts[i], s) == 0)
      return i + 1;
  char **ns = realloc(st->salts, (st->nsalts + 1) * sizeof *ns);
  if (!ns)
    return fallback;
  st->salts = ns;
  if (!(ns[st->nsalts] = strdup(s)))
    return fallback;
  return ++st->nsalts;
}

/* SALT-2: who this VM's pages may share with, as an exact id. */
static uint32_t salt_of(sh_host_t *st, ref_host_t *h, const ref_vm_t *vm) {
  int64_t mode = ref_set(h, REF_SET_MEM_SHARE_FORCE_SALTING);
  uint32_t unique = SALT_UNIQUE | vm->id;
  if (mode == 0)
    return 0;
  const char *s = vm->salt;
  if (mode == 1 && !s)
    s = "0";
  if (!s || (!*s && !REF_TWIN(SALT2_EMPTY_SALT_IS_A_SALT)))
    return unique;
  return intern(st, s, unique); /* out of memory: share with nobody (safe) */
}

/* ---------------------------------------------------------------- scan order */

static void perm_setup(sh_vm_t *sv, ref_host_t *h, const ref_vm_t *vm) {
  sv->block = (uint64_t)ref_set(h, REF_SET_REF_SHARE_SCAN_BLOCK);
  sv->nblocks = (vm->npages + sv->block - 1) / sv->block;
  uint32_t bits = 2;
  while (bits < 64 && (1ull << bits) < sv->nblocks)
    bits += 2;
  sv->half = bits / 2;
  sv->hmask = (1ull << sv->half) - 1;
  for (int r = 0; r < FEISTEL_ROUNDS; r++)
    sv->key[r] = mix64(h->seed ^ mix64(((uint64_t)vm->id << 32) ^ (sv->pass << 3) ^ (uint64_t)r));
  sv->cursor = 0;
  sv->in = 0;
}

static uint64_t feistel(const sh_vm_t *sv, uint64_t x) {
  uint64_t l = x >> sv->half, r = x & sv->hmask;
  for (int i = 0; i < FEISTEL_ROUNDS; i++) {
    uint64_t t = l ^ (mix64(r ^ sv->key[i]) & sv->hmask);
    l = r;
    r = t;
  }
  return (l << sv->half) | r;
}

/* The next gpfn of the pass: blocks in a pseudo-random order (a bijection
 * of [0, nblocks) by cycle walking), the pages of a block in order. */
static uint64_t next_gpfn(sh_vm_t *sv, ref_host_t *h, const ref_vm_t *vm) {
  if (sv->in == 0) {
    uint64_t x = feistel(sv, sv->cursor);
    while (x >= sv->nblocks)
      x = feistel(sv, x);
    sv->cur = x;
  }
  uint64_t g = sv->cur * sv->block + sv->in;
  if (++sv->in == sv->block || g + 1 == vm->npages) {
    sv->in = 0;
    if (++sv->cursor == sv->nblocks) {
      sv->pass++;
      perm_setup(sv, h, vm);
    }
  }
  return g;
}

/* ---------------------------------------------------------------- scanning */

typedef struct scan {
  ref_host_t *h;
  sh_host_t *st;
  ref_vm_t *vm;
  sh_vm_t *sv;
  uint32_t salt;
  uint64_t mask;
  bool leaving; /* before a swap-out: match only, no new hint for a page on its way out */
} scan_t;

/* The scanner's first look at a guest page is optimistic: the VM may be
 * writing it meanwhile (a hypervisor reads guest memory racily by design);
 * what decides is the comparison the merge repeats once no vCPU can write
 * the page. Under ThreadSanitizer this early compare is a plain loop kept
 * out of its view (the hash runs in libxxhash, uninstrumented, for the same
 * reason); otherwise it is libc's memcmp: the page behind a hint is usually
 * cold, and the vectorised compare keeps many more of its cache lines in
 * flight than a scalar loop (which cost more than hashing the page). */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SH_TSAN 1
#endif
#endif
#if !defined(SH_TSAN) && defined(__SANITIZE_THREAD__)
#define SH_TSAN 1
#endif

#ifdef SH_TSAN
__attribute__((no_sanitize("thread"))) static bool early_same(const uint8_t *a, const uint8_t *b) {
  const volatile uint64_t *x = (const volatile uint64_t *)a, *y = (const volatile uint64_t *)b;
  uint64_t diff = 0;
  for (size_t i = 0; i < MMC_PAGE_SIZE / sizeof *x && diff == 0; i += 8)
    for (size_t k = 0; k < 8; k++)
      diff |= x[i + k] ^ y[i + k];
  return diff == 0;
}
#else
static bool early_same(const uint8_t *a, const uint8_t *b) {
  return memcmp(a, b, MMC_PAGE_SIZE) == 0;
}
#endif

static uint64_t hash_page(const uint8_t *p, uint64_t mask) {
  return XXH3_64bits(p, MMC_PAGE_SIZE) & mask;
}

static int add_item(sh_host_t *st, ref_vm_t *vm, uint64_t gpfn, uint32_t node, uint32_t entry,
                    uint8_t phase) {
  if (st->nitems == st->items_cap) {
    size_t cap = st->items_cap ? st->items_cap * 2 : 256;
    sh_item_t *n = realloc(st->items, cap * sizeof *n);
    if (!n)
      return -1;
    st->items = n;
    st->items_cap = cap;
  }
  st->items[st->nitems++] = (sh_item_t){
      .vm = vm, .gpfn = gpfn, .vm_id = vm->id, .node = node, .entry = entry, .phase = phase};
  return 0;
}

/* Pin entry idx for a candidate (vm, gpfn); false when it could not be
 * recorded. Table locked. */
static bool candidate(scan_t *s, sh_table_t *t, ref_vm_t *vm, uint64_t gpfn, uint32_t idx,
                      uint8_t phase) {
  if (add_item(s->st, vm, gpfn, t->node, idx, phase) != 0)
    return false;
  t->e[idx].pins++;
  return true;
}

/* A hint's page now: 1 same content as `src`, 0 different (a collision),
 * -1 stale (gone, moved, changed, resalted: the caller drops it). */
static int hint_check(scan_t *s, sh_table_t *t, const sh_entry_t *e, const uint8_t *src,
                      uint64_t *pte_out) {
  ref_vm_t *vm2 = ref_vm_get(s->h, e->vm);
  if (!vm2 || !vm2->cfg.pshare_enable || e->where >= vm2->npages ||
      (salt_of(s->st, s->h, vm2) != e->salt && !REF_TWIN(SALT1_SALT_NOT_COMPARED)))
    return -1;
  uint64_t pte = ref_pmap_get(vm2->pmap, e->where);
  if ((pte & SH_LOCK_FLAGS) || ref_pte_state(pte) != REF_PTE_PRIVATE ||
      ref_pte_node(pte) != t->node)
    return -1;
  *pte_out = pte;
  /* With the whole 64-bit hash an equal hash is taken as equal content
   * here, as for SHARED entries (find_match): what decides comes once no
   * vCPU can write the pages. The forming entry first rehashes the hint
   * page (a stale hint does not form: it is dropped and counted then),
   * then each joiner is compared in full with it. Comparing now as well
   * would read the cold hint page twice (measured: more than one hash). */
  if (s->mask == UINT64_MAX || REF_TWIN(TPS1_HASH_MATCH_TAKEN_AS_EQUAL))
    return 1;
  const uint8_t *p2 = frame_ptr(s->h, t->node, ref_pte_frame(pte));
  /* Same bytes as src, whose hash (just computed) is e->hash: the hint page
   * still holds what was hashed, no need to hash it again. Only a
   * difference needs the rehash: changed since (stale) or a collision. */
  if (early_same(src, p2))
    return 1;
  s->st->hashed++;
  return hash_page(p2, s->mask) != e->hash ? -1 : 0;
}

/* The hint entry idx matched: the entry becomes SHARED around the hint
 * page's own frame, "forming": the end of the run first remaps the hint page
 * to SHARED on that same frame (nothing copied, nothing freed), and only
 * then may other pages join it, so no page ever maps a frame that another
 * page can still write. Table locked. */
static void promote(scan_t *s, sh_table_t *t, uint32_t idx, uint64_t hint_pte) {
  sh_entry_t *e = &t->e[idx];
  uint64_t f = ref_pte_frame(hint_pte), g2 = e->where;
  ref_vm_t *vm2 = ref_vm_get(s->h, e->vm);
  sh_vm_t *sv2 = vm2->mech[REF_MECH_SHARE];
  if (sv2 && sv2->hint_of[g2] == idx + 1)
    sv2->hint_of[g2] = NO_ENTRY;
  t->hints--;
  e->kind = SH_SHARED;
  e->where = f;
  e->refs = 0;
  e->pins = 0;
  e->zero = false;
  e->forming = true;
  e->owned = false;
  t->frame_entry[f] = idx + 1;
  candidate(s, t, vm2, g2, idx, PH_FORM); /* not recorded: the entry never forms */
}

/* Look for a match of (hash, salt) in its probe run; returns the entry
 * index to merge into, or UINT32_MAX. `self` is the page's own hint
 * (skipped). A stale hint is removed on the way: backward shift may move a
 * later slot of the run into its place, so that slot is looked at again. */
static uint32_t find_match(scan_t *s, sh_table_t *t, uint64_t g, uint64_t frame, uint64_t hash,
                           uint32_t key, const uint8_t *src, uint32_t self) {
  uint32_t cap = ref_max(), mask = t->nslots - 1;
  for (uint32_t p = key & mask; t->slot[p] != 0;) {
    uint64_t v = t->slot[p];
    uint32_t i = (uint32_t)v; /* index + 1 */
    sh_entry_t *e = &t->e[i - 1];
    bool salt_differs = e->salt != s->salt && !REF_TWIN(SALT1_SALT_NOT_COMPARED);
    if (slot_key(v) != key || e->hash != hash || salt_differs || i == self) {
      p = (p + 1) & mask;
      continue;
    }
    if (e->kind == SH_SHARED && e->where != frame && (uint64_t)e->refs + e->pins < cap) {
      /* With the whole 64-bit hash, the full comparison that decides is the
       * one in the merge (after quiescence); with a masked hash, compare
       * now too, to pick the right one among colliding entries. */
      if (s->mask == UINT64_MAX || REF_TWIN(TPS1_HASH_MATCH_TAKEN_AS_EQUAL) ||
          early_same(src, frame_ptr(s->h, t->node, e->where)))
        return i - 1;
      s->st->collisions++;
    } else if (e->kind == SH_HINT) {
      uint64_t pte2 = 0;
      /* The page's own hint not recorded in hint_of (it was on another
       * node's table meanwhile) is stale: never share a page with itself. */
      int r = e->vm == s->vm->id && e->where == g ? -1 : hint_check(s, t, e, src, &pte2);
      /* A hint whose frame already forms an entry is a leftover: drop it. */
      if (r > 0 && t->frame_entry[ref_pte_frame(pte2)] != NO_ENTRY)
        r = -1;
      if (r < 0) {
        s->st->stale++;
        tab_unlink_free(t, i - 1);
        continue; /* slot p again */
      }
      if (r > 0) {
        promote(s, t, i - 1, pte2);
        return i - 1;
      }
      s->st->collisions++;
    }
    p = (p + 1) & mask;
  }
  return UINT32_MAX;
}

static void insert_hint(scan_t *s, sh_table_t *t, uint64_t gpfn, uint64_t hash, uint32_t key) {
  uint32_t idx = tab_room(t) ? tab_alloc(t) : UINT32_MAX;
  if (idx == UINT32_MAX)
    return; /* out of memory: the page is simply not remembered */
  t->e[idx] =
      (sh_entry_t){.hash = hash, .where = gpfn, .salt = s->salt, .vm = s->vm->id, .kind = SH_HINT};
  tab_link(t, idx, key);
  t->hints++;
  s->sv->hint_of[gpfn] = idx + 1;
  s->sv->hinted = true;
}

/* A page hashed ahead of its table work. */
typedef struct hashed {
  uint64_t g, pte, hash;
  uint32_t key; /* key_of(hash, salt) */
} hashed_t;

/* Read and hash page g (false: nothing to do for it), and prefetch what its
 * table work will read. */
static bool hash_ahead(scan_t *s, uint64_t g, hashed_t *out) {
  uint64_t pte = ref_pmap_get(s->vm->pmap, g) & ~REF_PTE_SAMPLED;
  unsigned st = ref_pte_state(pte);
  if ((pte & SH_LOCK_FLAGS) || (st != REF_PTE_PRIVATE && st != REF_PTE_SHARED))
    return false;
  sh_table_t *t = s->st->tab[ref_pte_node(pte)];
  if (!t)
    return false;
  if (st == REF_PTE_SHARED) { /* nothing to hash: checked under the lock */
    *out = (hashed_t){.g = g, .pte = pte};
    return true;
  }
  const uint8_t *p = frame_ptr(s->h, ref_pte_node(pte), ref_pte_frame(pte));
  if (REF_TWIN(TPS5_ZERO_PAGES_SKIPPED) && memcmp(p, s->st->zero, MMC_PAGE_SIZE) == 0)
    return false; /* twin: zero pages left out of sharing */
  *out = (hashed_t){.g = g, .pte = pte, .hash = hash_page(p, s->mask)};
  s->st->hashed++;
  out->key = key_of(out->hash, s->salt);
  __builtin_prefetch(&t->slot[out->key & (t->nslots - 1)]);
  /* The page's own hint entry, which visit() reads first: once every page
   * is a hint (the steady state), that read is the scan's cache miss. */
  uint32_t self = s->sv->hint_of[g];
  if (self != NO_ENTRY && self - 1 < t->used)
    __builtin_prefetch(&t->e[self - 1]);
  return true;
}

/* A SHARED page met by the scanner: it must leave its frame when the frame
 * is not on the home node of the page's NUMA client (the VM moved: TPS-4,
 * "each node keeps its own copy") or was shared under another salt than the
 * VM's now (SALT-2 changed at run time: SEC-1). Table locked. */
static void visit_shared(scan_t *s, sh_table_t *t, const hashed_t *p) {
  uint32_t idx = t->frame_entry[ref_pte_frame(p->pte)];
  if (idx == NO_ENTRY)
    return;
  uint32_t home = ref_vm_home_of(s->vm, p->g);
  bool moved = home != REF_NO_NODE && home != t->node && s->st->tab[home] &&
               !REF_TWIN(TPS4_SHARED_PAGE_LEFT_ON_OLD_NODE);
  if (moved || t->e[idx - 1].salt != s->salt)
    candidate(s, t, s->vm, p->g, idx - 1, PH_UNSHARE);
}

/* The table work of one hashed page: its own hint checked, a match looked
 * for, else it becomes a hint. Table locked. */
static void visit(scan_t *s, sh_table_t *t, const hashed_t *p) {
  uint64_t g = p->g, hash = p->hash;
  if (ref_pte_state(p->pte) == REF_PTE_SHARED) {
    visit_shared(s, t, p);
    return;
  }
  /* The page is the hint page of an entry forming in this run: it is taken
   * care of (and must not become a second entry on the same frame). */
  if (t->frame_entry[ref_pte_frame(p->pte)] != NO_ENTRY)
    return;
  const uint8_t *src = frame_ptr(s->h, t->node, ref_pte_frame(p->pte));
  uint32_t self = s->sv->hint_of[g];
  if (self != NO_ENTRY) {
    const sh_entry_t *e = self - 1 < t->used ? &t->e[self - 1] : NULL;
    if (!e || e->kind != SH_HINT || e->vm != s->vm->id || e->where != g) {
      self = NO_ENTRY; /* recorded in another node's table, or reused */
    } else if (e->hash != hash || e->salt != s->salt) {
      tab_unlink_free(t, self - 1); /* the page changed since */
      self = NO_ENTRY;
    }
    if (self == NO_ENTRY)
      s->sv->hint_of[g] = NO_ENTRY;
  }
  /* The steady state: the page is still its valid hint, same full 64-bit
   * hash. A table then holds no other hint or entry of that (hash, salt):
   * a page of the same content hashed since met this hint and joined it
   * (with the whole hash a hint matches on the hash; the merge compares).
   * Nothing to find, so no probe walk. With a masked hash (TPS-1) pages of
   * different content share hashes: search as always. */
  if (self != NO_ENTRY && s->mask == UINT64_MAX)
    return;
  uint32_t m = find_match(s, t, g, ref_pte_frame(p->pte), hash, p->key, src, self);
  if (m != UINT32_MAX) {
    if (self != NO_ENTRY) {
      tab_unlink_free(t, self - 1);
      s->sv->hint_of[g] = NO_ENTRY;
    }
    candidate(s, t, s->vm, g, m, PH_JOIN);
  } else if (self == NO_ENTRY && !s->leaving) {
    insert_hint(s, t, g, hash, p->key);
  }
}

/* visit() under the lock of p's node table, kept across a run of pages on
 * one node (*locked: the table held; the caller unlocks the last). */
static void visit_locked(scan_t *s, const hashed_t *p, sh_table_t **locked) {
  sh_table_t *t = s->st->tab[ref_pte_node(p->pte)];
  if (t != *locked) {
    if (*locked)
      ref_unlock(&(*locked)->lock, REF_LC_TABLE);
    ref_lock(&t->lock, REF_LC_TABLE);
    *locked = t;
  }
  visit(s, t, p);
}

/* Scan q pages of the VM: a batch hashed ahead (hashes do not depend on the
 * table), then the batch's table work in scan order under the node's lock
 * (taken once per run of pages on one node). */
static void scan_vm(scan_t *s, uint64_t q) {
  hashed_t batch[SCAN_AHEAD];
  while (q > 0) {
    size_t n = 0;
    for (; q > 0 && n < SCAN_AHEAD; q--)
      n += hash_ahead(s, next_gpfn(s->sv, s->h, s->vm), &batch[n]);
    sh_table_t *locked = NULL;
    for (size_t i = 0; i < n; i++)
      visit_locked(s, &batch[i], &locked);
    if (locked)
      ref_unlock(&locked->lock, REF_LC_TABLE);
  }
}

/* ---------------------------------------------------------------- merging */

static bool drop_ref(ref_host_t *h, uint64_t pte); /* COW section */

typedef struct merge_ctx {
  ref_host_t *h;
  sh_host_t *st;
  sh_vm_t *sv;
  const sh_item_t *items; /* this VM's, sorted by gpfn, unique */
  size_t n;
  uint64_t mask; /* Ref.ShareHashBits of this run */
  bool last_zero;
  uint32_t last_to; /* unshare: node of the new private frame */
  uint64_t merged, unshared;
} merge_ctx_t;

static const sh_item_t *item_of(const merge_ctx_t *c, uint64_t gpfn) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c->items[mid].gpfn < gpfn)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < c->n && c->items[lo].gpfn == gpfn ? &c->items[lo] : NULL;
}

static bool merge_transform(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte) {
  merge_ctx_t *c = ctx;
  const sh_item_t *it = item_of(c, gpfn);
  if (!it || ref_pte_state(old_pte) != REF_PTE_PRIVATE || ref_pte_node(old_pte) != it->node)
    return false;
  sh_table_t *t = c->st->tab[it->node];
  const uint8_t *priv = frame_ptr(c->h, it->node, ref_pte_frame(old_pte));
  ref_lock(&t->lock, REF_LC_TABLE);
  sh_entry_t *e = &t->e[it->entry];
  bool ok = e->kind == SH_SHARED && !e->forming && e->refs < ref_max() &&
            (REF_TWIN(TPS1_HASH_MATCH_TAKEN_AS_EQUAL) ||
             memcmp(priv, frame_ptr(c->h, it->node, e->where), MMC_PAGE_SIZE) == 0);
  if (ok) {
    if (e->refs++ == 0)
      t->shared_live++;
    t->sharers++;
    c->last_zero = e->zero;
    *new_pte = ref_pte_make(REF_PTE_SHARED, it->node, e->where);
  }
  ref_unlock(&t->lock, REF_LC_TABLE);
  return ok;
}

static void merge_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  merge_ctx_t *c = ctx;
  if (!REF_TWIN(TPS8_MERGED_FRAMES_KEPT)) /* twin: the frame merged away is never freed */
    /* kept for one punch per run of frames at the end of the run */
    ref_frame_list_add(&c->st->freed, c->h->pools, ref_pte_node(old_pte), ref_pte_frame(old_pte));
  atomic_fetch_add_explicit(&c->sv->shared_pages, 1, memory_order_relaxed);
  if (c->last_zero)
    atomic_fetch_add_explicit(&c->sv->zero_pages, 1, memory_order_relaxed);
  c->merged++;
}

static const ref_remap_ops_t merge_ops = {.transform = merge_transform, .release = merge_release};

/* The hint page of a forming entry becomes its first sharer on its own
 * frame, if it still holds what was hashed (rehashed now that no vCPU
 * can write it). */
static bool form_transform(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte) {
  merge_ctx_t *c = ctx;
  const sh_item_t *it = item_of(c, gpfn);
  if (!it || ref_pte_state(old_pte) != REF_PTE_PRIVATE || ref_pte_node(old_pte) != it->node)
    return false;
  sh_table_t *t = c->st->tab[it->node];
  const uint8_t *p = frame_ptr(c->h, it->node, ref_pte_frame(old_pte));
  ref_lock(&t->lock, REF_LC_TABLE);
  sh_entry_t *e = &t->e[it->entry];
  bool ok = e->kind == SH_SHARED && e->forming && e->where == ref_pte_frame(old_pte);
  if (ok && hash_page(p, c->mask) != e->hash) {
    ok = false;
    c->st->stale++; /* the hint page changed since it was hashed */
  }
  if (ok) {
    e->forming = false;
    e->owned = true;
    e->zero = memcmp(p, c->st->zero, MMC_PAGE_SIZE) == 0;
    e->refs = 1;
    t->shared_live++;
    t->sharers++;
    c->last_zero = e->zero;
    *new_pte = ref_pte_make(REF_PTE_SHARED, it->node, e->where);
  }
  ref_unlock(&t->lock, REF_LC_TABLE);
  return ok;
}

static void form_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  merge_ctx_t *c = ctx;
  atomic_fetch_add_explicit(&c->sv->shared_pages, 1, memory_order_relaxed);
  if (c->last_zero)
    atomic_fetch_add_explicit(&c->sv->zero_pages, 1, memory_order_relaxed);
}

static const ref_remap_ops_t form_ops = {.transform = form_transform, .release = form_release};

/* A private copy of a shared page on its home node (the frame's node when
 * it has none); the reference is dropped in release. */
static bool unshare_transform(void *ctx, uint64_t gpfn, uint64_t old_pte, uint64_t *new_pte) {
  merge_ctx_t *c = ctx;
  const sh_item_t *it = item_of(c, gpfn);
  if (!it || ref_pte_state(old_pte) != REF_PTE_SHARED || ref_pte_node(old_pte) != it->node)
    return false;
  uint32_t want = ref_vm_home_of(it->vm, gpfn), to = 0;
  uint64_t f = 0;
  if (ref_vm_alloc_frame(c->h, it->vm, want == REF_NO_NODE ? it->node : want, &to, &f, NULL))
    return false;
  memcpy(frame_ptr(c->h, to, f), frame_ptr(c->h, it->node, ref_pte_frame(old_pte)), MMC_PAGE_SIZE);
  *new_pte = ref_pte_make(REF_PTE_PRIVATE, to, f);
  c->last_to = to;
  return true;
}

static void unshare_release(void *ctx, uint64_t gpfn, uint64_t old_pte) {
  merge_ctx_t *c = ctx;
  const sh_item_t *it = item_of(c, gpfn);
  bool zero = drop_ref(c->h, old_pte);
  if (c->last_to != it->node) {
    atomic_fetch_sub_explicit(&it->vm->pages_per_node[it->node], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&it->vm->pages_per_node[c->last_to], 1, memory_order_relaxed);
  }
  atomic_fetch_sub_explicit(&c->sv->shared_pages, 1, memory_order_relaxed);
  if (zero)
    atomic_fetch_sub_explicit(&c->sv->zero_pages, 1, memory_order_relaxed);
  c->unshared++;
}

static const ref_remap_ops_t unshare_ops = {.transform = unshare_transform,
                                            .release = unshare_release};
static const ref_remap_ops_t *const phase_ops[PH_COUNT] = {
    [PH_UNSHARE] = &unshare_ops, [PH_FORM] = &form_ops, [PH_JOIN] = &merge_ops};

static bool item_before(const sh_item_t *x, const sh_item_t *y) {
  return x->vm_id != y->vm_id ? x->vm_id < y->vm_id : x->gpfn < y->gpfn;
}

/* Sort the candidates by (VM id, gpfn): insertion sort of runs of
 * SORT_RUN (they arrive mostly in order: a VM's pages by block), then
 * bottom-up merges through tmp (n items). Inline comparisons: qsort's
 * callback per comparison was 3 % of a merge at N = 8. */
static void sort_items(sh_item_t *a, sh_item_t *tmp, size_t n) {
  for (size_t lo = 0; lo < n; lo += SORT_RUN) {
    size_t hi = n - lo < SORT_RUN ? n : lo + SORT_RUN;
    for (size_t i = lo + 1; i < hi; i++) {
      sh_item_t x = a[i];
      size_t j = i;
      for (; j > lo && item_before(&x, &a[j - 1]); j--)
        a[j] = a[j - 1];
      a[j] = x;
    }
  }
  sh_item_t *src = a, *dst = tmp;
  for (size_t w = SORT_RUN; w < n; w *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * w) {
      size_t mid = n - lo < w ? n : lo + w, hi = n - lo < 2 * w ? n : lo + 2 * w;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        dst[k++] = item_before(&src[j], &src[i]) ? src[j++] : src[i++];
      while (i < mid)
        dst[k++] = src[i++];
      while (j < hi)
        dst[k++] = src[j++];
    }
    sh_item_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != a)
    memcpy(a, src, n * sizeof *a);
}

/* Drop a pin or a reference; the last one frees the frame. */
static void entry_put(ref_host_t *h, sh_table_t *t, uint32_t idx, bool pin) {
  ref_lock(&t->lock, REF_LC_TABLE);
  sh_entry_t *e = &t->e[idx];
  if (pin) {
    e->pins--;
  } else {
    t->sharers--;
    if (--e->refs == 0)
      t->shared_live--;
  }
  uint64_t frame = REF_NO_FRAME;
  if (e->refs == 0 && e->pins == 0) {
    /* An entry that never formed leaves its frame to the hint page. */
    frame = e->owned ? e->where : REF_NO_FRAME;
    if (t->frame_entry[e->where] == idx + 1)
      t->frame_entry[e->where] = NO_ENTRY;
    tab_unlink_free(t, idx);
  }
  ref_unlock(&t->lock, REF_LC_TABLE);
  if (frame != REF_NO_FRAME)
    ref_frame_free(h->pools[t->node], frame);
}

#ifdef REF_TWINS
/* Twin TPS8_COUNTED_NEVER_MERGED: candidates are counted (shared_pages,
 * saved_pages, MMC_EV_SHARE) as if merged, once per page; nothing is
 * remapped, every page keeps its own frame. */
static void twin_claim(ref_host_t *h, sh_host_t *st, ref_vm_t *vm, const sh_item_t *items, size_t n,
                       uint8_t phase) {
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  if (!sv->twin_claimed && !(sv->twin_claimed = calloc(vm->npages, 1)))
    return;
  uint64_t count = 0;
  for (size_t i = 0; i < n; i++) {
    if (sv->twin_claimed[items[i].gpfn])
      continue;
    sv->twin_claimed[items[i].gpfn] = 1;
    atomic_fetch_add_explicit(&sv->shared_pages, 1, memory_order_relaxed);
    *(phase == PH_JOIN ? &st->twin_saved : &st->twin_frames) += 1;
    count++;
  }
  st->merged += count;
  if (count)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_SHARE,
                                    .vm = vm->id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = count,
                                    .reason = "merged"});
}
#endif

/* Remap one VM's candidates items[0..n) (sorted, duplicates already out). */
static void merge_vm(ref_host_t *h, sh_host_t *st, const sh_item_t *items, size_t n, uint8_t phase,
                     uint64_t mask) {
  ref_vm_t *vm = items[0].vm;
#ifdef REF_TWINS
  if (REF_TWIN(TPS8_COUNTED_NEVER_MERGED) && phase != PH_UNSHARE) {
    twin_claim(h, st, vm, items, n, phase);
    return;
  }
#endif
  if (st->gpfns_cap < n) {
    uint64_t *g = realloc(st->gpfns, n * sizeof *g);
    if (!g)
      return;
    st->gpfns = g;
    st->gpfns_cap = n;
  }
  for (size_t i = 0; i < n; i++)
    st->gpfns[i] = items[i].gpfn;
  merge_ctx_t c = {
      .h = h, .st = st, .sv = vm->mech[REF_MECH_SHARE], .items = items, .n = n, .mask = mask};
  ref_pmap_remap(vm->pmap, st->gpfns, n, phase_ops[phase], &c, NULL);
  st->unshared += c.unshared;
  st->merged += c.merged;
  if (c.merged)
    ref_event_emit(h, (mmc_event_t){.type = MMC_EV_SHARE,
                                    .vm = vm->id,
                                    .node_from = -1,
                                    .node_to = -1,
                                    .count = c.merged,
                                    .reason = "merged"});
}

/* One phase: the items with form == `form`, one remap per VM. */
static void merge_phase(ref_host_t *h, sh_host_t *st, uint8_t phase, uint64_t mask, sh_item_t *u) {
  size_t start = 0;
  while (start < st->nitems) {
    size_t end = start, k = 0;
    while (end < st->nitems && st->items[end].vm == st->items[start].vm)
      end++;
    /* This VM's items of the phase, each gpfn once (a page can be a
     * candidate twice in one run: as a hint and when scanned itself). */
    for (size_t i = start; i < end; i++)
      if (st->items[i].phase == phase && (k == 0 || u[k - 1].gpfn != st->items[i].gpfn))
        u[k++] = st->items[i];
    if (k)
      merge_vm(h, st, u, k, phase, mask);
    start = end;
  }
}

/* Forming entries first (their hint pages become SHARED on their own
 * frames), then every other candidate joins; then the frames merged away
 * are freed in one batch per node and the pins dropped. */
static void merge_all(ref_host_t *h, sh_host_t *st, uint64_t mask) {
  if (st->nitems == 0)
    return;
  sh_item_t *u = malloc(st->nitems * sizeof *u);
  if (u) { /* no memory: nothing merges this run, the pins still go */
    sort_items(st->items, u, st->nitems);
    for (uint8_t ph = 0; ph < PH_COUNT; ph++)
      merge_phase(h, st, ph, mask, u);
    free(u);
  }
  ref_frame_list_flush(&st->freed, h->pools);
  for (size_t i = 0; i < st->nitems; i++)
    entry_put(h, st->tab[st->items[i].node], st->items[i].entry, true);
  st->nitems = 0;
}

/* ---------------------------------------------------------------- pacing */

static void collect_vm(ref_host_t *h, ref_vm_t *vm, void *ctx) {
  sh_host_t *st = ctx;
  if (st->nvms == st->vms_cap) {
    size_t cap = st->vms_cap ? st->vms_cap * 2 : 16;
    ref_vm_t **n = realloc(st->vms, cap * sizeof *n);
    if (n)
      st->vms = n;
    sharepace_vm_t **p = realloc(st->pace_vms, cap * sizeof *p);
    if (p)
      st->pace_vms = p;
    if (!n || !p)
      return;
    st->vms_cap = cap;
  }
  st->vms[st->nvms++] = vm;
}

/* A pass of Mem.ShareScanTime units of Ref.ShareScanTimeUnitMs (a minute
 * as documented). */
static uint64_t scan_time_ms(ref_host_t *h) {
  return (uint64_t)ref_set(h, REF_SET_MEM_SHARE_SCAN_TIME) *
         (uint64_t)ref_set(h, REF_SET_REF_SHARE_SCAN_TIME_UNIT_MS);
}

/* TPS-6: Mem.ShareScanGHz = 0 or Mem.ShareRateMax = 0 stop the scanner. */
static bool scanning(ref_host_t *h) {
  return sharepace_enabled((uint64_t)ref_set(h, REF_SET_MEM_SHARE_SCAN_GHZ),
                           (uint64_t)ref_set(h, REF_SET_MEM_SHARE_RATE_MAX));
}

/* The settings as the pacing policy takes them (twin TPS3_RATE_MAX_IGNORED:
 * no cap per VM). */
static sharepace_params_t pace_params(ref_host_t *h) {
  uint64_t cores = h->ncores;
  for (uint32_t n = 0; cores == 0 && n < h->nnodes; n++)
    cores += h->nodes[n].ncores ? h->nodes[n].ncores : h->nodes[n].ncpus;
  sharepace_params_t p = {.scan_time_ms = scan_time_ms(h),
                          .rate_max = (uint64_t)ref_set(h, REF_SET_MEM_SHARE_RATE_MAX),
                          .scan_ghz = (uint64_t)ref_set(h, REF_SET_MEM_SHARE_SCAN_GHZ),
                          .host_mhz = sharepace_host_mhz(h->cpu_mhz, cores)};
  if (REF_TWIN(TPS3_RATE_MAX_IGNORED))
    p.rate_max = SHAREPACE_UNLIMITED;
  return p;
}

/* Each VM's quota for a run of dt_ns (sv->pace.quota): the policy sees each
 * VM's size, sched.mem.pshare.enable and carried credit. */
static void vm_quotas(ref_host_t *h, sh_host_t *st, uint64_t dt_ns) {
  sharepace_params_t p = pace_params(h);
  for (size_t i = 0; i < st->nvms; i++) {
    ref_vm_t *vm = st->vms[i];
    sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
    sv->pace.npages = vm->npages;
    sv->pace.enabled = vm->cfg.pshare_enable || REF_TWIN(TPS6_PSHARE_ENABLE_IGNORED);
    st->pace_vms[i] = &sv->pace;
  }
  sharepace_run(&p, &st->pace, st->pace_vms, st->nvms, dt_ns);
  ref_assert(sharepace_is_valid(&st->pace, st->pace_vms, st->nvms));
}

/* tab_presize for each node: the resident pages of the VMs that share. */
static void presize_tables(ref_host_t *h, sh_host_t *st) {
  for (uint32_t n = 0; n < h->nnodes && n < MMC_MAX_NODES; n++) {
    if (!st->tab[n])
      continue;
    uint64_t pages = 0;
    for (size_t i = 0; i < st->nvms; i++)
      if (st->vms[i]->cfg.pshare_enable)
        pages += atomic_load_explicit(&st->vms[i]->pages_per_node[n], memory_order_relaxed);
    ref_lock(&st->tab[n]->lock, REF_LC_TABLE);
    tab_presize(st->tab[n], pages);
    ref_unlock(&st->tab[n]->lock, REF_LC_TABLE);
  }
}

static void share_tick(ref_host_t *h, uint64_t now_ns, void *ctx) {
  sh_host_t *st = ctx;
  uint64_t dt = now_ns - st->last_ns;
  st->last_ns = now_ns;
  st->runs++;
  if (!scanning(h))
    return; /* TPS-6: scanning disabled */
  st->nvms = 0;
  ref_vm_for_each(h, collect_vm, st);
  vm_quotas(h, st, dt);
  int64_t bits = ref_set(h, REF_SET_REF_SHARE_HASH_BITS);
  uint64_t mask = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
  presize_tables(h, st);
  for (size_t i = 0; i < st->nvms; i++) {
    ref_vm_t *vm = st->vms[i];
    sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
    uint64_t q = sv->pace.quota;
    if (q == 0)
      continue;
    scan_t s = {.h = h, .st = st, .vm = vm, .sv = sv, .salt = salt_of(st, h, vm), .mask = mask};
    uint64_t real = q;
#ifdef REF_TWINS
    if (REF_TWIN(TPS3_BURST_REPORTED_PACED)) /* one whole pass at once; q is reported */
      real = sv->twin_scanned ? 0 : vm->npages, sv->twin_scanned = true;
#endif
    scan_vm(&s, real);
    atomic_fetch_add_explicit(&sv->pages_scanned, q, memory_order_relaxed);
  }
  merge_all(h, st, mask);
}

/* ---------------------------------------------------------------- COW */

static sh_table_t *table_checked(ref_host_t *h, uint32_t node, uint64_t frame, uint32_t *idx) {
  sh_table_t *t = host_of(h)->tab[node];
  uint32_t i =
      t && frame < t->frame_entry_bytes / sizeof *t->frame_entry ? t->frame_entry[frame] : NO_ENTRY;
  if (i == NO_ENTRY) {
    fprintf(stderr, "mmref: share: node %" PRIu32 " frame %" PRIu64 " is not a shared frame\n",
            node, frame);
    abort(); /* a SHARED pte without its entry: the accounting is broken */
  }
  *idx = i - 1;
  return t;
}

/* Drop one reference of a SHARED pte; returns whether the content was zero. */
static bool drop_ref(ref_host_t *h, uint64_t pte) {
  uint32_t idx;
  sh_table_t *t = table_checked(h, ref_pte_node(pte), ref_pte_frame(pte), &idx);
  ref_lock(&t->lock, REF_LC_TABLE);
  bool zero = t->e[idx].zero;
  ref_unlock(&t->lock, REF_LC_TABLE);
  entry_put(h, t, idx, false);
  return zero;
}

#ifdef REF_TWINS
/* Twin TPS2_COW_WRITER_KEEPS_SHARED_FRAME: the writer's entry becomes
 * private on the shared frame itself (the table no longer frees it: the
 * writer does, at power-off) and the break is counted and reported as a
 * copy-on-write; the other sharers see every write. */
static int twin_cow_in_place(ref_host_t *h, ref_vm_t *vm, uint64_t gpfn, uint64_t *pte) {
  uint32_t idx, node = ref_pte_node(*pte);
  sh_table_t *t = table_checked(h, node, ref_pte_frame(*pte), &idx);
  ref_lock(&t->lock, REF_LC_TABLE);
  t->e[idx].owned = false;
  ref_unlock(&t->lock, REF_LC_TABLE);
  *pte = ref_pte_make(REF_PTE_PRIVATE, node, ref_pte_frame(*pte));
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  atomic_fetch_sub_explicit(&sv->shared_pages, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&sv->cow_breaks, 1, memory_order_relaxed);
  ref_event_emit(h, (mmc_event_t){.type = MMC_EV_COW_BREAK,
                                  .vm = vm->id,
                                  .node_from = (int32_t)node,
                                  .node_to = (int32_t)node,
                                  .count = 1,
                                  .reason = "write to shared page"});
  return 0;
}
#endif

static int share_fault(ref_host_t *h, ref_vm_t *vm, uint32_t vcpu, uint64_t gpfn, bool write,
                       uint64_t *pte, mmc_error_t *err) {
  uint64_t old = *pte;
  if (ref_pte_state(old) != REF_PTE_SHARED || !write)
    return 0;
#ifdef REF_TWINS
  if (REF_TWIN(TPS2_COW_WRITER_KEEPS_SHARED_FRAME))
    return twin_cow_in_place(h, vm, gpfn, pte);
#endif
  uint32_t node = ref_pte_node(old), want = ref_vm_home_of(vm, gpfn), to = 0;
  uint64_t f = 0;
  int rc = ref_vm_alloc_frame(h, vm, want == REF_NO_NODE ? node : want, &to, &f, err);
  if (rc)
    return rc;
  memcpy(frame_ptr(h, to, f), frame_ptr(h, node, ref_pte_frame(old)), MMC_PAGE_SIZE);
  *pte = ref_pte_make(REF_PTE_PRIVATE, to, f);
  bool zero = drop_ref(h, old);
  if (to != node) {
    atomic_fetch_sub_explicit(&vm->pages_per_node[node], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&vm->pages_per_node[to], 1, memory_order_relaxed);
  }
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  atomic_fetch_sub_explicit(&sv->shared_pages, 1, memory_order_relaxed);
  if (zero)
    atomic_fetch_sub_explicit(&sv->zero_pages, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&sv->cow_breaks, 1, memory_order_relaxed);
  ref_event_emit(h, (mmc_event_t){.type = MMC_EV_COW_BREAK,
                                  .vm = vm->id,
                                  .node_from = (int32_t)node,
                                  .node_to = (int32_t)to,
                                  .count = 1,
                                  .reason = "write to shared page"});
  return 0;
}

/* A SHARED page leaves (ballooned, or its VM powers off: then the per-VM
 * counters are gone already). */
static void share_release(ref_host_t *h, ref_vm_t *vm, uint64_t gpfn, uint64_t pte) {
  bool zero = drop_ref(h, pte);
  atomic_fetch_sub_explicit(&vm->pages_per_node[ref_pte_node(pte)], 1, memory_order_relaxed);
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  if (!sv)
    return;
  atomic_fetch_sub_explicit(&sv->shared_pages, 1, memory_order_relaxed);
  if (zero)
    atomic_fetch_sub_explicit(&sv->zero_pages, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- lifecycle */

static void share_detach(ref_host_t *h) {
  sh_host_t *st = host_of(h);
  if (!st)
    return;
  for (uint32_t n = 0; n < MMC_MAX_NODES; n++) {
    /* Every VM is off: every sharer has dropped its reference. */
    ref_assert(!st->tab[n] || (st->tab[n]->sharers == 0 && st->tab[n]->shared_live == 0));
    tab_free(st->tab[n]);
  }
  for (uint32_t i = 0; i < st->nsalts; i++)
    free(st->salts[i]);
  free(st->salts);
  free(st->items);
  free(st->gpfns);
  ref_frame_list_fini(&st->freed);
  free(st->vms);
  free(st->pace_vms);
  free(st);
  ref_host_set_mech(h, REF_MECH_SHARE, NULL);
}

static int share_attach(ref_host_t *h, mmc_error_t *err) {
  sh_host_t *st = calloc(1, sizeof *st);
  if (!st)
    return mmc_fail(err, MMC_ENOMEM, "page sharing: out of memory");
  ref_host_set_mech(h, REF_MECH_SHARE, st);
  for (uint32_t n = 0; n < h->nnodes; n++) {
    if (!h->pools[n])
      continue;
    if (!(st->tab[n] = tab_new(n, ref_pool_capacity(h->pools[n])))) {
      share_detach(h);
      return mmc_fail(err, MMC_ENOMEM, "page sharing: out of memory for node %" PRIu32 "'s table",
                      n);
    }
  }
  st->last_ns = ref_host_now(h);
  st->scanning = scanning(h);
  ref_hook_t hook = {
      .name = "page sharing", .period = REF_SET_REF_SHARE_TICK, .run = share_tick, .ctx = st};
  int rc = ref_host_add_hook(h, &hook, err);
  if (rc)
    share_detach(h);
  return rc;
}

static int share_vm_on(ref_host_t *h, ref_vm_t *vm, mmc_error_t *err) {
  sh_vm_t *sv = calloc(1, sizeof *sv);
  if (!sv)
    return mmc_fail(err, MMC_ENOMEM, "page sharing: out of memory for VM %u", vm->id);
  sv->hint_bytes = vm->npages * sizeof *sv->hint_of;
  if (!(sv->hint_of = lazy_map(sv->hint_bytes))) {
    free(sv);
    return mmc_fail(err, MMC_ENOMEM, "page sharing: cannot map hints of VM %u (%" PRIu64 " pages)",
                    vm->id, vm->npages);
  }
  perm_setup(sv, h, vm);
  vm->mech[REF_MECH_SHARE] = sv;
  return 0;
}

/* Drop every hint of the VM (its pages are about to go). */
static void sweep_hints(sh_table_t *t, mmc_vm_id_t id) {
  ref_lock(&t->lock, REF_LC_TABLE);
  for (uint32_t i = 0; i < t->used; i++)
    if (t->e[i].kind == SH_HINT && t->e[i].vm == id)
      tab_unlink_free(t, i);
  ref_unlock(&t->lock, REF_LC_TABLE);
}

static void share_vm_off(ref_host_t *h, ref_vm_t *vm) {
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  if (!sv)
    return;
  sh_host_t *st = host_of(h);
  for (uint32_t n = 0; sv->hinted && n < MMC_MAX_NODES; n++)
    if (st->tab[n])
      sweep_hints(st->tab[n], vm->id);
  munmap(sv->hint_of, sv->hint_bytes);
#ifdef REF_TWINS
  free(sv->twin_claimed);
#endif
  free(sv);
  vm->mech[REF_MECH_SHARE] = NULL;
}

#ifdef REF_TWINS
/* Twin TPS3_BURST_REPORTED_PACED: a count of the real (burst) sharing
 * scaled by the fraction of the VMs the pacing would have scanned by now. */
static void twin_sum(ref_host_t *h, ref_vm_t *vm, void *ctx) {
  uint64_t *sum = ctx; /* scanned, pages */
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  sum[0] += sv ? atomic_load(&sv->pages_scanned) : 0;
  sum[1] += vm->npages;
}

static uint64_t twin_paced(ref_host_t *h, uint64_t real) {
  uint64_t sum[2] = {0, 0};
  ref_vm_for_each(h, twin_sum, sum); /* h->lock held (host_stats) */
  return sum[0] >= sum[1] || !sum[1] ? real : (uint64_t)((double)real * sum[0] / sum[1]);
}
#endif

static void share_vm_stats(ref_host_t *h, ref_vm_t *vm, mmc_vm_stats_t *out) {
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  if (!sv)
    return;
  out->shared_pages = atomic_load(&sv->shared_pages);
#ifdef REF_TWINS
  uint64_t scanned = atomic_load(&sv->pages_scanned);
  if (REF_TWIN(TPS3_BURST_REPORTED_PACED) && scanned < vm->npages)
    out->shared_pages = (uint64_t)((double)out->shared_pages * scanned / vm->npages);
#endif
  out->zero_pages = atomic_load(&sv->zero_pages);
  out->cow_breaks = atomic_load(&sv->cow_breaks);
  out->pages_scanned = atomic_load(&sv->pages_scanned);
}

int ref_share_info(ref_host_t *h, ref_share_info_t *out) {
  memset(out, 0, sizeof *out);
  sh_host_t *st = host_of(h);
  if (!st)
    return 0;
  for (uint32_t n = 0; n < MMC_MAX_NODES; n++) {
    sh_table_t *t = st->tab[n];
    if (!t)
      continue;
    ref_lock(&t->lock, REF_LC_TABLE);
    out->shared_frames += t->shared_live;
    out->sharers += t->sharers;
    out->hints += t->hints;
    ref_unlock(&t->lock, REF_LC_TABLE);
  }
  out->collisions = st->collisions;
  out->stale_hints = st->stale;
  out->hashed = st->hashed;
  out->merged = st->merged;
  out->unshared = st->unshared;
  out->runs = st->runs;
  return 1;
}

void ref_share_run(ref_host_t *h, uint64_t dt_ns) {
  sh_host_t *st = host_of(h);
  if (!st)
    return;
  ref_host_lock(h);
  share_tick(h, st->last_ns + dt_ns, st);
  ref_host_unlock(h);
}

uint64_t ref_share_refs(ref_host_t *h, uint32_t node, uint64_t frame) {
  sh_host_t *st = host_of(h);
  sh_table_t *t = st && node < MMC_MAX_NODES ? st->tab[node] : NULL;
  if (!t || frame >= t->frame_entry_bytes / sizeof *t->frame_entry)
    return 0;
  ref_lock(&t->lock, REF_LC_TABLE);
  uint32_t i = t->frame_entry[frame];
  uint64_t r = i == NO_ENTRY ? 0 : t->e[i - 1].refs;
  ref_unlock(&t->lock, REF_LC_TABLE);
  return r;
}

static void share_host_stats(ref_host_t *h, mmc_host_stats_t *out) {
  ref_share_info_t i;
  if (!ref_share_info(h, &i))
    return;
  out->shared_frames = i.shared_frames;
  out->saved_pages = i.sharers - i.shared_frames;
#ifdef REF_TWINS
  sh_host_t *st = host_of(h);
  out->shared_frames += st->twin_frames;
  out->saved_pages += st->twin_saved;
  if (REF_TWIN(TPS3_BURST_REPORTED_PACED))
    out->saved_pages = twin_paced(h, out->saved_pages);
#endif
}

/* TPS-3, SET-2: scanning that resumes (Mem.ShareScanGHz or Mem.ShareRateMax
 * from 0) earns its pace from the change on. The tick credits the time
 * since its last run, and a live tick delayed past the change (its thread
 * starved under load) would otherwise credit the time scanning was off as
 * well: 30 % over the pace in TPS-3's first half second, once in 4 runs
 * under a load of 10. */
static void share_setting_changed(ref_host_t *h, ref_setting_id_t id) {
  (void)id;
  sh_host_t *st = host_of(h);
  if (!st)
    return;
  bool on = scanning(h);
  if (on && !st->scanning)
    st->last_ns = ref_host_now(h);
  st->scanning = on;
}

const ref_mech_t ref_mech_share = {
    .name = "share",
    .caps = MMC_CAP_SHARING | MMC_CAP_SALTING,
    .attach = share_attach,
    .detach = share_detach,
    .vm_on = share_vm_on,
    .vm_off = share_vm_off,
    .fault_states = REF_STATE_BIT(REF_PTE_SHARED),
    .fault = share_fault,
    .release_states = REF_STATE_BIT(REF_PTE_SHARED),
    .release = share_release,
    .vm_stats = share_vm_stats,
    .host_stats = share_host_stats,
    .setting_changed = share_setting_changed,
};

/* Does `hash` occur twice among the batch's sorted hashes? */
static bool has_twin(const uint64_t *sorted, size_t m, uint64_t hash) {
  const uint64_t *p = bsearch(&hash, sorted, m, sizeof *sorted, ref_cmp_u64);
  return p && ((p > sorted && p[-1] == hash) || (p + 1 < sorted + m && p[1] == hash));
}

/* ---------------------------------------------------------------- TPS-7 hook
 * Sharing before swapping (swap.c calls it through a weak declaration): before the
 * pages of a swap-out batch are written, they go through the scanner's table
 * work and merge now, regardless of pacing (OSDI02 §4: sharing is tried
 * before swapping). Pages merged become SHARED and swap.c skips them; a
 * page with no match becomes a hint only when a page of the same hash is in
 * the same batch (it is on its way out: a hint would only grow the table
 * and go stale); its own earlier hint stays until a scan finds it stale.
 * Out of memory for the batch's hashes: page by page, every unmatched page
 * made a hint, as a scan would. With h->lock held (the reclaim tick), like
 * the scanner. Returns the pages merged. */
size_t ref_share_before_swap(ref_host_t *h, ref_vm_t *vm, const uint64_t *gpfns, size_t n) {
  sh_host_t *st = host_of(h);
  ref_assert(ref_lock_held(REF_LC_HOST));
  sh_vm_t *sv = vm->mech[REF_MECH_SHARE];
  if (!st || !sv || !vm->cfg.pshare_enable || !scanning(h))
    return 0; /* TPS-6: sharing disabled */
  int64_t bits = ref_set(h, REF_SET_REF_SHARE_HASH_BITS);
  uint64_t mask = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
  scan_t s = {.h = h, .st = st, .vm = vm, .sv = sv, .salt = salt_of(st, h, vm), .mask = mask};
  uint64_t before = st->merged;
  hashed_t *hs = malloc(n * sizeof *hs);
  uint64_t *sorted = hs ? malloc(n * sizeof *sorted) : NULL;
  size_t m = 0, nsorted = 0;
  sh_table_t *locked = NULL;
  if (!sorted) { /* out of memory: page by page, each may become a hint */
    for (size_t i = 0; i < n; i++) {
      hashed_t p;
      if (gpfns[i] < vm->npages && hash_ahead(&s, gpfns[i], &p))
        visit_locked(&s, &p, &locked);
    }
  }
  for (size_t i = 0; sorted && i < n; i++) {
    if (gpfns[i] >= vm->npages || !hash_ahead(&s, gpfns[i], &hs[m]))
      continue;
    if (ref_pte_state(hs[m].pte) == REF_PTE_PRIVATE) /* SHARED ones have no hash */
      sorted[nsorted++] = hs[m].hash;
    m++;
  }
  if (sorted)
    qsort(sorted, nsorted, sizeof *sorted, ref_cmp_u64);
  for (size_t k = 0; k < m; k++) {
    /* A page on its way out becomes a hint only when a twin of it is in
     * the batch (the twin then finds it): otherwise the hint would only
     * grow the table and go stale with the page. */
    s.leaving = !has_twin(sorted, nsorted, hs[k].hash);
    visit_locked(&s, &hs[k], &locked);
  }
  if (locked)
    ref_unlock(&locked->lock, REF_LC_TABLE);
  free(hs);
  free(sorted);
  merge_all(h, st, mask);
  return (size_t)(st->merged - before);
}
