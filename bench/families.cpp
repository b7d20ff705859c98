#include "families.hpp"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <tuple>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "bench/name_filter.hpp"
#include "bench/other_load.hpp"
#include "bench/probe.hpp"
#include "bench/product.hpp"
#include "runtimes/registry.hpp"
#include "workloads/all.hpp"
#include "workloads/run.hpp"

namespace cb {
namespace {

using the_product = product<all_runtimes, wl::all_workloads>;

struct usage {
    double user = 0, sys = 0, vcsw = 0, ivcsw = 0;
    static usage now() {
        usage u;
        for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
            rusage r{};
            ::getrusage(who, &r);
            u.user += static_cast<double>(r.ru_utime.tv_sec) + static_cast<double>(r.ru_utime.tv_usec) / 1e6;
            u.sys += static_cast<double>(r.ru_stime.tv_sec) + static_cast<double>(r.ru_stime.tv_usec) / 1e6;
            u.vcsw += static_cast<double>(r.ru_nvcsw);
            u.ivcsw += static_cast<double>(r.ru_nivcsw);
        }
        return u;
    }
};

// A repetition that is one run (a fixed single iteration: echo, slow_io,
// blocking_pitfall, idle_memory...) and was measured beside other work is
// measured again, at most max_remeasures times, after waiting up to this
// many seconds for the machine to be quiet (--quiet-wait; 0: never). The
// report would leave such a repetition out, and an entry a verdict reads
// then falls below its 5 repetitions. Even on a quiet machine a run can
// share it with work its own process tree no longer accounts for (the
// kernel still closing a previous entry's thousands of sockets, say); the
// counter `remeasured` says how many runs of the repetition were measured
// again. On a machine that stays busy
// this would only add waits: once a family has waited out the bound this
// many times without the machine becoming quiet, it measures nothing again
// (and says so once); each wait is at most 2 s.
double remeasure_wait_s = 0;
constexpr int max_remeasures = 2;
constexpr int max_fruitless_waits = 3;
int fruitless_waits = 0;

// Waits for quiet before a run is measured again; false when this family
// has given up on quiet (see above).
bool settle_before_remeasure(const std::string& name) {
    if (fruitless_waits >= max_fruitless_waits) return false;
    const double bound = std::min(remeasure_wait_s, 2.0);
    if (wait_until_quiet(bound, "measuring again a run of " + name + " that other work disturbed") >= bound &&
        ++fruitless_waits == max_fruitless_waits)
        std::fprintf(stderr, "cobench: the machine stayed busy through %d waits; this family measures no run again\n",
                     max_fruitless_waits);
    return true;
}

template <class R, class W>
void bench_pair(benchmark::State& st, const typename W::params& p) {
    measurement m;
    // The family's parent is the orchestrator that supervises it: ours too.
    load_window load(::getppid());
    usage u0 = usage::now();
    bool one_run = false;
    if constexpr (fixed_iterations<W>) one_run = W::iterations(p) == 1;
    int remeasured = 0;
    for (auto _ : st) {
        run_result r;
        for (;;) {
            try {
                r = run_once<R, W>(p, m);
            } catch (const std::exception& e) {
                r.error = e.what();
            }
            if (!r.error.empty() || !one_run || remeasured >= max_remeasures || remeasure_wait_s <= 0) break;
            if (const load_reading now = load.read(); !now.ok || now.other_load_frac <= other_load_threshold) break;
            if (!settle_before_remeasure(bench_name<W>(R::traits.name, p))) break;
            ++remeasured;
            m = measurement{};
            load = load_window(::getppid());
            u0 = usage::now();
        }
        if (!r.error.empty()) {
            st.SkipWithError(r.error.c_str());
            break;
        }
        st.SetIterationTime(r.seconds);
    }
    if (m.iterations == 0) return;
    if (one_run) st.counters["remeasured"] = remeasured;
    // Setup and verify run outside the clock but inside these totals; on the
    // sizes measured they are small next to the runs themselves.
    const usage u1 = usage::now();
    const double ops = static_cast<double>(m.iterations) * W::ops(p);
    for (auto& [k, v] : W::report(p, m)) st.counters[k] = v;
    st.counters["ops"] = ops;
    if (auto it = m.sums.find("loop_syscalls"); it != m.sums.end()) st.counters["syscalls_per_op"] = it->second / ops;
    if (auto it = m.sums.find("io_thread_cpu_ns"); it != m.sums.end() && m.sums["run_cpu_ns"] > 0)
        st.counters["io_thread_cpu_frac"] = it->second / m.sums["run_cpu_ns"];
    if (m.workers) st.counters["workers"] = static_cast<double>(m.workers);
    st.counters["cpu_user_ns_per_op"] = (u1.user - u0.user) * 1e9 / ops;
    st.counters["cpu_sys_ns_per_op"] = (u1.sys - u0.sys) * 1e9 / ops;
    st.counters["vcsw_per_op"] = (u1.vcsw - u0.vcsw) / ops;
    st.counters["ivcsw_per_op"] = (u1.ivcsw - u0.ivcsw) / ops;
    put_load_counters(st.counters, load.read());
}

template <class R>
void bench_probe(benchmark::State& st, profile prof, const wl::idle_memory::params& proto) {
    probe_outcome o;
    const load_window load(::getppid());
    for (auto _ : st) {
        const auto t0 = std::chrono::steady_clock::now();
        o = probe_max_tasks<R>(prof, proto);
        st.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    st.counters["max_tasks"] = static_cast<double>(o.held);
    if (o.bytes_per_task > 0) st.counters["bytes_per_task"] = o.bytes_per_task;
    st.counters["budget_bytes"] = o.budget;
    st.SetLabel(o.reason);
    put_load_counters(st.counters, load.read());
}

// A repetition's minimum timed length. Full: 5 repetitions of 0.25 s each
// (1.25 s an entry, the warm-up a quarter of one beside): the spread comes
// from the repetitions, and the whole profile has to fit its hour.
double min_time(profile p) { return p == profile::full ? 0.25 : p == profile::test ? 0.0 : 0.2; }

// One USER_HZ tick: getrusage's CPU times move in these steps on a
// tick-accounted kernel, so a per-op CPU counter cannot resolve less than
// this divided by the operations measured.
double tick_ns() {
    const long hz = ::sysconf(_SC_CLK_TCK);
    return 1e9 / static_cast<double>(hz > 0 ? hz : 100);
}

}  // namespace

std::vector<std::string> runtime_names() { return the_product::runtime_names(); }

std::vector<runtime_traits> registered_traits() { return the_product::traits(); }

nlohmann::json results_metadata() {
    nlohmann::json runtimes = nlohmann::json::array();
    for (const runtime_traits& t : the_product::traits()) {
        runtimes.push_back({{"name", t.name},
                            {"label", t.label},
                            {"kind", to_string(t.kind)},
                            {"multi_core", t.multi_core},
                            {"shared_memory", t.shared_memory},
                            {"stack", to_string(t.stack)},
                            {"cost", to_string(t.cost)},
                            {"sized_stacks", t.sized_stacks},
                            {"sized_workers", t.sized_workers},
                            {"counts_syscalls", t.counts_syscalls}});
        if (!t.io_backend.empty()) {
            runtimes.back()["io_backend"] = t.io_backend;
            runtimes.back()["io_backend_variant"] = io_backend_variant(t);
        }
    }
    nlohmann::json counters = nlohmann::json::object();
    auto put = [&](const counter_meta& c) {
        nlohmann::json j{{"unit", c.unit}, {"better", to_string(c.direction)}};
        if (c.quantum > 0) j["quantum"] = c.quantum;
        if (c.per_op) j["per"] = "ops";
        counters[std::string(c.name)] = j;
    };
    for (const counter_meta& c : the_product::workload_counters()) put(c);
    // The harness's own counters (bench_pair, bench_probe, --instructions).
    const counter_meta harness[] = {
        {"ops", "ops", better::none},
        {"cpu_user_ns_per_op", "ns/op", better::lower, tick_ns(), true},
        {"cpu_sys_ns_per_op", "ns/op", better::lower, tick_ns(), true},
        {"vcsw_per_op", "switches/op", better::lower, 1, true},
        {"ivcsw_per_op", "switches/op", better::lower, 1, true},
        {"syscalls_per_op", "syscalls/op", better::lower, 1, true},
        {"io_thread_cpu_frac", "fraction", better::none},
        {"max_tasks", "tasks", better::higher},
        {"bytes_per_task", "B", better::lower},
        {"budget_bytes", "B", better::none},
        {"workers", "workers", better::none},
        {"instructions_per_op", "instructions/op", better::lower},
        {"instructions", "instructions", better::none},
        // Every entry's other load (bench/other_load.hpp): what the rest of the machine did, not a result.
        {other_load_counter, "fraction", better::none},
        {steal_counter, "fraction", better::none},
        {"remeasured", "runs", better::none},
    };
    for (const counter_meta& c : harness) put(c);
    // Runtimes with several workers: how many they start unless a workload
    // asks (entries carry the count they used as the counter "workers").
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    nlohmann::json workers{{"default", default_workers()}, {"cpus_online", cpus}};
    if (const char* env = std::getenv("COBENCH_WORKERS"); env && *env) workers["asked"] = default_workers();
    return {{"runtimes", runtimes}, {"counters", counters}, {"workers", workers}};
}

std::vector<declared_pair> declared_pairs(profile prof) { return the_product::declared(prof); }

std::vector<planned_pair> planned_pairs(profile prof) { return the_product::planned(prof); }

std::size_t register_family(const std::string& runtime, profile prof, const std::string& filter, int repetitions,
                            double quiet_wait) {
    remeasure_wait_s = quiet_wait;
    // Matched against our names: Google Benchmark's own filter also sees the
    // suffixes it appends (/min_time:0.200/...), which breaks anchored patterns.
    const name_filter re(filter);
    auto wanted = [&](const std::string& name) { return re.matches(name); };
    std::size_t n = 0;
    the_product::for_each_pair([&]<class R, class W>() {
        if (R::traits.name != runtime || !measures_workloads(prof)) return;
        for (const auto& p : W::sizes(prof, R::traits)) {
            const std::string name = bench_name<W>(R::traits.name, p);
            if (!the_product::template why_not<R, W>(p, prof).empty() || !wanted(name)) continue;
            auto* b = benchmark::RegisterBenchmark(name.c_str(), [p](benchmark::State& st) { bench_pair<R, W>(st, p); });
            b->UseManualTime()->Unit(benchmark::kMillisecond);
            if constexpr (fixed_iterations<W>) b->Iterations(W::iterations(p));
            else if (prof == profile::test) b->Iterations(1);
            else b->MinTime(min_time(prof))->MinWarmUpTime(min_time(prof) / 4);
            // A workload whose grid is large may cap its repetitions (each
            // entry then says how many it had: n in the report).
            if constexpr (caps_repetitions<W>)
                b->Repetitions(std::max(1, std::min(repetitions, W::max_repetitions(p))));
            ++n;
        }
    });
    for_each_runtime([&](auto r) {
        using R = decltype(r);
        if (R::traits.name != runtime || !the_product::template probes<R>(prof)) return;
        for (const probe_variant& v : probe_variants<R>(prof)) {
            if (!wanted(v.name)) continue;
            benchmark::RegisterBenchmark(v.name.c_str(), [prof, p = v.proto](benchmark::State& st) {
                bench_probe<R>(st, prof, p);
            })
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond)
                ->Iterations(1)
                ->Repetitions(1);  // a capacity probe: repeating it measures nothing new and costs minutes
            ++n;
        }
    });
    return n;
}

double run_instrumented(const std::string& name, profile prof) {
    double ops = -1;
    the_product::for_each_pair([&]<class R, class W>() {
        if (ops >= 0 || !the_product::deterministic<R, W>()) return;
        for (const auto& p : W::sizes(prof, R::traits)) {
            if (bench_name<W>(R::traits.name, p) != name) continue;
            measurement warm, m;
            (void)run_once<R, W>(p, warm);  // first-touch effects stay out of the count
            run_result r = run_once<R, W>(p, m, true);
            if (!r.error.empty()) throw std::runtime_error(name + ": " + r.error);
            ops = W::ops(p);
            return;
        }
    });
    if (ops < 0) throw std::invalid_argument("no deterministic benchmark named '" + name + "'");
    return ops;
}

}  // namespace cb
