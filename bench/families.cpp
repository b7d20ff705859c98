#include "families.hpp"

#include <cmath>
#include <regex>
#include <stdexcept>
#include <tuple>

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "bench/harness.hpp"
#include "bench/probe.hpp"
#include "runtimes/registry.hpp"
#include "workloads/all.hpp"

namespace cb {
namespace {

// Instruction counts are repeatable only where one thread runs everything and
// nothing waits on the OS: the single-threaded runtimes, for these workloads.
bool deterministic(std::string_view workload, std::string_view runtime) {
    if (!wl::single_threaded(runtime)) return false;
    return workload == "ping_pong" || workload == "yield_ring" || workload == "spawn" || workload == "skynet" ||
           workload == "cpu_bound";
}

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

template <class R, class W>
void bench_pair(benchmark::State& st, const typename W::params& p) {
    measurement m;
    const usage u0 = usage::now();
    for (auto _ : st) {
        run_result r;
        try {
            r = run_once<R, W>(p, m);
        } catch (const std::exception& e) {
            st.SkipWithError(e.what());
            break;
        }
        if (!r.error.empty()) {
            st.SkipWithError(r.error.c_str());
            break;
        }
        st.SetIterationTime(r.seconds);
    }
    if (m.iterations == 0) return;
    // Setup and verify run outside the clock but inside these totals; on the
    // sizes measured they are small next to the runs themselves.
    const usage u1 = usage::now();
    const double ops = static_cast<double>(m.iterations) * W::ops(p);
    for (auto& [k, v] : W::report(p, m)) st.counters[k] = v;
    st.counters["cpu_user_ns_per_op"] = (u1.user - u0.user) * 1e9 / ops;
    st.counters["cpu_sys_ns_per_op"] = (u1.sys - u0.sys) * 1e9 / ops;
    st.counters["vcsw_per_op"] = (u1.vcsw - u0.vcsw) / ops;
    st.counters["ivcsw_per_op"] = (u1.ivcsw - u0.ivcsw) / ops;
}

template <class R>
void bench_probe(benchmark::State& st, profile prof) {
    probe_outcome o;
    for (auto _ : st) {
        const auto t0 = std::chrono::steady_clock::now();
        o = probe_max_tasks<R>(prof);
        st.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    st.counters["max_tasks"] = static_cast<double>(o.held);
    st.SetLabel(o.reason);
}

double min_time(profile p) { return p == profile::full ? 0.5 : p == profile::test ? 0.0 : 0.2; }

// Calls f.template operator()<R, W>() for every runtime and workload.
template <class F>
void for_each_pair(F&& f) {
    for_each_runtime([&](auto r) {
        using R = decltype(r);
        std::apply([&](auto... w) { (f.template operator()<R, decltype(w)>(), ...); }, wl::all_workloads{});
    });
}

}  // namespace

std::vector<std::string> runtime_names() {
    std::vector<std::string> n;
    for_each_runtime([&](auto r) { n.emplace_back(decltype(r)::name); });
    return n;
}

nlohmann::json results_metadata() {
    return {{"runtimes", nlohmann::json::array()}, {"counters", nlohmann::json::object()}};  // filled in by the traits work
}

std::vector<declared_pair> declared_pairs(profile prof) {
    std::vector<declared_pair> out;
    for_each_pair([&]<class R, class W>() {
        for (const auto& p : W::sizes(prof, R::name))
            if (auto why = W::unsupported(R::name, p); !why.empty())
                out.push_back({std::string(W::name), std::string(R::name), p.label(), why});
    });
    return out;
}

std::vector<planned_pair> planned_pairs(profile prof) {
    std::vector<planned_pair> out;
    for_each_pair([&]<class R, class W>() {
        for (const auto& p : W::sizes(prof, R::name))
            if (W::unsupported(R::name, p).empty())
                out.push_back({bench_name<W>(R::name, p), std::string(R::name), deterministic(W::name, R::name)});
    });
    for (auto& r : runtime_names()) out.push_back({"max_tasks/" + r, r, false});
    return out;
}

std::size_t register_family(const std::string& runtime, profile prof, const std::string& filter) {
    // Matched against our names: Google Benchmark's own filter also sees the
    // suffixes it appends (/min_time:0.200/...), which breaks anchored patterns.
    const std::regex re(filter.empty() ? std::string(".") : filter);
    auto wanted = [&](const std::string& name) { return std::regex_search(name, re); };
    std::size_t n = 0;
    for_each_pair([&]<class R, class W>() {
        if (R::name != runtime) return;
        for (const auto& p : W::sizes(prof, R::name)) {
            if (!W::unsupported(R::name, p).empty() || !wanted(bench_name<W>(R::name, p))) continue;
            auto* b = benchmark::RegisterBenchmark(bench_name<W>(R::name, p).c_str(),
                                                   [p](benchmark::State& st) { bench_pair<R, W>(st, p); });
            b->UseManualTime()->Unit(benchmark::kMillisecond);
            if constexpr (requires { W::iterations(p); }) b->Iterations(W::iterations(p));
            else if (prof == profile::test) b->Iterations(1);
            else b->MinTime(min_time(prof))->MinWarmUpTime(min_time(prof) / 4);
            ++n;
        }
    });
    for_each_runtime([&](auto r) {
        using R = decltype(r);
        if (R::name != runtime || !wanted("max_tasks/" + runtime)) return;
        benchmark::RegisterBenchmark(("max_tasks/" + runtime).c_str(), [prof](benchmark::State& st) { bench_probe<R>(st, prof); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(1)
            ->Repetitions(1);  // a capacity probe: repeating it measures nothing new and costs minutes
        ++n;
    });
    return n;
}

double run_instrumented(const std::string& name, profile prof) {
    double ops = -1;
    for_each_pair([&]<class R, class W>() {
        if (ops >= 0) return;
        for (const auto& p : W::sizes(prof, R::name)) {
            if (bench_name<W>(R::name, p) != name || !deterministic(W::name, R::name)) continue;
            measurement warm, m;
            run_once<R, W>(p, warm);  // first-touch effects stay out of the count
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
