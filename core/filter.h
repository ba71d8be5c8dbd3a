/*
** Filters: a condition tree (omen_cond) is checked and compiled once into a
** flat program, pre-order with each node knowing where its subtree ends,
** that owns copies of its strings and names its fields. Before use on a
** collection the field names are bound to the collection's key numbers;
** then a record matches or not by walking the program over its encoded
** metadata, without decoding more of it than the conditions read.
*/
#ifndef OMEN_FILTER_H
#define OMEN_FILTER_H

#include <stdint.h>

#include "mem.h"
#include "meta.h"
#include "omen.h"

#define OMEN__FILTER_DEPTH 32
#define OMEN__FILTER_NODES 4096

typedef struct omen__fnode {
  omen_op op;
  uint32_t key;        /* index into the filter's field names */
  uint32_t end;        /* index of the first node after this subtree */
  uint32_t values;     /* $in, $nin: first operand in filter->values */
  uint32_t n_values;
  omen_value value;    /* strings point into the filter's own copy */
} omen__fnode;

struct omen_filter {
  omen__mem mem;
  omen__fnode *nodes;
  uint32_t n_nodes;
  omen_value *values;
  uint32_t n_values;
  omen_str *keys;      /* distinct field names */
  uint32_t n_keys, keys_cap;
  char *text;          /* every string of the filter, back to back */
  size_t text_size;
  unsigned char *sig;  /* the program as bytes: equal iff the filters are */
  size_t sig_len;
  uint64_t hash;       /* of sig */
};

/* Resolve the filter's field names against a collection's keys: ids[i]
** receives the key number of field i, or UINT32_MAX if no record has it. */
void omen__filter_bind(const omen_filter *f, const omen__keys *keys,
                       uint32_t *ids);

/* Whether a record's encoded metadata matches the bound filter. */
int omen__filter_match(const omen_filter *f, const uint32_t *ids,
                       const uint8_t *meta, uint32_t meta_len);

#endif
