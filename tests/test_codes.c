/*
** Codes, through the seam of codes.h: the sq8 kind's codes decode to within
** half a step, its distances match float distances up to the quantization
** error, its saved parameters are checked before use; sq8 collections
** search as well as float ones (hits carry exact distances), fit again
** when the data moves, shrug off an outlier, and come back the same from a
** file, after compaction too. And a kind added through the seam alone (a
** toy, defined here) builds, searches, saves and reopens.
*/
#include "testutil.h"

#include "codes.h"
#include "distance.h"
#include "omen_int.h"

#define DIM 32
#define N 4000
#define K 10

static omen__mem heap;
static omen__kernels kern;

/* An sq8 codes state of DIM components for the l2 metric. */
static void sq8_codes(omen__codes *cs)
{
  omen__kernels_get(omen__isa_best(), &kern);
  assert_int_equal(omen__codes_init(cs, &heap, OMEN_QUANT_SQ8, DIM, (uint32_t)omen__padded(DIM),
                                    omen__metric(OMEN_L2), &kern), OMEN_OK);
  assert_true(cs->row >= DIM);
}

/* The saved parameters: DIM offsets, then the step. */
static void params(const omen__codes *cs, float *lo, float *step)
{
  float saved[DIM + 1];
  assert_int_equal(cs->kind->saved_bytes(cs), sizeof saved);
  cs->kind->save(cs, saved);
  memcpy(lo, saved, DIM * sizeof(float));
  *step = saved[DIM];
}

/* Fit cs to n rows of dim components. */
static void train_dim(omen__codes *cs, const float *data, size_t n, size_t dim)
{
  const float **rows = malloc(n * sizeof *rows);
  float *muls = malloc(n * sizeof *muls), *work = malloc(n * sizeof *work);
  for (size_t i = 0; i < n; i++) {
    rows[i] = data + i * dim;
    muls[i] = 1.0f;
  }
  assert_int_equal(cs->kind->fit(cs, &heap, rows, muls, n, work), OMEN_OK);
  free(rows);
  free(muls);
  free(work);
}

static void train(omen__codes *cs, const float *data, size_t n)
{
  train_dim(cs, data, n, DIM);
}

static void t_encode(void **state)
{
  (void)state;
  omen__codes cs;
  sq8_codes(&cs);
  const omen__code_kind *k = cs.kind;
  float *data = tu_clustered(200, DIM, 4, 3), lo[DIM], step;
  assert_false(k->fitted(&cs));
  assert_int_equal(k->saved_bytes(&cs), 0);
  assert_int_equal(k->place(&cs, data, 1.0f), OMEN__CODES_FAR); /* not fitted */
  train(&cs, data, 200);
  assert_true(k->fitted(&cs));
  params(&cs, lo, &step);
  assert_true(step > 0);
  uint8_t code[OMEN__CODE_PAD];
  for (size_t i = 0; i < 200; i++) {
    const float *v = data + i * DIM;
    assert_int_equal(k->place(&cs, v, 1.0f), OMEN__CODES_INSIDE); /* 200: none trimmed */
    memset(code, 0xee, sizeof code);
    k->encode(&cs, v, 1.0f, code, NULL);
    for (uint32_t j = 0; j < DIM; j++)
      assert_true(fabsf(lo[j] + step * code[j] - v[j]) <= step * 0.5f + 1e-5f);
    for (size_t j = DIM; j < sizeof code; j++) assert_int_equal(code[j], 0);
  }
  /* Outside the range and its margin: clamped, then far out. */
  float far[DIM];
  memcpy(far, data, sizeof far);
  far[5] = lo[5] + 300.0f * step;
  assert_int_equal(k->place(&cs, far, 1.0f), OMEN__CODES_CLAMPED);
  far[5] += 1000.0f * step;
  assert_int_equal(k->place(&cs, far, 1.0f), OMEN__CODES_FAR);
  far[5] = NAN;
  assert_int_equal(k->place(&cs, far, 1.0f), OMEN__CODES_FAR);
  free(data);
  omen__codes_free(&cs, &heap);
}

/* Saved parameters are checked before they are used. */
static void t_load(void **state)
{
  (void)state;
  omen__codes cs;
  sq8_codes(&cs);
  const omen__code_kind *k = cs.kind;
  float saved[DIM + 1];
  for (int i = 0; i < DIM; i++) saved[i] = (float)i;
  static const float bad_steps[] = {0.0f, -1.0f, INFINITY, NAN};
  for (int i = 0; i < 4; i++) {
    saved[DIM] = bad_steps[i];
    assert_int_equal(k->load(&cs, saved, sizeof saved), OMEN_CORRUPT);
  }
  assert_false(k->fitted(&cs)); /* nothing taken from a refused load */
  saved[DIM] = 0.5f;
  assert_int_equal(k->load(&cs, saved, sizeof saved - 4), OMEN_CORRUPT); /* too short */
  saved[3] = NAN;
  assert_int_equal(k->load(&cs, saved, sizeof saved), OMEN_CORRUPT);
  saved[3] = 3;
  assert_int_equal(k->load(&cs, saved, sizeof saved), OMEN_OK);
  float lo[DIM], step;
  params(&cs, lo, &step);
  assert_true(step == 0.5f && lo[31] == 31);
  assert_int_equal(k->load(&cs, NULL, 0), OMEN_OK); /* none saved: not fitted */
  omen__codes_free(&cs, &heap);
}

/* Distances over codes give float distances back within the error of half
** a step per component, for both kernels. */
static void t_distance_terms(void **state)
{
  (void)state;
  float *data = tu_clustered(100, DIM, 3, 5);
  static const omen_metric metrics[] = {OMEN_L2, OMEN_IP};
  for (int m = 0; m < 2; m++) {
    omen__codes cs;
    omen__kernels_get(omen__isa_best(), &kern);
    assert_int_equal(omen__codes_init(&cs, &heap, OMEN_QUANT_SQ8, DIM, DIM,
                                      omen__metric(metrics[m]), &kern), OMEN_OK);
    train(&cs, data, 100);
    assert_int_equal(omen__codes_reserve(&cs, &heap, 100, 0), OMEN_OK);
    for (uint32_t i = 0; i < 100; i++) omen__codes_put(&cs, i, data + i * DIM, 1.0f);
    omen__space sp = {NULL, metrics[m], data, DIM, NULL, NULL, &cs, NULL, 0};
    float lo[DIM], step;
    params(&cs, lo, &step);
    double err = sqrt((double)DIM) * step; /* bound on | |x-y| - |cx-cy| | */
    for (uint32_t i = 0; i + 1 < 100; i++) {
      const float *x = data + i * DIM, *y = x + DIM;
      double want = tu_dist(metrics[m], x, y, DIM), got = cs.kind->dist_nodes(&sp, i, i + 1);
      if (metrics[m] == OMEN_L2) {
        assert_true(fabs(sqrt(got) - sqrt(want)) <= err);
      } else {
        double nx = sqrt(-tu_dist(OMEN_IP, x, x, DIM)), ny = sqrt(-tu_dist(OMEN_IP, y, y, DIM));
        assert_true(fabs(got - want) <= err * (nx + ny) + err * err + 1e-3);
      }
    }
    omen__codes_free(&cs, &heap);
  }
  free(data);
}

/* -- Collections -------------------------------------------------------- */

static omen_quant quant = OMEN_QUANT_SQ8; /* of the collections made */

static omen_coll *make(omen_db *db, const char *name, omen_metric metric)
{
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  cfg.metric = metric;
  cfg.quantization = quant;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
  return c;
}

static void insert(omen_coll *c, const float *data, size_t first, size_t n)
{
  omen_str *ids = malloc(n * sizeof *ids);
  char (*names)[16] = malloc(n * sizeof *names);
  for (size_t i = 0; i < n; i++) {
    tu_id(names[i], sizeof names[i], first + i);
    ids[i] = (omen_str){names[i], strlen(names[i])};
  }
  assert_int_equal(omen_upsert_batch(c, n, ids, data + first * DIM, NULL, 2), OMEN_OK);
  free(ids);
  free(names);
}

static size_t index_of(const omen_hit *h)
{
  assert_true(h->id.len > 3 && h->id.len < 16 && !memcmp(h->id.ptr, "id-", 3));
  char digits[16];
  memcpy(digits, h->id.ptr + 3, h->id.len - 3);
  digits[h->id.len - 3] = 0;
  return strtoul(digits, NULL, 10);
}

/* Recall@K against brute force over the first n rows of data; every hit's
** distance is the exact float distance (the codes only steer the walk). */
static double recall(omen_coll *c, omen_metric metric, const float *data, size_t n,
                     const float *queries, size_t nq)
{
  omen_result *r;
  assert_int_equal(omen_result_new(omen_coll_db(c), &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, K);
  size_t found = 0;
  for (size_t qi = 0; qi < nq; qi++) {
    const float *qv = queries + qi * DIM;
    size_t truth[K];
    double dist[K];
    tu_brute(metric, data, n, DIM, qv, K, truth, dist);
    assert_int_equal(omen_search(c, qv, &o, r), OMEN_OK);
    assert_int_equal(omen_result_count(r), K);
    for (size_t i = 0; i < K; i++) {
      const omen_hit *h = omen_result_hit(r, i);
      size_t at = index_of(h);
      assert_true(at < n);
      double d = tu_dist(metric, data + at * DIM, qv, DIM);
      assert_true(fabs(h->distance - d) <= 1e-4 * (fabs(d) + 1));
      if (i) assert_true(h->distance >= omen_result_hit(r, i - 1)->distance);
      for (size_t j = 0; j < K; j++) found += truth[j] == at;
    }
  }
  omen_result_free(r);
  return (double)found / (double)(nq * K);
}

static void check_recall(omen_metric metric)
{
  omen_db *db = tu_open(NULL, 0);
  float *data = tu_clustered(N, DIM, 20, 21);
  float *queries = tu_clustered(200, DIM, 20, 21 + 1000);
  omen_coll *c = make(db, "q", metric);
  insert(c, data, 0, N);
  double r = recall(c, metric, data, N, queries, 200);
  print_message("  %s %s: recall@%d = %.4f\n", omen_metric_name(metric),
                omen_quant_name(quant), K, r);
  assert_true(r >= 0.95);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
  assert_int_equal(info.config.quantization, quant);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  free(data);
  free(queries);
}

static void t_recall_l2(void **s) { (void)s; check_recall(OMEN_L2); }
static void t_recall_cosine(void **s) { (void)s; check_recall(OMEN_COSINE); }
static void t_recall_ip(void **s) { (void)s; check_recall(OMEN_IP); }

static void t_recall_pca8(void **s)
{
  (void)s;
  quant = OMEN_QUANT_PCA8;
  check_recall(OMEN_L2);
  check_recall(OMEN_COSINE);
  check_recall(OMEN_IP);
  quant = OMEN_QUANT_SQ8;
}

/* Every slot holds the codes of its float vector, as encoded now. */
static void check_codes(omen_coll *c)
{
  const omen__codes *cs = &c->codes;
  uint8_t *want = malloc(cs->row);
  const uint8_t *state = c->state.p;
  assert_true(cs->kind->fitted(cs));
  for (uint32_t s = 0; s < c->n_slots; s++) {
    if (state[s] == OMEN__SLOT_PENDING) continue;
    float mul = c->metric->normalised ? ((const float *)c->inv_norm.p)[s] : 1.0f, aux = 0;
    const float *v = (const float *)c->vecs.p + (size_t)s * c->stride;
    cs->kind->encode(cs, v, mul, want, &aux);
    assert_memory_equal(omen__codes_row(cs, s), want, cs->row);
    if (cs->aux) assert_true(*omen__codes_aux(cs, s) == aux);
  }
  free(want);
}

/* Searching with each live record's own vector finds that record first. */
static void check_self(omen_coll *c, const float *data, size_t n, size_t step)
{
  omen_result *r;
  assert_int_equal(omen_result_new(omen_coll_db(c), &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, 1);
  size_t found = 0, total = 0;
  for (size_t i = 1; i < n; i += step, total++) {
    assert_int_equal(omen_search(c, data + i * DIM, &o, r), OMEN_OK);
    assert_int_equal(omen_result_count(r), 1);
    found += index_of(omen_result_hit(r, 0)) == i;
  }
  omen_result_free(r);
  assert_true(found >= total * 99 / 100);
}

/* Writes far outside the fitted range fit the codes again once they are a
** share of the records (one alone does not); old and new records stay
** findable. Single upserts take the same path as batches. */
static void t_retrain(void **state)
{
  (void)state;
  omen_db *db = tu_open(NULL, 0);
  float *data = tu_clustered(N, DIM, 20, 31);
  for (size_t i = N / 2; i < N; i++)
    for (size_t j = 0; j < DIM; j++) data[i * DIM + j] = data[i * DIM + j] * 50 + 300;
  omen_coll *c = make(db, "q", OMEN_L2);
  insert(c, data, 0, N / 2);
  float lo[DIM], scale0, scale;
  params(&c->codes, lo, &scale0);
  char id[16];
  tu_id(id, sizeof id, N / 2);
  assert_int_equal(omen_upsert(c, id, strlen(id), data + N / 2 * DIM, NULL, 0), OMEN_OK);
  params(&c->codes, lo, &scale);
  assert_true(scale == scale0);
  insert(c, data, N / 2 + 1, N / 2 - 1);
  params(&c->codes, lo, &scale);
  assert_true(scale > scale0 * 10);
  double r = recall(c, OMEN_L2, data, N, data, N / 10);
  double r2 = recall(c, OMEN_L2, data, N, data + N / 2 * DIM, N / 10);
  print_message("  after retraining: recall@%d %.4f (old range), %.4f (new)\n", K, r, r2);
  assert_true(r >= 0.95 && r2 >= 0.95);
  check_codes(c);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  free(data);
}

static char path[128];

static void unlink_all(void)
{
  char side[200];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
}

/* The same hits, id for id and distance for distance, from a file opened
** again (codes made again, lazily, from the saved quantizer), and after
** compaction moves the slots. */
static void same_hits(omen_coll *c, const float *queries, size_t nq, size_t *ids,
                      float *dist, int record)
{
  omen_result *r;
  assert_int_equal(omen_result_new(omen_coll_db(c), &r), OMEN_OK);
  omen_search_opts o;
  omen_search_opts_init(&o, K);
  for (size_t qi = 0; qi < nq; qi++) {
    assert_int_equal(omen_search(c, queries + qi * DIM, &o, r), OMEN_OK);
    assert_int_equal(omen_result_count(r), K);
    for (size_t i = 0; i < K; i++) {
      const omen_hit *h = omen_result_hit(r, i);
      if (record) {
        ids[qi * K + i] = index_of(h);
        dist[qi * K + i] = h->distance;
      } else {
        assert_int_equal(index_of(h), ids[qi * K + i]);
        assert_true(h->distance == dist[qi * K + i]);
      }
    }
  }
  omen_result_free(r);
}

static void persist(void)
{
  snprintf(path, sizeof path, "/tmp/omen-test-quant-%d.omen", (int)getpid());
  unlink_all();
  float *data = tu_clustered(N, DIM, 20, 41);
  float *queries = tu_clustered(100, DIM, 20, 42);
  size_t *ids = malloc(100 * K * sizeof *ids);
  float *dist = malloc(100 * K * sizeof *dist);
  omen_db *db = tu_open(path, 0);
  omen_coll *c = make(db, "q", OMEN_COSINE);
  insert(c, data, 0, N);
  check_codes(c);
  assert_int_equal(omen_checkpoint(db), OMEN_OK);
  same_hits(c, queries, 100, ids, dist, 1);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);

  db = tu_open(path, 0);
  assert_int_equal(omen_coll_open(db, "q", &c), OMEN_OK);
  omen_coll_info info;
  assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
  assert_int_equal(info.config.quantization, quant);
  assert_int_equal(info.graph_inserts, 0);
  same_hits(c, queries, 100, ids, dist, 0);

  /* Delete every other record and compact: slots move, codes with them.
  ** (Results may change: compaction takes the deleted nodes out of the
  ** graph.) */
  for (size_t i = 0; i < N; i += 2) {
    char id[16];
    tu_id(id, sizeof id, i);
    assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
  }
  assert_int_equal(omen_compact(db), OMEN_OK);
  check_codes(c);
  check_self(c, data, N, 2);
  same_hits(c, queries, 100, ids, dist, 1);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);

  db = tu_open(path, OMEN_OPEN_VERIFY);
  assert_int_equal(omen_coll_open(db, "q", &c), OMEN_OK);
  check_codes(c);
  same_hits(c, queries, 100, ids, dist, 0);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  unlink_all();
  free(data);
  free(queries);
  free(ids);
  free(dist);
}

static void t_persist(void **state)
{
  (void)state;
  persist();
  quant = OMEN_QUANT_PCA8;
  persist();
  quant = OMEN_QUANT_SQ8;
}

/* -- pca8 ----------------------------------------------------------------- */

#define PDIM 256 /* pca8 keeps 64 directions */
#define PRANK 24 /* the data's */

/* n vectors in a PRANK-dimensional subspace of PDIM, off the origin. */
static float *low_rank(size_t n, uint64_t seed)
{
  float *dirs = malloc(PRANK * PDIM * sizeof(float)), *v = malloc(n * PDIM * sizeof(float));
  for (size_t i = 0; i < PRANK * PDIM; i++) dirs[i] = (float)(tu_uniform(&seed) * 2 - 1);
  for (size_t r = 0; r < n; r++)
    for (size_t i = 0; i < PDIM; i++) v[r * PDIM + i] = 3.0f;
  for (size_t r = 0; r < n; r++)
    for (size_t k = 0; k < PRANK; k++) {
      float c = (float)(tu_uniform(&seed) * 2 - 1);
      for (size_t i = 0; i < PDIM; i++) v[r * PDIM + i] += c * dirs[k * PDIM + i];
    }
  free(dirs);
  return v;
}

static void pca8_codes(omen__codes *cs, omen_metric metric, const float *data, size_t n)
{
  omen__kernels_get(omen__isa_best(), &kern);
  assert_int_equal(omen__codes_init(cs, &heap, OMEN_QUANT_PCA8, PDIM, PDIM,
                                    omen__metric(metric), &kern), OMEN_OK);
  assert_int_equal(cs->row, 64);
  train_dim(cs, data, n, PDIM);
  assert_int_equal(omen__codes_reserve(cs, &heap, n, 0), OMEN_OK);
  for (uint32_t i = 0; i < n; i++) omen__codes_put(cs, i, data + i * PDIM, 1.0f);
}

/* The saved step of a pca8 fit (its sq8 part: 64 offsets, then the step). */
static float pca8_step(const omen__codes *cs)
{
  size_t n = cs->kind->saved_bytes(cs);
  float *saved = malloc(n), step;
  cs->kind->save(cs, saved);
  step = saved[64];
  free(saved);
  return step;
}

/* Data in 24 directions of 256: the 64 kept hold all of it, so distances
** between codes are the float distances up to the codes' error (half a step
** a direction) and the basis's halves. A projection that missed directions
** would be off by far more. */
static void t_pca8_distances(void **state)
{
  (void)state;
  size_t n = 3000;
  float *data = low_rank(n, 77);
  static const omen_metric metrics[] = {OMEN_L2, OMEN_IP};
  for (int m = 0; m < 2; m++) {
    omen__codes cs;
    pca8_codes(&cs, metrics[m], data, n);
    omen__space sp = {NULL, metrics[m], data, PDIM, NULL, NULL, &cs, NULL, 0};
    double err = sqrt(64.0) * pca8_step(&cs), worst = 0;
    for (uint32_t i = 0; i + 1 < n; i += 3) {
      const float *x = data + (size_t)i * PDIM, *y = x + PDIM;
      double want = tu_dist(metrics[m], x, y, PDIM), got = cs.kind->dist_nodes(&sp, i, i + 1);
      double off;
      if (metrics[m] == OMEN_L2) {
        off = fabs(sqrt(got) - sqrt(want)) / (err + 2e-3 * sqrt(want));
      } else {
        double nx = sqrt(-tu_dist(OMEN_IP, x, x, PDIM)), ny = sqrt(-tu_dist(OMEN_IP, y, y, PDIM));
        off = fabs(got - want) / (err * (nx + ny) + err * err + 2e-3 * nx * ny);
      }
      worst = off > worst ? off : worst;
    }
    print_message("  pca8 %s: worst error %.3f of the bound\n", omen_metric_name(metrics[m]),
                  worst);
    assert_true(worst <= 1.0);
    omen__codes_free(&cs, &heap);
  }
  free(data);
}

/* The saved basis and codes come back the same; a damaged basis (not unit
** columns, not finite) or a wrong size is refused and nothing is taken. */
static void t_pca8_load(void **state)
{
  (void)state;
  size_t n = 500;
  float *data = low_rank(n, 78);
  omen__codes cs, back;
  pca8_codes(&cs, OMEN_L2, data, n);
  size_t bytes = cs.kind->saved_bytes(&cs);
  assert_int_equal(bytes, (64 + 1) * sizeof(float) + 64 * PDIM * sizeof(float));
  float *saved = malloc(bytes);
  cs.kind->save(&cs, saved);
  assert_int_equal(omen__codes_init(&back, &heap, OMEN_QUANT_PCA8, PDIM, PDIM,
                                    omen__metric(OMEN_L2), &kern), OMEN_OK);
  float *basis = saved + 65, keep = basis[5 * 64 + 7];
  basis[5 * 64 + 7] = NAN;
  assert_int_equal(back.kind->load(&back, saved, bytes), OMEN_CORRUPT);
  basis[5 * 64 + 7] = keep + 0.5f;
  assert_int_equal(back.kind->load(&back, saved, bytes), OMEN_CORRUPT);
  basis[5 * 64 + 7] = keep;
  assert_int_equal(back.kind->load(&back, saved, bytes - 4), OMEN_CORRUPT);
  assert_false(back.kind->fitted(&back));
  assert_int_equal(back.kind->load(&back, saved, bytes), OMEN_OK);
  uint8_t a[64], b[64];
  for (size_t i = 0; i < n; i += 7) {
    cs.kind->encode(&cs, data + i * PDIM, 1.0f, a, NULL);
    back.kind->encode(&back, data + i * PDIM, 1.0f, b, NULL);
    assert_memory_equal(a, b, 64);
  }
  omen__codes_free(&cs, &heap);
  omen__codes_free(&back, &heap);
  free(saved);
  free(data);
}

/* For the file fuzzer: small files with each kind's parameters. */
static void seed_corpus(void)
{
  if (!getenv("OMEN_FUZZ_CORPUS")) return;
  static const omen_quant kinds[] = {OMEN_QUANT_SQ8, OMEN_QUANT_PCA8};
  float *data = tu_clustered(60, DIM, 3, 5);
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "/tmp/omen-test-seed-%d.omen", (int)getpid());
    unlink_all();
    omen_db *db = tu_open(path, 0);
    quant = kinds[k];
    omen_coll *c = make(db, "s", k ? OMEN_COSINE : OMEN_L2);
    insert(c, data, 0, 60);
    omen_coll_close(c);
    assert_int_equal(omen_close(db), OMEN_OK);
    tu_corpus("open", path, 0);
    unlink_all();
  }
  quant = OMEN_QUANT_SQ8;
  free(data);
}

static void t_config(void **state)
{
  (void)state;
  seed_corpus();
  assert_int_equal(omen_quant_from_name("sq8"), OMEN_QUANT_SQ8);
  assert_int_equal(omen_quant_from_name("none"), OMEN_QUANT_NONE);
  assert_int_equal(omen_quant_from_name("pq"), -1);
  assert_string_equal(omen_quant_name(OMEN_QUANT_SQ8), "sq8");
  assert_int_equal(omen_quant_from_name("pca8"), OMEN_QUANT_PCA8);
  assert_string_equal(omen_quant_name(OMEN_QUANT_PCA8), "pca8");
  omen_db *db = tu_open(NULL, 0);
  omen_coll_config cfg;
  omen_coll_config_init(&cfg, DIM);
  assert_int_equal(cfg.quantization, OMEN_QUANT_AUTO);
  cfg.quantization = (omen_quant)7;
  omen_coll *c;
  assert_int_equal(omen_coll_create(db, "bad", &cfg, &c), OMEN_INVALID);
  assert_non_null(strstr(omen_errmsg(db), "quantization"));
  assert_int_equal(omen_coll_open(db, "bad", &c), OMEN_NOTFOUND);
  /* The default chooses by dimension, and the collection records the kind. */
  assert_int_equal(omen_quant_from_name("auto"), OMEN_QUANT_AUTO);
  assert_string_equal(omen_quant_name(OMEN_QUANT_AUTO), "auto");
  static const struct { uint32_t dim; omen_quant kind; } chosen[] = {
    {1, OMEN_QUANT_NONE}, {127, OMEN_QUANT_NONE}, {128, OMEN_QUANT_PCA8},
    {4096, OMEN_QUANT_PCA8}, {4097, OMEN_QUANT_NONE}};
  for (int i = 0; i < 5; i++) {
    char name[16];
    snprintf(name, sizeof name, "auto%d", i);
    omen_coll_config_init(&cfg, chosen[i].dim);
    assert_int_equal(omen_coll_create(db, name, &cfg, &c), OMEN_OK);
    omen_coll_info info;
    assert_int_equal(omen_coll_info_get(c, &info), OMEN_OK);
    assert_int_equal(info.config.quantization, chosen[i].kind);
    omen_coll_close(c);
  }
  cfg.quantization = OMEN_QUANT_PCA8; /* its basis is dim x dim / 4 */
  cfg.dim = 4097;
  assert_int_equal(omen_coll_create(db, "big", &cfg, &c), OMEN_INVALID);
  assert_non_null(strstr(omen_errmsg(db), "pca8 takes vectors of up to 4096 components"));
  cfg.dim = 4096;
  assert_int_equal(omen_coll_create(db, "big", &cfg, &c), OMEN_OK);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
}

/* One outlier among 20,000 uniform [0, 1] vectors (a component of 100, or
** of 1000) costs sq8 at most two points of recall while it is there, and
** none once it is deleted and the collection compacted. */
static double uniform_recall(omen_coll *c, const float *data, size_t n,
                             const float *queries)
{
  return recall(c, OMEN_L2, data, n, queries, 100);
}

static void t_outlier(void **state)
{
  (void)state;
  size_t n = 20000;
  uint64_t s = 99;
  float *data = malloc((n + 1) * DIM * sizeof(float));
  float *queries = malloc(100 * DIM * sizeof(float));
  for (size_t i = 0; i < n * DIM; i++) data[i] = (float)tu_uniform(&s);
  for (size_t i = 0; i < 100 * DIM; i++) queries[i] = (float)tu_uniform(&s);
  omen_db *db = tu_open(NULL, 0);
  omen_coll *c = make(db, "u", OMEN_L2);
  insert(c, data, 0, n);
  double before = uniform_recall(c, data, n, queries);
  char id[16];
  tu_id(id, sizeof id, n);
  static const float sizes[] = {100, 1000};
  for (int k = 0; k < 2; k++) {
    memcpy(data + n * DIM, data, DIM * sizeof(float));
    data[n * DIM + 3] = sizes[k];
    assert_int_equal(omen_upsert(c, id, strlen(id), data + n * DIM, NULL, 0), OMEN_OK);
    double with = uniform_recall(c, data, n + 1, queries);
    print_message("  recall@%d %.4f, with an outlier of %g: %.4f\n", K, before, sizes[k], with);
    if (with < before - 0.02) fail_msg("an outlier of %g took recall from %.4f to %.4f",
                                       sizes[k], before, with);
  }
  assert_int_equal(omen_delete(c, id, strlen(id)), OMEN_OK);
  assert_int_equal(omen_compact(db), OMEN_OK);
  double after = uniform_recall(c, data, n, queries);
  print_message("  deleted and compacted: %.4f\n", after);
  assert_true(after >= before - 0.005);
  check_codes(c);
  omen_coll_close(c);
  assert_int_equal(omen_close(db), OMEN_OK);
  free(data);
  free(queries);
}

int main(void)
{
  omen__mem_init(&heap, NULL, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(t_encode),      cmocka_unit_test(t_load),
    cmocka_unit_test(t_distance_terms), cmocka_unit_test(t_recall_l2),
    cmocka_unit_test(t_recall_cosine), cmocka_unit_test(t_recall_ip),
    cmocka_unit_test(t_retrain),     cmocka_unit_test(t_persist),
    cmocka_unit_test(t_config),      cmocka_unit_test(t_outlier),
    cmocka_unit_test(t_recall_pca8), cmocka_unit_test(t_pca8_distances),
    cmocka_unit_test(t_pca8_load),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
