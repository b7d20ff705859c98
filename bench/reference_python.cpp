#include "reference_python.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include <stdlib.h>
#include <unistd.h>

#include "bench/families.hpp"
#include "bench/reference_program.hpp"
#include "bench/supervise.hpp"
#include "workloads/echo.hpp"

namespace cb {
namespace {

using json = nlohmann::json;

// The idiomatic ways a Python user runs concurrent tasks, in the order the
// C++ runtimes run from processes to coroutines.
const reference_runtime py_runtimes[] = {
    {"py_multiprocessing", "CPython multiprocessing (fork)"},
    {"py_threading", "CPython threading"},
    {"py_threadpool", "CPython concurrent.futures.ThreadPoolExecutor"},
    {"py_gevent", "CPython gevent (greenlets)"},
    {"py_asyncio", "CPython asyncio, default loop"},
    {"py_uvloop", "CPython asyncio on uvloop"},
};

// What a Python echo server is to the echo workload's sizes and
// unsupported(): concurrent, and heavy for every model (the interpreter's
// cost a request outweighs what the model adds).
constexpr runtime_traits py_echo_traits{"python", "CPython echo server", task_kind::coroutine, false, true,
                                        stack_model::stackless, cost_class::heavy};

// Connections of the Python echo rows: fewer than the C++ rows and no rate
// sweep, which keeps the quick profile within its budget (an interpreter
// spends far more CPU a request than a C++ server); the requests and the
// open-loop rate are the C++ rows' own, so server CPU per request compares
// at an equal offered rate.
std::vector<std::size_t> py_echo_conns(profile p) {
    return wl::by_profile<std::vector<std::size_t>>(p, {2}, {10, 100}, {10, 100, 1000});
}

// A temporary file removed on destruction: a child's stdout, kept apart
// from its stderr.
struct temp_file {
    std::string path;
    temp_file() {
        const char* dir = std::getenv("TMPDIR");
        path = std::string(dir && *dir ? dir : "/tmp") + "/cobench-py-XXXXXX";
        const int fd = ::mkstemp(path.data());
        if (fd < 0) throw std::runtime_error("mkstemp " + path + ": " + errno_name(errno));
        ::close(fd);
    }
    ~temp_file() { ::unlink(path.c_str()); }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    std::string text() const {
        std::ifstream f(path);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }
};

// argv run with its stdout into `out` (a shell's redirection: run_child
// passes stdout on or mixes it with stderr).
child_result run_to_file(const std::vector<std::string>& argv, const temp_file& out, child_options co) {
    std::vector<std::string> a{"/bin/sh", "-c", "f=$1; shift; exec \"$@\" >\"$f\"", "sh", out.path};
    a.insert(a.end(), argv.begin(), argv.end());
    return run_child(a, co);
}

std::string find_python(std::string* why) {
    const char* env = std::getenv("COBENCH_PYTHON");
    std::string p = env && *env ? env : "/usr/bin/python3";
    if (::access(p.c_str(), X_OK) != 0) {
        *why = "the interpreter '" + p + "' is not an executable file (Debian package python3, or set COBENCH_PYTHON)";
        return {};
    }
    return p;
}

std::string find_program(std::string* why) {
    const std::string rel = "bench/programs/cpython/cobench_py.py";
    std::vector<std::string> tried;
    if (const char* env = std::getenv("COBENCH_PY_PROGRAM"); env && *env) {
        tried.push_back(env);
    } else {
        const std::string exe = self_exe();
        const std::string dir = exe.substr(0, exe.find_last_of('/') + 1);
        tried.push_back(dir + "../" + rel);  // a build folder in the source tree (build/, as run.sh makes)
#ifdef COBENCH_SOURCE_DIR
        tried.push_back(std::string(COBENCH_SOURCE_DIR) + "/" + rel);  // the tree it was built from
#endif
    }
    for (auto& p : tried)
        if (::access(p.c_str(), R_OK) == 0) return p;
    *why = "the CPython yardsticks' program is not at";
    for (auto& p : tried) *why += " '" + p + "'";
    *why += " (set COBENCH_PY_PROGRAM)";
    return {};
}

// One runtime as the program describes it.
struct py_runtime {
    std::string label;
    bool available = false;
    std::string reason;
    json info;  // its context.references object
};

// Everything `list` said, once per profile and process.
struct python_listing {
    std::string why;  // "" when listed
    std::string python, program, interpreter;  // interpreter: "CPython 3.11.2"
    std::map<std::string, py_runtime> runtimes;
    json counters = json::object();
    std::vector<reference_entry> entries;  // the workloads' and the echo rows, declared ones with their reason
    std::vector<program_entry> echo;
};

// A string field of the program's JSON, or `fallback` where it is absent,
// null or not a string (a listing is read, never trusted to be complete).
std::string field(const json& j, const char* key, const std::string& fallback = {}) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}
bool flag(const json& j, const char* key, bool fallback) {
    const auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// "CPython 3.11.2 asyncio (default event loop)" from the runtime's own
// label, which may name the implementation already.
std::string versioned(const std::string& interpreter, std::string label) {
    const std::string impl = interpreter.substr(0, interpreter.find(' ') + 1);
    if (!impl.empty() && label.rfind(impl, 0) == 0) label.erase(0, impl.size());
    return interpreter + " " + label;
}

json reference_of(const json& interp, const json& rt, const std::string& interpreter, const std::string& program) {
    json r{{"kind", "yardstick"},
           {"label", versioned(interpreter, field(rt, "label", field(rt, "name")))},
           {"runtime_label", field(rt, "label")},
           {"interpreter", interpreter},
           {"interpreter_version", field(interp, "version", "")},
           {"interpreter_build", field(interp, "build", "")},
           {"interpreter_executable", field(interp, "executable", "")},
           {"interpreter_lock", flag(interp, "gil", true)},
           {"available", flag(rt, "available", false)},
           {"module_version", rt.contains("module_version") ? rt["module_version"] : json()},
           {"program", program}};
    if (rt.contains("traits") && rt["traits"].is_object())
        for (auto& [k, v] : rt["traits"].items()) r[k == "kind" ? "model_kind" : k] = v;
    r["kind"] = "yardstick";
    if (!r["available"].get<bool>()) r["reason"] = field(rt, "reason");
    return r;
}

void add_echo(python_listing& L, profile p) {
    const auto conns = py_echo_conns(p);
    for (const auto& rt : py_runtimes) {
        const std::string name = rt.name;
        const auto it = L.runtimes.find(name);
        const std::string what = it == L.runtimes.end() ? rt.what : versioned(L.interpreter, it->second.label);
        for (const auto& par : wl::echo::sizes(p, py_echo_traits)) {
            if (par.sweep || std::find(conns.begin(), conns.end(), par.conns) == conns.end()) continue;
            program_entry e = program_entry_of<wl::echo>(par, py_echo_traits, name, what);
            if (!L.why.empty()) e.ref.reason = L.why;
            else if (it == L.runtimes.end()) e.ref.reason = "the CPython program does not list " + name;
            else if (!it->second.available) e.ref.reason = it->second.reason;
            L.entries.push_back(e.ref);
            L.echo.push_back(std::move(e));
        }
    }
}

python_listing read_listing(profile p) {
    python_listing L;
    L.python = find_python(&L.why);
    if (L.why.empty()) L.program = find_program(&L.why);
    if (L.why.empty()) {
        temp_file out;
        child_options co;
        co.capture = true;  // stderr: kept for the reason if it fails
        co.timeout_s = 120;
        const child_result r = run_to_file({L.python, L.program, "list", "--profile", std::string(profile_name(p))}, out, co);
        try {
            if (r.status != "ok") throw std::runtime_error(r.status + ": " + r.message);
            const json doc = json::parse(out.text());
            const json& interp = doc.at("interpreter");
            L.interpreter = field(interp, "implementation", "CPython") + " " + field(interp, "version", "");
            for (const json& rt : doc.at("runtimes")) {
                py_runtime x;
                x.label = field(rt, "label", field(rt, "name"));
                x.available = flag(rt, "available", false);
                x.reason = field(rt, "reason");
                if (!x.available && x.reason.empty()) x.reason = "the CPython program says it is unavailable";
                x.info = reference_of(interp, rt, L.interpreter, "bench/programs/cpython/cobench_py.py");
                L.runtimes[rt.at("name").get<std::string>()] = std::move(x);
            }
            auto what = [&](const std::string& rt) {
                const auto it = L.runtimes.find(rt);
                return versioned(L.interpreter, it == L.runtimes.end() ? rt : it->second.label);
            };
            for (const json& e : doc.at("entries")) {
                reference_entry x{e.at("name").get<std::string>(), e.at("workload").get<std::string>(),
                                  e.at("runtime").get<std::string>(), e.at("params").get<std::string>(), "", ""};
                x.what = what(x.runtime);
                const auto it = L.runtimes.find(x.runtime);
                if (it != L.runtimes.end() && !it->second.available) x.reason = it->second.reason;
                L.entries.push_back(std::move(x));
            }
            for (const json& d : doc.value("declared", json::array())) {
                reference_entry x{"", d.at("workload").get<std::string>(), d.at("runtime").get<std::string>(),
                                  d.at("params").get<std::string>(), "", field(d, "reason")};
                x.name = x.workload + "/" + x.runtime + "/" + x.params;
                x.what = what(x.runtime);
                if (x.reason.empty()) x.reason = "declared by the CPython program";
                L.entries.push_back(std::move(x));
            }
            if (doc.contains("counters") && doc["counters"].is_object()) L.counters = doc["counters"];
        } catch (const std::exception& e) {
            L.why = "'" + L.python + " " + L.program + " list' failed: " + e.what() + "; its stderr: " +
                    r.output.substr(0, 500);
            L.runtimes.clear();
            L.entries.clear();
        }
    }
    if (!L.why.empty())
        for (const auto& rt : py_runtimes)
            L.entries.push_back({std::string("*/") + rt.name + "/*", "*", rt.name, "*", rt.what, L.why});
    if (measures_workloads(p)) add_echo(L, p);
    return L;
}

// The sizes the CPython rows run at: the quick profile's in the full one
// too. An interpreted run costs 10 to 100 times a compiled one: at the full
// profile's sizes the six runtimes' five repetitions alone would take about
// 12 minutes of the full profile's hour. The full profile keeps its
// repetitions (5, as every entry a verdict reads) on the smaller grid.
profile python_sizes(profile p) { return p == profile::full ? profile::quick : p; }

const python_listing& listing(profile asked) {
    static std::map<profile, python_listing> cache;
    const profile p = python_sizes(asked);
    auto it = cache.find(p);
    if (it == cache.end()) it = cache.emplace(p, read_listing(p)).first;
    return it->second;
}

json declared_runtime_reference(const std::string& name, const std::string& why) {
    return {{"kind", "yardstick"}, {"label", name}, {"available", false}, {"reason", why}, {"interpreter_lock", true},
            {"yardstick", true}, {"program", "bench/programs/cpython/cobench_py.py"}};
}

// workload/RUNTIME/params
std::string runtime_of(const std::string& name) {
    const auto a = name.find('/') + 1;
    return name.substr(a, name.find('/', a) - a);
}

// The workloads' entries through `cobench_py.py run`: every line a
// repetition or an error; a selected entry with no line is an error
// (the program stopped early, or did not know it).
void run_workloads(const options& o, const python_listing& L, const std::vector<std::string>& names,
                   json& benchmarks) {
    std::set<std::string> runtimes;
    for (auto& n : names) runtimes.insert(runtime_of(n));
    std::string csv;
    for (auto& r : runtimes) csv += (csv.empty() ? "" : ",") + r;
    temp_file out;
    child_options co;
    co.timeout_s = o.family_timeout;
    const child_result r =
        run_to_file({L.python, L.program, "run", "--profile", std::string(profile_name(python_sizes(o.prof))),
                     "--runtimes", csv, "--filter", exact_names_pattern(names), "--repetitions",
                     std::to_string(o.repetitions)},
                    out, co);
    std::set<std::string> seen;
    std::istringstream lines(out.text());
    std::string line, bad;
    const std::set<std::string> wanted(names.begin(), names.end());
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json b = json::parse(line, nullptr, false);
        if (!b.is_object() || !b.contains("name") || !b["name"].is_string()) {
            if (bad.empty()) bad = line.substr(0, 200);
            continue;
        }
        const std::string name = b["name"];
        if (!wanted.count(name)) continue;  // not asked for: never written
        seen.insert(name);
        if (!b.contains("run_name")) b["run_name"] = name;
        if (!b.contains("run_type")) b["run_type"] = "iteration";
        b["reference"] = true;
        b["interpreter"] = L.interpreter;
        if (!b.contains("label")) {
            if (auto it = L.runtimes.find(runtime_of(name)); it != L.runtimes.end()) b["label"] = it->second.info["label"];
        }
        benchmarks.push_back(std::move(b));
    }
    std::string why = "the CPython program wrote no result for it (" + r.status +
                      (r.message.empty() ? "" : ": " + r.message) + ")";
    if (!bad.empty()) why += "; a line it wrote that is not a result: " + bad;
    for (auto& n : names)
        if (!seen.count(n))
            benchmarks.push_back({{"name", n}, {"run_name", n}, {"run_type", "iteration"}, {"reference", true},
                                  {"interpreter", L.interpreter}, {"error_occurred", true},
                                  {"error_message", "CPython yardstick: " + why}});
}

}  // namespace

std::vector<reference_runtime> python_runtimes() { return {std::begin(py_runtimes), std::end(py_runtimes)}; }

bool python_asked(const std::vector<std::string>& runtimes) {
    return std::any_of(runtimes.begin(), runtimes.end(), [](const std::string& r) {
        return std::any_of(std::begin(py_runtimes), std::end(py_runtimes), [&](auto& p) { return r == p.name; });
    });
}

std::vector<reference_entry> python_entries(profile p) {
    if (!measures_workloads(p)) return {};  // the limits profile probes the C++ runtimes' capacity only
    return listing(p).entries;
}

void run_python(const options& o, const std::vector<reference_entry>& selected, json& benchmarks, json& declared,
                json& references, json& counters) {
    const auto t0 = std::chrono::steady_clock::now();
    const python_listing& L = listing(o.prof);
    std::vector<std::string> workloads;
    std::vector<program_entry> echo;
    std::set<std::string> runtimes;
    for (const auto& e : selected) {
        runtimes.insert(e.runtime);
        if (!e.reason.empty()) {
            declared.push_back(declared_entry(e, e.reason));
            continue;
        }
        const auto it = std::find_if(L.echo.begin(), L.echo.end(), [&](auto& x) { return x.ref.name == e.name; });
        if (it != L.echo.end()) echo.push_back(*it);
        else workloads.push_back(e.name);
    }
    for (const auto& rt : runtimes) {
        const auto it = L.runtimes.find(rt);
        references[rt] = it != L.runtimes.end() ? it->second.info
                                                : declared_runtime_reference(rt, L.why.empty() ? "not listed" : L.why);
    }
    for (auto& [k, v] : L.counters.items()) counters[k] = v;
    std::fprintf(stderr, "cobench: CPython yardsticks: %zu workload and %zu echo benchmarks%s%s\n", workloads.size(),
                 echo.size(), L.why.empty() ? " under " : ", all declared: ",
                 (L.why.empty() ? L.interpreter + "..." : L.why).c_str());
    if (!workloads.empty()) run_workloads(o, L, workloads, benchmarks);
    run_program_entries(
        o, echo, "CPython yardstick echo",
        [&](const program_entry& e, wl::server_program& prog) {
            prog.path = L.python;
            prog.args = {L.program, "serve", e.ref.runtime};
            return std::string();
        },
        [&](const program_entry& e) {
            json f{{"interpreter", L.interpreter}};
            if (auto it = L.runtimes.find(e.ref.runtime); it != L.runtimes.end()) f["label"] = it->second.info["label"];
            return f;
        },
        benchmarks, declared);
    std::fprintf(stderr, "cobench: CPython yardsticks: done in %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace cb
