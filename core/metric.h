/*
** Metrics: one descriptor per metric (its name, its kernel, whether vectors
** are normalised, how a kernel result becomes the distance users see), so
** that names, checks and messages come from one table. Calls nothing.
*/
#ifndef OMEN_METRIC_H
#define OMEN_METRIC_H

#include "omen.h"

typedef struct omen__metric_desc {
  omen_metric id;
  const char *name;
  int dot;            /* the kernel is the dot product (else squared L2) */
  int normalised;     /* vectors and queries count at unit length (cosine) */
  int relink_pruned;  /* nodes pruning leaves without in-links are linked in
                         again (not under ip, where many points are rightly
                         nobody's neighbour) */
} omen__metric_desc;

/* The descriptor of a metric, or NULL for an unknown one. */
const omen__metric_desc *omen__metric(omen_metric id);

/* "expected l2, cosine or ip": the names for messages, in buf. */
const char *omen__metric_list(char *buf, size_t cap);

/* A kernel result as a distance: l2 as is, ip negated, cosine from the dot
** product and `inv`, the product of the inverse norms involved. */
static inline float omen__distance(omen_metric metric, float r, float inv)
{
  return metric == OMEN_L2 ? r : metric == OMEN_IP ? -r : 1.0f - r * inv;
}

#endif
