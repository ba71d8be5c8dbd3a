/*
** omen: an embedded vector database.
**
** A database (omen_db) holds named collections (omen_coll). A collection
** stores vectors of one dimension under string ids, with optional metadata,
** and answers nearest-neighbour queries through an HNSW graph or an exact
** scan. There is no global state: any number of databases may be open in one
** process, each with its own allocator.
**
** Conventions, as in SQLite and LMDB:
**  - every object is an opaque handle; constructors and destructors pair up
**    (omen_open / omen_close, omen_coll_open / omen_coll_close, ...);
**  - functions return an int: OMEN_OK (0) or a negative OMEN_* code;
**    omen_errmsg(db) describes the last failure of the calling thread on
**    that database, omen_strerror(rc) names a code;
**  - a failed call changes nothing.
**
** Threads: handles may be shared between threads. Searches and reads on a
** collection run concurrently; writes to one collection are serialized and
** exclude its readers while they run; different collections are independent.
** An omen_result belongs to one thread at a time.
*/
#ifndef OMEN_H
#define OMEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OMEN_VERSION        "0.1.0"
#define OMEN_VERSION_NUMBER 100 /* major * 10000 + minor * 100 + patch */

const char *omen_version(void);

/* -- Result codes -------------------------------------------------------- */

/* One table gives each code its value and its message, so they cannot drift. */
#define OMEN_ERRORS(X)                                                      \
  X(OK,        0, "not an error")                                         \
  X(ERROR,    -1, "internal error")                                       \
  X(NOMEM,    -2, "out of memory")                                        \
  X(INVALID,  -3, "invalid argument")                                     \
  X(NOTFOUND, -4, "not found")                                            \
  X(EXISTS,   -5, "already exists")                                       \
  X(IOERR,    -6, "input/output error")                                   \
  X(CORRUPT,  -7, "database file is damaged")                             \
  X(NOTOMEN,  -8, "not an omen database")                                 \
  X(FORMAT,   -9, "unsupported database format version")                  \
  X(LOCKED,  -10, "database is locked")                                   \
  X(READONLY,-11, "database is read-only")                                \
  X(CLOSED,  -12, "database is closed")                                  \
  X(DROPPED, -13, "collection was dropped")                               \
  X(INTERRUPTED, -14, "interrupted")

enum {
#define OMEN__CODE(name, value, msg) OMEN_##name = value,
  OMEN_ERRORS(OMEN__CODE)
#undef OMEN__CODE
};

/* The fixed message of a result code ("unknown error" for other values). */
const char *omen_strerror(int rc);

/* -- Databases ----------------------------------------------------------- */

typedef struct omen_db omen_db;
typedef struct omen_coll omen_coll;

/* Allocator hook, shaped like lua_Alloc: allocate (ptr NULL), resize, or
** free (nsize 0, return NULL). osize is the size previously asked for ptr. */
typedef void *(*omen_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

/* Reject every write with OMEN_READONLY, and follow the process that writes
** the file: see "Live readers" below. */
#define OMEN_OPEN_READONLY 0x1u
#define OMEN_OPEN_VERIFY   0x2u /* check every checksum while opening */
/* A log damaged before its end (a bad record with whole records after it,
** not the torn tail a crash leaves) makes omen_open fail with OMEN_CORRUPT
** and change nothing. With this flag, the records before the damage are
** applied and the damaged one and all after it are dropped (for good, on a
** read-write open: the log is cut there). */
#define OMEN_OPEN_TRUNCATE_LOG 0x4u

/* What survives what. Every write is appended to the write-ahead log
** beside the file ("<path>-wal") before its call returns:
**  NORMAL  (default) the log is written to the operating system: every call
**          that returned survives a crash of the process (kill -9);
**  FULL    and synced to the disk: it also survives power loss;
**  OFF     the log is buffered in memory and written in large pieces: fast
**          bulk loads, but a crash loses the writes since the last
**          omen_flush or checkpoint.
** omen_flush makes everything so far survive power loss in any mode. */
typedef enum omen_sync {
  OMEN_SYNC_NORMAL = 0,
  OMEN_SYNC_FULL = 1,
  OMEN_SYNC_OFF = 2
} omen_sync;

typedef struct omen_options {
  omen_alloc_fn alloc;   /* NULL: the C library's malloc/realloc/free */
  void *alloc_ud;
  unsigned flags;        /* OMEN_OPEN_* */
  omen_sync sync;
  uint64_t checkpoint_bytes; /* fold the log into the file once it is this
                                large; 0: max(64 MiB, a quarter of the file) */
  uint32_t refresh_ms;   /* read-only: look for the writer's new writes at
                            most this often; 0: before every call;
                            OMEN_REFRESH_MANUAL: only in omen_refresh */
  const struct omen_tokenizer *tokenizers; /* registered before the file is
                            loaded (see omen_tokenizer_register) */
  size_t n_tokenizers;
} omen_options;

#define OMEN_REFRESH_MANUAL UINT32_MAX

void omen_options_init(omen_options *opts);

/* Open the database at path, creating it when missing. path NULL or
** ":memory:" opens a database that lives in memory only. opts may be NULL.
** As in SQLite, *db is set even on failure (unless memory ran out) so that
** omen_errmsg(*db) can tell why; close it with omen_close. */
int omen_open(const char *path, const omen_options *opts, omen_db **db);

/* Write the database to its file (unless in memory or read-only), release
** the file and all data, and invalidate its collection handles, whose later
** calls fail with OMEN_CLOSED. The memory of the handle itself lives until
** its last collection handle is closed, so handles may be released in any
** order; db must not be used after this call except through them. Returns
** the error of the final write, if any (the data it could not write is lost;
** call omen_checkpoint first to handle that case). */
int omen_close(omen_db *db);

/* Fold the log into the database file: write the whole database to a new
** file, sync it and rename it over the old one, then empty the log. Done
** automatically as the log grows, and by omen_close. A crash at any point
** leaves the old or the new file, with the log that completes it. Does
** nothing for in-memory or read-only databases. */
int omen_checkpoint(omen_db *db);

/* Interrupt the searches running on db at this moment, from another thread
** or a signal handler (it only bumps a counter: async-signal-safe). Exact
** scans stop within a chunk of records and batches between queries; they
** fail with OMEN_INTERRUPTED and leave their results empty. Writes are not
** interrupted: they run to completion. Calls that start afterwards are not
** affected. db must stay open while this runs. */
void omen_interrupt(omen_db *db);

/* Make every write so far survive power loss (sync the log). */
int omen_flush(omen_db *db);

/* Live readers. One process writes a database file; any number of others
** (or other handles in the same process) open it with OMEN_OPEN_READONLY.
** Before each call that reads (searches, gets, lists, counts, info,
** opening or listing collections) a reader takes in every write the writer
** had committed when the call began: the log's new records are applied in
** the reader's memory, and a file that a checkpoint or compaction replaced
** is mapped afresh, its collection handles carried over (a collection the
** writer dropped fails with OMEN_DROPPED). A call sees one state: a batch
** whole or not at all. Looking costs two stat() calls when nothing changed;
** refresh_ms spaces the looks out, and omen_refresh looks now. Applying the
** writer's records costs the reader what the writes cost the writer.
** Calls that go on from one to the next (omen_list's cursor) see each
** call's state: a reader that must hold still across several calls opens
** with refresh_ms OMEN_REFRESH_MANUAL and calls omen_refresh between them.
**
** Committed means written to the log: every call that returned with sync
** NORMAL or FULL; with OFF, the writes that omen_flush, a checkpoint or a
** full buffer wrote out. Readers take no lock and write nothing, so the
** writer never waits for them and a reader that hangs or is killed holds
** nobody up; they need read access to the file and its log only. A reader
** keeps serving what it had when it cannot follow (the call fails and says
** why). Writers, in-memory and closed databases: omen_refresh does nothing. */
int omen_refresh(omen_db *db);

/* Give the slots of deleted records back: renumber every collection's
** records densely and write the smaller file (a checkpoint). The automatic
** checkpoints of a growing log do this by themselves for collections with a
** quarter of their slots deleted. */
int omen_compact(omen_db *db);

/* Check the whole database against its checksums and bounds now (opening
** checks everything but the bulk of vectors and links, which is otherwise
** checked as it is first used): OMEN_OK or OMEN_CORRUPT. */
int omen_verify(omen_db *db);

/* Message of the last failed call made by this thread on db or on one of its
** collections. Never NULL. */
const char *omen_errmsg(omen_db *db);

/* Path given at open, or ":memory:". */
const char *omen_path(omen_db *db);

/* The instruction set of db's distance kernels: "avx512", "avx2" or
** "scalar". The best this CPU runs, unless the environment variable
** OMEN_ISA names a lower one when the database opens (to compare kernels in
** benchmarks and tests on one machine; a name omen does not know fails the
** open). */
const char *omen_isa(omen_db *db);

/* The bytes of the database file and of its log as they are on disk now
** (0 and 0 in memory; a log that is not there counts 0). */
int omen_file_sizes(omen_db *db, uint64_t *file_bytes, uint64_t *log_bytes);

/* -- Collections --------------------------------------------------------- */

typedef enum omen_metric {
  OMEN_L2 = 1,     /* distance = squared Euclidean distance */
  OMEN_COSINE = 2, /* distance = 1 - cosine similarity */
  OMEN_IP = 3      /* distance = -(inner product) */
} omen_metric;

/* "l2", "cosine", "ip" <-> omen_metric; 0 / NULL when unknown. */
omen_metric omen_metric_from_name(const char *name);
const char *omen_metric_name(omen_metric metric);
/* The name of the i-th metric this build knows (from 0); NULL past the last. */
const char *omen_metric_at(size_t i);

#define OMEN_MAX_DIM   65536
#define OMEN_MAX_M     128
#define OMEN_MAX_ID    1024       /* bytes in an id */
#define OMEN_MAX_NAME  255        /* bytes in a collection name */
#define OMEN_MAX_META  (1u << 20) /* bytes of encoded metadata per record */
#define OMEN_MAX_K     (1u << 20) /* results of one search */
#define OMEN_MAX_EF    65536      /* ef_construction, ef_search, a search's ef */

/* What graph walks read. With OMEN_QUANT_SQ8 a collection also keeps an
** 8-bit copy of its vectors (a quarter of their size, in memory only) and
** walks the graph on it: several times fewer bytes per step. With
** OMEN_QUANT_PCA8 the copy is of the vectors' projections on the quarter
** of the directions along which the data varies most (found at each fit,
** like sq8's ranges): a sixteenth of their size, for up to 4,096
** components. Candidates are measured again on the float vectors, so the
** results and their distances are exact; only which candidates the walk
** finds may differ slightly (a larger ef makes up for it). */
typedef enum omen_quant {
  OMEN_QUANT_NONE = 0, /* the float vectors (default) */
  OMEN_QUANT_SQ8 = 1,  /* one byte per component, one scale for all */
  OMEN_QUANT_PCA8 = 2, /* one byte per principal direction, dim / 4 of them */
  /* The default: chosen when the collection is created, by its dimension:
  ** pca8 from 128 to 4,096 components (where walking on a projection
  ** pays), none below and above. The collection records the kind chosen. */
  OMEN_QUANT_AUTO = 255
} omen_quant;

/* "none", "sq8", "pca8", "auto" <-> omen_quant; -1 / NULL when unknown. */
int omen_quant_from_name(const char *name);
const char *omen_quant_name(omen_quant quant);
/* The name of the i-th quantization this build knows (from 0); NULL past the
** last. */
const char *omen_quantization_at(size_t i);

typedef struct omen_coll_config {
  uint32_t dim;             /* 1 .. OMEN_MAX_DIM */
  omen_metric metric;       /* default OMEN_L2 */
  uint32_t m;               /* graph degree, 2 .. OMEN_MAX_M; default 16 */
  uint32_t ef_construction; /* default 200 */
  uint32_t ef_search;       /* default 64 */
  omen_quant quantization;  /* default OMEN_QUANT_AUTO */
} omen_coll_config;

void omen_coll_config_init(omen_coll_config *cfg, uint32_t dim);

/* Create a collection (OMEN_EXISTS if the name is taken) and open a handle
** on it. Names are 1 .. OMEN_MAX_NAME bytes of UTF-8 without NUL. */
int omen_coll_create(omen_db *db, const char *name, const omen_coll_config *cfg,
                     omen_coll **coll);

/* Open a handle on an existing collection (OMEN_NOTFOUND if missing). */
int omen_coll_open(omen_db *db, const char *name, omen_coll **coll);

/* Release a handle. The collection itself stays in the database. */
void omen_coll_close(omen_coll *coll);

/* Remove a collection and its data. Open handles on it then fail with
** OMEN_DROPPED until closed. */
int omen_coll_drop(omen_db *db, const char *name);

/* Names of all collections, each followed by a NUL, in buf (sorted by name).
** *needed is set to the bytes required and *count to the number of names;
** when cap is too small nothing is written and OMEN_OK is still returned,
** so call again with a larger buffer. */
int omen_coll_names(omen_db *db, char *buf, size_t cap, size_t *needed,
                    size_t *count);

/* The database a handle belongs to, and the collection's name. */
omen_db *omen_coll_db(omen_coll *coll);
const char *omen_coll_name(omen_coll *coll);

typedef struct omen_coll_info {
  omen_coll_config config;
  uint64_t count;        /* live records */
  uint64_t slots;        /* slots in use, including deleted ones awaiting reuse */
  uint64_t deleted;      /* deleted slots awaiting reuse */
  uint64_t memory;       /* bytes held by the collection */
  uint32_t max_level;    /* height of the graph */
  uint64_t graph_inserts;/* nodes linked into the graph since it was opened
                            (opening a file links none: nothing is rebuilt) */
  /* The text index (all 0 without one): */
  char text_field[256];  /* the field it indexes, NUL-terminated ("": none) */
  uint64_t text_docs;    /* records it holds */
  uint64_t text_terms;   /* distinct terms */
  uint64_t text_bytes;   /* bytes of its encoded arrays (what the file holds
                            of it after a checkpoint) */
} omen_coll_info;

int omen_coll_info_get(omen_coll *coll, omen_coll_info *info);

/* -- Records ------------------------------------------------------------- */

typedef struct omen_str {
  const char *ptr;
  size_t len;
} omen_str;

typedef enum omen_type {
  OMEN_NUMBER = 1,  /* double, not NaN */
  OMEN_STRING = 2,
  OMEN_BOOL = 3,
  OMEN_STRINGS = 4  /* array of strings */
} omen_type;

typedef struct omen_value {
  omen_type type;
  union {
    double number;
    int boolean;
    omen_str string;
    struct {
      const omen_str *items;
      size_t n;
    } strings;
  } u;
} omen_value;

/* A metadata field. Keys are 1 .. 255 bytes; a key appears once per record. */
typedef struct omen_field {
  omen_str key;
  omen_value value;
} omen_field;

typedef struct omen_meta {
  const omen_field *fields;
  size_t n;
} omen_meta;

/* Insert or replace the record with this id. vec holds dim floats, all
** finite (and not all zero for the cosine metric). meta may be NULL. */
int omen_upsert(omen_coll *coll, const char *id, size_t id_len,
                const float *vec, const omen_field *meta, size_t n_meta);

/* Upsert n records at once: ids[i], the n * dim floats of vecs, and metas[i]
** (metas may be NULL). Either every record is stored or, on error, none is.
** When an id appears twice the later record wins. threads: how many threads
** build the graph; 0 (or more than there are) means one per available core. */
int omen_upsert_batch(omen_coll *coll, size_t n, const omen_str *ids,
                      const float *vecs, const omen_meta *metas,
                      unsigned threads);

/* Remove a record: OMEN_OK if it existed, OMEN_NOTFOUND if not. It leaves
** search results at once; its slot is reused by a later insert. */
int omen_delete(omen_coll *coll, const char *id, size_t id_len);

int omen_count(omen_coll *coll, uint64_t *count);

/* -- Filters ---------------------------------------------------------------- */

/* A filter is a tree of conditions on metadata, in the style of document
** queries: {cat = "shoes", price = {$lt = 50}}. Comparisons name a field;
** a record without the field fails them, except $ne, $nin and
** {$exists = false}. On an array-of-strings field, $eq, $ne, $in, $nin and
** the order comparisons look at its items ($eq: some item equals), and
** $contains asks for an item. Order comparisons take a number or a string
** (strings compare bytewise) and ignore fields of the other type. */
typedef enum omen_op {
  OMEN_OP_AND = 1,  /* all kids */
  OMEN_OP_OR,       /* some kid */
  OMEN_OP_NOT,      /* not its one kid */
  OMEN_OP_EQ,       /* value: string, number or boolean */
  OMEN_OP_NE,
  OMEN_OP_GT,       /* value: number or string */
  OMEN_OP_GTE,
  OMEN_OP_LT,
  OMEN_OP_LTE,
  OMEN_OP_IN,       /* values: strings, numbers or booleans */
  OMEN_OP_NIN,
  OMEN_OP_CONTAINS, /* value: string; the field is an array holding it */
  OMEN_OP_EXISTS    /* value: boolean; whether the field is there */
} omen_op;

/* "$and", "$eq", ... <-> omen_op; 0 / NULL when unknown. */
omen_op omen_op_from_name(const char *name);
const char *omen_op_name(omen_op op);

typedef struct omen_cond {
  omen_op op;
  omen_str key;                  /* comparisons: the field */
  omen_value value;              /* the operand of one-value operators */
  const omen_value *values;      /* $in, $nin */
  size_t n_values;
  const struct omen_cond *kids;  /* $and, $or (one or more), $not (one) */
  size_t n_kids;
} omen_cond;

typedef struct omen_filter omen_filter;

/* Check a condition tree and compile it (OMEN_INVALID with a message
** naming the problem). The filter keeps field names, not positions, so it
** serves any collection of db, now and after later writes. */
int omen_filter_new(omen_db *db, const omen_cond *root, omen_filter **filter);
void omen_filter_free(omen_filter *filter);

/* The number of records that match. */
int omen_count_where(omen_coll *coll, const omen_filter *filter,
                     uint64_t *count);

/* Delete every record that matches, as one atomic write; *deleted receives
** how many. */
int omen_delete_where(omen_coll *coll, const omen_filter *filter,
                      uint64_t *deleted);

/* -- Full-text search ------------------------------------------------------ */

/* A collection may index one metadata field for full-text search: each
** record's value of it (a string, or an array of strings read one after
** the other) is split into terms, and searches rank records by BM25. With
** only the field set, tokenizing and scoring are SQLite FTS5's defaults
** (the unicode61 tokenizer removing diacritics of Latin letters, no
** stemming; BM25 with k1 1.2, b 0.75 and FTS5's idf), so rankings can be
** compared with FTS5's bm25(). Records without the field are not in the
** index; writes keep it exact, through the log like every write. */
typedef struct omen_text_config {
  omen_str field;         /* the metadata field, 1 .. 255 bytes */
  const char *tokenizer;  /* "unicode61" (NULL: default) or "trigram" (every
                             three characters, for code and identifiers), or
                             the name of a registered omen_tokenizer */
  const char *stemmer;    /* NULL or "none", or "porter" (English) */
  int remove_diacritics;  /* 0 keep; 1 and 2 as FTS5's option (Latin); 3
                             also Greek and Cyrillic; -1 (default): the
                             tokenizer's default, as in FTS5 (unicode61 1,
                             trigram 0) */
  int case_sensitive;     /* trigram only: do not fold case */
  const omen_str *stopwords; /* terms left out of documents and queries */
  size_t n_stopwords;
  double k1, b;           /* BM25's parameters: 1.2 and 0.75 */
} omen_text_config;

void omen_text_config_init(omen_text_config *cfg, const char *field);

/* A tokenizer of the application's, named in omen_text_config.tokenizer
** in place of a built-in one (from Lua: a function). It is called with the
** text of each record written, of each record removed (to find its terms
** again: it must give the same terms for the same text), and of each query,
** on the thread making the call, and hands each term to
** omen_token_emit in order; it returns 0, or nonzero to fail the call (say
** why with omen_token_error first). Stopwords are compared with the terms
** it gives. It must not call omen itself (such calls fail with
** OMEN_INVALID). A database whose collections name a tokenizer needs it
** registered before they are written or searched, and before its log is
** replayed: pass it in omen_options.tokenizers (an open whose log holds
** writes to such a collection fails without it, naming it). Readers that
** do not have it (a C program reading a database indexed by a Lua
** tokenizer) can still open a checkpointed file and search its vectors;
** their text searches and writes to that collection fail, naming the
** tokenizer. */
typedef struct omen_token_sink omen_token_sink;

/* Hand one term (1 .. 255 bytes; longer ones are cut, empty ones skipped)
** to the index; returns nonzero when the tokenizer must stop and return
** that value. */
int omen_token_emit(omen_token_sink *sink, const char *term, size_t len);
void omen_token_error(omen_token_sink *sink, const char *msg);

typedef int (*omen_tokenize_fn)(void *ud, const char *text, size_t len,
                                omen_token_sink *sink);

typedef struct omen_tokenizer {
  const char *name;       /* 1 .. 64 bytes, not "unicode61" or "trigram" */
  omen_tokenize_fn fn;
  void *ud;
} omen_tokenizer;

/* Register a tokenizer on db (replacing one of the same name), for the
** collections that name it now and later. */
int omen_tokenizer_register(omen_db *db, const omen_tokenizer *tok);

/* Index the field of every record of coll, now and as records are written.
** OMEN_EXISTS when coll has a text index already. */
int omen_text_index(omen_coll *coll, const omen_text_config *cfg);

/* -- Results, search and get --------------------------------------------- */

/* A reusable buffer that receives hits. After warm-up, searches into the same
** result allocate nothing. Pointers in hits stay valid until the next call
** that fills the result, or omen_result_free. */
typedef struct omen_result omen_result;

typedef struct omen_hit {
  omen_str id;
  float distance;          /* smaller is closer; NAN in text-only searches */
  float score;             /* text and fused searches: higher is better (BM25,
                              or the fused score); NAN in vector searches */
  const float *vec;        /* dim floats, or NULL unless asked for */
  const omen_field *meta;  /* n_meta fields (NULL when none or not asked) */
  size_t n_meta;
} omen_hit;

int omen_result_new(omen_db *db, omen_result **result);
void omen_result_free(omen_result *result);
size_t omen_result_count(const omen_result *result);
const omen_hit *omen_result_hit(const omen_result *result, size_t i);

#define OMEN_WITH_META   0x1u
#define OMEN_WITH_VECTOR 0x2u

/* How a search finds its hits. AUTO: the graph, or a scan when the
** collection is small or a filter lets few records through (estimated on
** a sample). The others force a way, for benchmarks and tests; a graph
** search that comes up short of min(k, matches) still ends in a scan. */
typedef enum omen_plan {
  OMEN_PLAN_AUTO = 0,
  OMEN_PLAN_GRAPH = 1,
  OMEN_PLAN_SCAN = 2
} omen_plan;

/* How a search with both a query vector and a text query combines the two
** rankings. Each half ranks `depth` records; then
**  RRF     score = vector_weight / (rrf_k + vector rank)
**                + text_weight / (rrf_k + text rank), ranks from 1, a half
**          that did not rank a record adding nothing;
**  LINEAR  score = alpha * v + (1 - alpha) * t, where v and t are the
**          halves' scores scaled to 0 .. 1 over the records each ranked
**          (v from the distance: the closest 1, the farthest 0), 0 where
**          a half did not rank the record. */
typedef enum omen_fusion {
  OMEN_FUSION_RRF = 0,
  OMEN_FUSION_LINEAR = 1
} omen_fusion;

typedef struct omen_search_opts {
  uint32_t k;        /* hits wanted, >= 1 */
  uint32_t ef;       /* candidate list size; 0 = the collection's ef_search */
  int exact;         /* nonzero: scan every record (OMEN_PLAN_SCAN) */
  unsigned with;     /* OMEN_WITH_* */
  const omen_filter *filter; /* only records that match; NULL: all */
  omen_plan plan;
  /* Full text (a collection with a text index, see omen_text_index): the
  ** query's words rank records by BM25, any of them matching; "+word"
  ** requires a word, "-word" excludes records holding it; a "quoted
  ** phrase" (+"..." and -"..." too) matches its words one after the other
  ** and scores as one term. With a NULL query vector, the search is by
  ** text alone (hits in BM25 order); with both, the rankings are fused. */
  const char *text;  /* NULL: no text query */
  size_t text_len;   /* 0: text is NUL-terminated */
  omen_fusion fusion;
  float rrf_k;       /* RRF's constant: 60 */
  float vector_weight, text_weight; /* RRF's weights: 1 and 1 */
  float alpha;       /* LINEAR: the vector's share, 0.5 */
  uint32_t depth;    /* records each half ranks; 0: max(k, 50) */
} omen_search_opts;

void omen_search_opts_init(omen_search_opts *opts, uint32_t k);

/* The min(k, count) records closest to query (dim floats), closest first;
** with a filter, the min(k, matches) closest matching records. Small
** collections, and filters few records match, are scanned exactly. With
** opts->text, see omen_search_opts: query may then be NULL. */
int omen_search(omen_coll *coll, const float *query,
                const omen_search_opts *opts, omen_result *result);

/* Answer n queries (n * dim floats) with the same options, results[i]
** receiving the hits of query i, on `threads` threads (0, or more than
** there are: one per available core; the caller is one of them). Every
** query is checked first: bad input fails the call and changes no result;
** a failure while searching leaves every result empty. */
int omen_search_batch(omen_coll *coll, size_t n, const float *queries,
                      const omen_search_opts *opts, omen_result *const *results,
                      unsigned threads);

/* List the records, a page at a time: up to max records (with their
** vectors and metadata as `with` asks), from *cursor on; set *cursor to 0
** for the first page. *cursor moves past the page; an empty result means
** the end. The order is the collection's internal one. Each page is read
** atomically, and without writes in between every record is listed once;
** a record written (or a collection compacted) while a listing is under
** way may be missed or listed twice, since a write can move a record. */
int omen_list(omen_coll *coll, uint64_t *cursor, size_t max, unsigned with,
              omen_result *result);

/* Fetch one record with its vector and metadata: OMEN_NOTFOUND if absent. */
int omen_get(omen_coll *coll, const char *id, size_t id_len,
             omen_result *result);

#ifdef __cplusplus
}
#endif

#endif /* OMEN_H */
