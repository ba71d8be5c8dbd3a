/*
** Structural checks of a collection's graph, for the suites that change it:
** lists within bounds, no self links or repeats, targets high enough,
** blocks handed out in slot order, in-degrees that match the lists, every
** live node but the entry linked to (except under inner product), free
** slots out of the graph (no list of theirs, none naming them), and an
** entry point at the top.
*/
#ifndef OMEN_TEST_GRAPHCHECK_H
#define OMEN_TEST_GRAPHCHECK_H

#include "testutil.h"

#include "omen_int.h"

static void tu_check_graph(omen_coll *c)
{
  const omen__graph *g = &c->graph;
  const uint8_t *level = g->level.p;
  const uint32_t *upper_at = g->upper_at.p;
  uint64_t next_block = 0;
  for (uint32_t s = 0; s < c->n_slots; s++) { /* blocks in slot order */
    assert_int_equal(upper_at[s], level[s] ? next_block + 1 : 0);
    next_block += level[s];
  }
  assert_int_equal(next_block, g->upper_blocks);
  for (uint32_t s = 0; s < c->n_slots; s++) {
    for (uint32_t l = 0; l <= level[s]; l++) {
      const uint32_t *list = omen__links(g, s, l);
      assert_true(list[0] <= (l ? g->m : g->m0));
      for (uint32_t i = 1; i <= list[0]; i++) {
        assert_true(list[i] < c->n_slots);
        assert_true(list[i] != s);
        assert_true(level[list[i]] >= l);
        for (uint32_t j = 1; j < i; j++) assert_true(list[j] != list[i]);
      }
    }
  }
  /* In-degrees match the lists; no live node but the entry lacks one. */
  uint32_t *count = calloc(c->n_slots + 1, sizeof(uint32_t));
  for (uint32_t s = 0; s < c->n_slots; s++) {
    const uint32_t *list = omen__links(g, s, 0);
    for (uint32_t i = 1; i <= list[0]; i++) count[list[i]]++;
  }
  const uint8_t *state = c->state.p;
  for (uint32_t s = 0; s < c->n_slots; s++) {
    assert_int_equal(count[s], ((const uint32_t *)g->indeg.p)[s]);
    assert_true(state[s] == OMEN__SLOT_LIVE || state[s] == OMEN__SLOT_DELETED ||
                state[s] == OMEN__SLOT_FREE);
    if (state[s] == OMEN__SLOT_FREE) {
      assert_int_equal(count[s], 0);
      for (uint32_t l = 0; l <= level[s]; l++) assert_int_equal(omen__links(g, s, l)[0], 0);
    }
    /* (inner product leaves nodes nobody needs unlinked, by design) */
    if (state[s] == OMEN__SLOT_LIVE && s != g->entry && c->cfg.metric != OMEN_IP)
      assert_true(count[s] > 0);
  }
  free(count);
  if (c->n_slots > c->n_free) {
    assert_true(g->entry < c->n_slots);
    assert_int_not_equal(state[g->entry], OMEN__SLOT_FREE);
    assert_int_equal(g->max_level, level[g->entry]);
    for (uint32_t s = 0; s < c->n_slots; s++) assert_true(level[s] <= g->max_level);
  }
}

#endif
