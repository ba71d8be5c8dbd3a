/*
** Metrics: the table behind metric.h and the public name functions.
**
** Calls: distance (kernels); nothing else.
*/
#include "port.h"

#include "metric.h"

#include <stdio.h>
#include <string.h>

/* The one list: id, name, dot kernel, normalised, relink pruned nodes. */
#define METRICS(X)                  \
  X(OMEN_L2, "l2", 0, 0, 1)         \
  X(OMEN_COSINE, "cosine", 1, 1, 1) \
  X(OMEN_IP, "ip", 1, 0, 0)

#define DESC(id, name, dot, norm, relink) {id, name, dot, norm, relink},
static const omen__metric_desc metrics[] = {METRICS(DESC)};
#define N_METRICS (sizeof metrics / sizeof metrics[0])

const omen__metric_desc *omen__metric(omen_metric id)
{
  for (size_t i = 0; i < N_METRICS; i++)
    if (metrics[i].id == id) return &metrics[i];
  return NULL;
}

const char *omen_metric_at(size_t i) { return i < N_METRICS ? metrics[i].name : NULL; }

omen_metric omen_metric_from_name(const char *name)
{
  for (size_t i = 0; name && i < N_METRICS; i++)
    if (!strcmp(name, metrics[i].name)) return metrics[i].id;
  return (omen_metric)0;
}

const char *omen_metric_name(omen_metric metric)
{
  const omen__metric_desc *m = omen__metric(metric);
  return m ? m->name : NULL;
}

const char *omen__metric_list(char *buf, size_t cap)
{
  size_t at = 0;
  buf[0] = 0;
  for (size_t i = 0; i < N_METRICS && at < cap; i++)
    at += (size_t)snprintf(buf + at, cap - at, "%s%s", i == 0 ? "" : i + 1 < N_METRICS ? ", " : " or ",
                           metrics[i].name);
  return buf;
}
