#include "estimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "workloads/workload.hpp"

#ifndef COBENCH_SOURCE_DIR
#define COBENCH_SOURCE_DIR "."
#endif

namespace cb {

namespace {

using json = nlohmann::json;

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "slow_io/threads/upstream:1ms/conns:10" -> workload "slow_io", params
// "upstream:1ms/conns:10" (the runtime left out, so other runtimes' entries
// of the same point can stand in).
struct name_parts {
    std::string workload, params;
};
name_parts split(const std::string& name) {
    const auto a = name.find('/');
    if (a == std::string::npos) return {name, ""};
    const auto b = name.find('/', a + 1);
    return {name.substr(0, a), b == std::string::npos ? "" : name.substr(b + 1)};
}

}  // namespace

std::string default_timings_path() {
    if (const char* env = std::getenv("COBENCH_TIMINGS"); env && *env) return env;
    return std::string(COBENCH_SOURCE_DIR) + "/bench/timings.json";
}

run_estimate estimate_run(const options& o, const std::vector<planned_pair>& entries, const std::string& path) {
    run_estimate e;
    e.entries = entries.size();
    json t;
    try {
        std::ifstream f(path);
        if (!f) {
            e.missing = "no timings at " + path;
            return e;
        }
        const json all = json::parse(f);
        const std::string want(profile_name(o.prof));
        if (!all.at("profiles").contains(want)) {
            e.missing = path + " has no timings of the " + want + " profile";
            return e;
        }
        t = all["profiles"][want];
    } catch (const std::exception& x) {
        e.missing = "timings " + path + " unreadable: " + x.what();
        return e;
    }
    std::map<std::string, double> per_rep;
    std::map<std::string, std::vector<double>> by_point, by_workload;
    try {
        for (auto& [name, s] : t.at("per_repetition_s").items()) {
            const double v = s.get<double>();
            per_rep[name] = v;
            const name_parts p = split(name);
            by_point[p.workload + "|" + p.params].push_back(v);
            by_workload[p.workload].push_back(v);
        }
        for (auto& fam : o.runtimes)
            if (t.contains("family_start_s") && t["family_start_s"].contains(fam))
                e.seconds += t["family_start_s"][fam].get<double>();
        e.source = t.value("measured", std::string("an earlier run"));
    } catch (const std::exception& x) {
        e.missing = "timings " + path + " malformed: " + x.what();
        return e;
    }
    for (const planned_pair& p : entries) {
        const int reps = std::max(1, p.max_repetitions > 0 ? std::min(o.repetitions, p.max_repetitions) : o.repetitions);
        double s = 0;
        if (auto it = per_rep.find(p.name); it != per_rep.end()) {
            s = it->second;
            ++e.measured;
        } else {
            const name_parts n = split(p.name);
            if (auto pt = by_point.find(n.workload + "|" + n.params); pt != by_point.end()) s = median(pt->second);
            else if (auto w = by_workload.find(n.workload); w != by_workload.end()) s = median(w->second);
            ++e.guessed;
        }
        e.seconds += s * reps;
    }
    return e;
}

std::string describe(const run_estimate& e) {
    if (!e.missing.empty()) return "no estimate of its length (" + e.missing + ")";
    char buf[512];
    const double min = e.seconds / 60;
    std::snprintf(buf, sizeof buf, "about %.0f %s of benchmarks, estimated from %s", min >= 2 ? min : e.seconds,
                  min >= 2 ? "min" : "s", e.source.c_str());
    std::string out = buf;
    if (e.guessed > 0)
        out += "; " + std::to_string(e.guessed) + " of its " + std::to_string(e.entries) +
               " entries are not in those timings and count at the median of similar ones";
    return out + "; the waits for a quiet machine come on top";
}

}  // namespace cb
