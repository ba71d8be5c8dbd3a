// hnswlib: the peer runner of the benchmark (bench/run.sh). hnswlib through
// its C++ header (Debian's libhnswlib-dev), built the way hnswlib recommends:
//   g++ -O3 -march=native -std=c++11 -pthread bench/hnswlib.cpp -o hnswlib
// Same CLI and JSON as bench/ann.c (omen-c) and bench/ann.lua (omen-lua):
//
//   hnswlib --name NAME --base F --queries F --dim D --truth T [--m 16]
//           [--efc 200] [--threads 1] [--ef 10,20,...] [--k 10] [--repeat 3]
//           --out FILE
//
// Builds an index of every base row (label = row number) timing the whole
// build, the index's construction included. With --threads N > 1 the first
// point is added alone, then N threads take rows by an atomic counter, as
// hnswlib's Python bindings do (ParallelFor). Then for each ef answers every
// query one at a time on one thread, the searchKnn call and the reading of
// its result inside the timed loop, and scores recall@k against the truth
// file (int32 rows of k exact neighbours). --repeat rounds of the whole ef
// sweep, keeping each ef's best time, as bench/ann.c does.

#include <hnswlib/hnswlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Args {
  std::string name = "data", base, queries, truth, out;
  size_t dim = 0, k = 10, m = 16, efc = 200, threads = 1, repeat = 3;
  std::vector<size_t> ef;
};

[[noreturn]] void die(const std::string &what) {
  std::fprintf(stderr, "hnswlib runner: %s\n", what.c_str());
  std::exit(1);
}

double now() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Read a whole file; its size must be a multiple of `unit` bytes.
template <typename T>
std::vector<T> load(const std::string &path, size_t unit, size_t *rows) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) die("cannot open " + path);
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size <= 0 || size % (long)unit) die(path + ": not whole rows");
  std::vector<T> v((size_t)size / sizeof(T));
  if (std::fread(v.data(), 1, (size_t)size, f) != (size_t)size) die("cannot read " + path);
  std::fclose(f);
  *rows = (size_t)size / unit;
  return v;
}

// VmRSS or VmHWM of this process, in MiB.
double mem_mb(const char *field) {
  FILE *f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  size_t len = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (!std::strncmp(line, field, len) && line[len] == ':') kib = std::atof(line + len + 1);
  std::fclose(f);
  return kib / 1024;
}

Args parse(int argc, char **argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    std::string o = argv[i];
    if (i + 1 >= argc) die("missing value for " + o);
    const char *v = argv[i + 1];
    if (o == "--name") a.name = v;
    else if (o == "--base") a.base = v;
    else if (o == "--queries") a.queries = v;
    else if (o == "--truth") a.truth = v;
    else if (o == "--out") a.out = v;
    else if (o == "--dim") a.dim = std::strtoul(v, nullptr, 10);
    else if (o == "--k") a.k = std::strtoul(v, nullptr, 10);
    else if (o == "--m") a.m = std::strtoul(v, nullptr, 10);
    else if (o == "--efc") a.efc = std::strtoul(v, nullptr, 10);
    else if (o == "--threads") a.threads = std::strtoul(v, nullptr, 10);
    else if (o == "--repeat") a.repeat = std::strtoul(v, nullptr, 10);
    else if (o == "--ef") {
      char *p = const_cast<char *>(v);
      while (*p) {
        size_t e = std::strtoul(p, &p, 10);
        if (!e) die(std::string("bad --ef list: ") + v);
        a.ef.push_back(e);
        if (*p == ',') p++;
      }
    } else die("unknown option " + o);
  }
  if (a.base.empty() || a.queries.empty() || a.truth.empty() || a.out.empty() ||
      !a.dim || !a.k || a.ef.empty() || !a.threads || !a.repeat)
    die("usage: hnswlib --name NAME --base F --queries F --dim D --truth T [--m 16] "
        "[--efc 200] [--threads 1] --ef 10,20,... [--k 10] --out FILE");
  return a;
}

}  // namespace

int main(int argc, char **argv) {
  Args a = parse(argc, argv);
  size_t n, nq, nt;
  std::vector<float> base = load<float>(a.base, a.dim * sizeof(float), &n);
  std::vector<float> q = load<float>(a.queries, a.dim * sizeof(float), &nq);
  std::vector<int32_t> truth = load<int32_t>(a.truth, a.k * sizeof(int32_t), &nt);
  if (nt != nq) die("truth file does not have one row of k per query");

  double rss0 = mem_mb("VmRSS");
  double t = now();
  hnswlib::L2Space space(a.dim);
  auto *index = new hnswlib::HierarchicalNSW<float>(&space, n, a.m, a.efc, 100);
  const float *bv = base.data();
  const size_t dim = a.dim;
  if (a.threads == 1) {
    for (size_t i = 0; i < n; i++) index->addPoint(bv + i * dim, (hnswlib::labeltype)i);
  } else {
    index->addPoint(bv, 0);  // the entry point, alone
    std::atomic<size_t> next(1);
    std::vector<std::thread> pool;
    for (size_t th = 0; th < a.threads; th++)
      pool.emplace_back([&] {
        for (;;) {
          size_t i = next.fetch_add(1);
          if (i >= n) break;
          index->addPoint(bv + i * dim, (hnswlib::labeltype)i);
        }
      });
    for (auto &th : pool) th.join();
  }
  double build_s = now() - t;
  double rss = mem_mb("VmRSS") - rss0;
  std::fprintf(stderr, "hnswlib %s: built %zu x %zu in %.2f s (%.0f vectors/s, %zu threads)\n",
               a.name.c_str(), n, dim, build_s, n / build_s, a.threads);

  std::vector<int32_t> got(nq * a.k);
  std::vector<double> best(a.ef.size(), 1e30);
  std::vector<size_t> found(a.ef.size());
  for (size_t rep = 0; rep < a.repeat; rep++)
    for (size_t e = 0; e < a.ef.size(); e++) {
      index->setEf(a.ef[e]);
      std::fill(got.begin(), got.end(), -1);
      t = now();
      for (size_t i = 0; i < nq; i++) {
        auto res = index->searchKnn(q.data() + i * dim, a.k);
        int32_t *row = got.data() + i * a.k;
        for (size_t j = res.size(); j > 0; j--) {  // the queue pops farthest first
          if (j <= a.k) row[j - 1] = (int32_t)res.top().second;
          res.pop();
        }
      }
      double qs = now() - t;
      if (qs < best[e]) best[e] = qs;
      found[e] = 0;
      for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < a.k; j++) {
          int32_t id = got[i * a.k + j];
          if (id < 0) continue;
          for (size_t l = 0; l < a.k; l++)
            if (truth[i * a.k + l] == id) {
              found[e]++;
              break;
            }
        }
    }
  std::string points;
  for (size_t e = 0; e < a.ef.size(); e++) {
    double recall = (double)found[e] / (double)(nq * a.k);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s{\"ef\": %zu, \"recall\": %.4f, \"qps\": %.0f}",
                  points.empty() ? "" : ", ", a.ef[e], recall, nq / best[e]);
    points += buf;
    std::fprintf(stderr, "hnswlib %s ef %zu: recall %.4f, %.0f queries/s\n", a.name.c_str(),
                 a.ef[e], recall, nq / best[e]);
  }

  FILE *out = std::fopen(a.out.c_str(), "w");
  if (!out) die("cannot write " + a.out);
  std::fprintf(out,
               "{\"system\": \"hnswlib\", \"dataset\": \"%s\", \"n\": %zu, \"nq\": %zu, "
               "\"dim\": %zu, \"m\": %zu, \"ef_construction\": %zu, \"threads\": %zu, "
               "\"build_seconds\": %.3f, \"build_vectors_per_second\": %.0f, "
               "\"rss_mb\": %.1f, \"peak_rss_mb\": %.1f, \"points\": [%s]}\n",
               a.name.c_str(), n, nq, dim, a.m, a.efc, a.threads, build_s, n / build_s, rss,
               mem_mb("VmHWM"), points.c_str());
  if (std::fclose(out)) die("cannot write " + a.out);
  delete index;
  return 0;
}
