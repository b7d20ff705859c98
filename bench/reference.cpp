#include "reference.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <boost/version.hpp>
#include <re2/re2.h>
#include <unistd.h>

#include "bench/families.hpp"
#include "bench/other_load.hpp"
#include "bench/reference_program.hpp"
#include "bench/reference_python.hpp"
#include "bench/supervise.hpp"
#include "workloads/echo.hpp"
#include "workloads/slow_io.hpp"

namespace cb {
namespace {

using json = nlohmann::json;

// One kind of reference: its entries, and how a selection of them runs.
struct reference_kind {
    std::vector<reference_entry> (*entries)(profile);
    // Whether a selection of runtimes may name one of its entries; null:
    // always (its entries cost nothing to list).
    bool (*asked)(const std::vector<std::string>& runtimes);
    void (*run)(const options&, const std::vector<reference_entry>& selected, json& benchmarks, json& declared,
                json& references, json& counters);
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
void run_kernel(const options& o, const std::vector<reference_entry>& todo, json& benchmarks, json& declared, json&,
                json&) {
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

std::vector<program_entry> asio_program_entries(profile prof) {
    std::vector<program_entry> out;
    if (!measures_workloads(prof)) return out;
    for (const auto& p : wl::echo::sizes(prof, asio_traits))
        out.push_back(program_entry_of<wl::echo>(p, asio_traits, asio_runtime, "Boost.Asio yardstick"));
    for (const auto& p : wl::slow_io::sizes(prof, asio_traits))
        out.push_back(program_entry_of<wl::slow_io>(p, asio_traits, asio_runtime, "Boost.Asio yardstick"));
    return out;
}

std::vector<reference_entry> asio_entries(profile p) {
    std::vector<reference_entry> out;
    for (auto& e : asio_program_entries(p)) out.push_back(e.ref);
    return out;
}

void run_asio(const options& o, const std::vector<reference_entry>& selected, json& benchmarks, json& declared,
              json& references, json&) {
    std::vector<program_entry> todo;
    for (auto& e : asio_program_entries(o.prof))
        if (std::any_of(selected.begin(), selected.end(), [&](auto& s) { return s.name == e.ref.name; }))
            todo.push_back(std::move(e));
    references[asio_runtime] = {{"label", asio_label()}, {"kind", "yardstick"}, {"version", boost_version()},
                                {"program", "cobench_asio_echo (bench/programs/asio_echo/)"}};
    std::string why;
    const std::string path = find_asio(&why);
    std::fprintf(stderr, "cobench: Boost.Asio yardstick: %zu benchmarks%s\n", todo.size(),
                 path.empty() ? ": the server is missing, declared" : "...");
    run_program_entries(
        o, todo, "Boost.Asio yardstick",
        [&](const program_entry&, wl::server_program& prog) {
            prog.path = path;
            return why;
        },
        [](const program_entry&) { return json{{"label", asio_label()}}; }, benchmarks, declared);
}

// ---- the catalogue ----------------------------------------------------------

constexpr reference_kind catalogue[] = {{kernel_entries, nullptr, run_kernel},
                                        {asio_entries, nullptr, run_asio},
                                        {python_entries, python_asked, run_python}};

}  // namespace

std::vector<reference_entry> reference_entries(profile p, const std::vector<std::string>& runtimes) {
    std::vector<reference_entry> out;
    for (const reference_kind& k : catalogue)
        if (!k.asked || k.asked(runtimes))
            for (auto& e : k.entries(p)) out.push_back(std::move(e));
    return out;
}

std::vector<reference_runtime> reference_runtimes() {
    std::vector<reference_runtime> out{{asio_runtime, "the Boost.Asio yardstick"}};
    for (auto& r : python_runtimes()) out.push_back(r);
    return out;
}

std::vector<std::string> reference_group(const std::string& name) {
    if (name != python_group) return {};
    std::vector<std::string> out;
    for (auto& r : python_runtimes()) out.push_back(r.name);
    return out;
}

void run_references(const options& o, json& benchmarks, json& declared, json& references, json& counters) {
    for (const reference_kind& k : catalogue) {
        if (k.asked && !k.asked(o.runtimes)) continue;
        std::vector<reference_entry> todo;
        for (auto& e : k.entries(o.prof))
            if (o.selected(e.name, e.runtime)) todo.push_back(std::move(e));
        if (todo.empty()) continue;
        (void)wait_until_quiet(o.quiet_wait, "the references from " + todo.front().name);
        k.run(o, todo, benchmarks, declared, references, counters);
    }
}

}  // namespace cb
