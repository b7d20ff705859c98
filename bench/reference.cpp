#include "reference.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include <boost/version.hpp>
#include <re2/re2.h>
#include <unistd.h>

#include "bench/families.hpp"
#include "bench/other_load.hpp"
#include "bench/supervise.hpp"
#include "workloads/echo.hpp"
#include "workloads/io/program_run.hpp"
#include "workloads/slow_io.hpp"

namespace cb {
namespace {

using json = nlohmann::json;

// One kind of reference: its entries, and how a selection of them runs.
struct reference_kind {
    std::vector<reference_entry> (*entries)(profile);
    void (*run)(const options&, const std::vector<reference_entry>& selected, json& benchmarks, json& declared,
                json& references);
};

// ---- the kernel's scheduler benchmark ---------------------------------------

// perf's scheduler benchmark bounces between two processes, or two threads
// with -T: it stands beside every runtime whose tasks are exactly that.
std::vector<reference_entry> kernel_entries(profile p) {
    std::vector<reference_entry> out;
    if (!measures_workloads(p)) return out;  // the limits profile probes capacity only
    for (const runtime_traits& t : registered_traits()) {
        if (t.kind != task_kind::process && t.kind != task_kind::thread) continue;
        const std::string rt(t.name);
        out.push_back({"kernel_sched_pipe/" + rt + "/pin:same", "kernel_sched_pipe", rt, "pin:same",
                       "perf bench sched pipe"});
    }
    return out;
}

bool runs_threads(const std::string& runtime) {
    for (const runtime_traits& t : registered_traits())
        if (t.name == runtime) return t.kind == task_kind::thread;
    return false;
}

// Measured the way pipe_pong measures a runtime: two tasks pinned to CPU 0
// bounce a byte through two pipes; perf prints the round trip in usecs/op,
// one-way is half.
void run_kernel(const options& o, const std::vector<reference_entry>& todo, json& benchmarks, json& declared, json&) {
    child_options co;
    co.search_path = true;
    co.capture = true;
    co.timeout_s = 60;
    const child_result probe = run_child({"perf", "bench", "sched", "pipe", "-l", "1"}, co);
    const long loops = o.prof == profile::full ? 100000 : o.prof == profile::test ? 1000 : 20000;
    std::fprintf(stderr, "cobench: kernel reference (perf bench sched pipe): %zu benchmarks%s\n", todo.size(),
                 probe.status == "ok" ? "..." : ": perf does not run, declared");
    static const RE2 usecs(R"(([0-9.]+) usecs/op)");
    for (const auto& ref : todo) {
        if (probe.status != "ok") {
            declared.push_back({{"workload", ref.workload}, {"runtime", ref.runtime}, {"params", ref.params},
                                {"reason", "perf is not installed or does not run (Debian package linux-perf): " +
                                               probe.message}});
            continue;
        }
        std::vector<std::string> args{"taskset", "-c", "0", "perf", "bench", "sched", "pipe", "-l", std::to_string(loops)};
        if (runs_threads(ref.runtime)) args.push_back("-T");  // the two tasks are threads of one process
        co.timeout_s = o.family_timeout;
        for (int rep = 0; rep < o.repetitions; ++rep) {
            const load_window load;
            const child_result r = run_child(args, co);
            std::string number;
            if (r.status != "ok" || !RE2::PartialMatch(r.output, usecs, &number)) {
                benchmarks.push_back({{"name", ref.name}, {"run_name", ref.name}, {"run_type", "iteration"},
                                      {"error_occurred", true},
                                      {"error_message", "perf: " + r.status + (r.message.empty() ? "" : ": " + r.message) +
                                                            "; output: " + r.output.substr(0, 200)}});
                break;
            }
            const double round_trip_ns = std::stod(number) * 1e3;
            benchmarks.push_back({{"name", ref.name}, {"run_name", ref.name}, {"run_type", "iteration"},
                                  {"repetitions", o.repetitions}, {"repetition_index", rep},
                                  {"iterations", loops}, {"real_time", round_trip_ns}, {"cpu_time", round_trip_ns},
                                  {"time_unit", "ns"}, {"switch_ns", round_trip_ns / 2}, {"label", "perf bench sched pipe"}});
            put_load(benchmarks.back(), load.read());
        }
    }
}

// ---- the Boost.Asio echo server ---------------------------------------------

constexpr const char* asio_runtime = "asio";

// What the Asio server is, for the workloads' sizes and unsupported():
// one thread, stackless coroutines, a frame a connection, sized as a light
// runtime.
constexpr runtime_traits asio_traits{"asio", "Boost.Asio (one thread, C++20 coroutines)", task_kind::coroutine, false,
                                     true, stack_model::stackless, cost_class::light};

std::string boost_version() {
    return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000);
}
std::string asio_label() { return "Boost.Asio " + boost_version() + " (one thread, C++20 coroutines; yardstick)"; }

// $COBENCH_ASIO_ECHO_BIN, else cobench_asio_echo beside this executable.
std::string find_asio(std::string* why) {
    std::string p;
    if (const char* env = std::getenv("COBENCH_ASIO_ECHO_BIN"); env && *env) {
        p = env;
    } else {
        p = self_exe();
        p = p.substr(0, p.find_last_of('/') + 1) + "cobench_asio_echo";
    }
    if (::access(p.c_str(), X_OK) != 0) {
        *why = "the Asio echo server '" + p + "' is not an executable file (build target cobench_asio_echo, or set "
               "COBENCH_ASIO_ECHO_BIN)";
        return {};
    }
    return p;
}

// An entry the Asio server serves: one workload's params, bound.
struct program_entry {
    reference_entry ref;
    std::string unsupported;
    int max_repetitions = 100;
    double ops = 0;  // round trips served
    std::function<run_result(const wl::server_program&, measurement&)> run;
    std::function<counters(const measurement&)> report;
};

template <class W>
void add_program_entries(profile prof, std::vector<program_entry>& out) {
    for (const auto& p : W::sizes(prof, asio_traits)) {
        program_entry e;
        e.ref = {std::string(W::name) + "/" + asio_runtime + "/" + p.label(), std::string(W::name), asio_runtime,
                 p.label(), "Boost.Asio yardstick"};
        e.unsupported = W::unsupported(asio_traits, p);
        e.max_repetitions = W::max_repetitions(p);
        e.ops = static_cast<double>(W::served(p));
        e.run = [p](const wl::server_program& prog, measurement& m) { return wl::run_on_program<W>(prog, p, m); };
        e.report = [p](const measurement& m) { return W::report(p, m); };
        out.push_back(std::move(e));
    }
}

std::vector<program_entry> asio_program_entries(profile prof) {
    std::vector<program_entry> out;
    if (!measures_workloads(prof)) return out;
    add_program_entries<wl::echo>(prof, out);
    add_program_entries<wl::slow_io>(prof, out);
    return out;
}

std::vector<reference_entry> asio_entries(profile p) {
    std::vector<reference_entry> out;
    for (auto& e : asio_program_entries(p)) out.push_back(e.ref);
    return out;
}

// One run a repetition, each its own measurement, written as the entry's
// repetition (real and CPU time: the run's wall time, as for a runtime's
// I/O workload).
void run_asio(const options& o, const std::vector<reference_entry>& selected, json& benchmarks, json& declared,
              json& references) {
    std::vector<program_entry> todo;
    for (auto& e : asio_program_entries(o.prof))
        if (std::any_of(selected.begin(), selected.end(), [&](auto& s) { return s.name == e.ref.name; }))
            todo.push_back(std::move(e));
    references[asio_runtime] = {{"label", asio_label()}, {"kind", "yardstick"}, {"version", boost_version()},
                                {"program", "cobench_asio_echo (bench/programs/asio_echo/)"}};
    std::string why;
    const wl::server_program prog{find_asio(&why)};
    std::fprintf(stderr, "cobench: Boost.Asio yardstick: %zu benchmarks%s\n", todo.size(),
                 prog.path.empty() ? ": the server is missing, declared" : "...");
    const auto t_all = std::chrono::steady_clock::now();
    std::size_t ok = 0, failed = 0;
    for (const auto& e : todo) {
        throw_if_interrupted();
        const std::string reason = prog.path.empty() ? why : e.unsupported;
        if (!reason.empty()) {
            declared.push_back({{"workload", e.ref.workload}, {"runtime", e.ref.runtime}, {"params", e.ref.params},
                                {"reason", reason}});
            continue;
        }
        const int reps = std::max(1, std::min(o.repetitions, e.max_repetitions));
        for (int rep = 0; rep < reps; ++rep) {
            measurement m;
            std::string error;
            const load_window load;
            try {
                error = e.run(prog, m).error;
            } catch (const std::exception& ex) {
                error = ex.what();
            }
            throw_if_interrupted();
            if (!error.empty()) {
                ++failed;
                benchmarks.push_back({{"name", e.ref.name}, {"run_name", e.ref.name}, {"run_type", "iteration"},
                                      {"reference", true}, {"error_occurred", true},
                                      {"error_message", "Asio yardstick: " + error}});
                break;
            }
            const double wall_ms = m.seconds * 1e3;
            json b{{"name", e.ref.name}, {"run_name", e.ref.name}, {"run_type", "iteration"},
                   {"repetitions", reps}, {"repetition_index", rep}, {"iterations", 1},
                   {"real_time", wall_ms}, {"cpu_time", wall_ms}, {"time_unit", "ms"},
                   {"reference", true}, {"label", asio_label()}, {"ops", e.ops}};
            for (auto& [k, v] : e.report(m)) b[k] = v;
            put_load(b, load.read());
            benchmarks.push_back(b);
            ++ok;
        }
    }
    std::fprintf(stderr, "cobench: Boost.Asio yardstick: %zu runs ok, %zu failed, in %.1f s\n", ok, failed,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count());
}

// ---- the catalogue ----------------------------------------------------------

constexpr reference_kind catalogue[] = {{kernel_entries, run_kernel}, {asio_entries, run_asio}};

}  // namespace

std::vector<reference_entry> reference_entries(profile p) {
    std::vector<reference_entry> out;
    for (const reference_kind& k : catalogue)
        for (auto& e : k.entries(p)) out.push_back(std::move(e));
    return out;
}

std::vector<reference_runtime> reference_runtimes() { return {{asio_runtime, "the Boost.Asio yardstick"}}; }

void run_references(const options& o, json& benchmarks, json& declared, json& references) {
    for (const reference_kind& k : catalogue) {
        std::vector<reference_entry> todo;
        for (auto& e : k.entries(o.prof))
            if (o.selected(e.name, e.runtime)) todo.push_back(std::move(e));
        if (todo.empty()) continue;
        (void)wait_until_quiet(o.quiet_wait, "the references from " + todo.front().name);
        k.run(o, todo, benchmarks, declared, references);
    }
}

}  // namespace cb
