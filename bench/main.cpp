// cobench: the benchmark binary.
//
// By default it is an orchestrator: it runs each runtime family in a child
// process of its own (this same binary with --family), so that fork happens
// from a clean single-threaded process, one family's worker threads do not
// compete with the next, and a crash or overrun costs only that family. It
// merges the families' Google Benchmark JSON into one results file, written
// atomically. --instructions counts instructions under callgrind instead.
#include <benchmark/benchmark.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/families.hpp"
#include "bench/machine.hpp"
#include "runtimes/core/inject.hpp"

extern char** environ;

namespace {

using json = nlohmann::json;
using cb::profile;

constexpr const char* allocator_policy =
    "glibc malloc; M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=1 GiB: memory one run frees is reused by the next "
    "instead of being returned to the OS; idle_memory calls malloc_trim before its baseline";

constexpr const char* usage_text = R"(usage: cobench [options] [--benchmark_* flags]

Runs every workload under every runtime and writes one results JSON
(format: results/README.md). Each runtime family runs in a process of its own.

options:
  --profile NAME        quick (default; about 2 minutes on 2 cores), full (with
                        3 repetitions; about 20 minutes), test (tiny sizes)
  --out FILE            results file (default: results/latest.json); written
                        atomically, so a failed run never leaves half a file
  --runtimes LIST       comma-separated subset of: %RUNTIMES%
  --filter REGEX        only benchmarks whose name (workload/runtime/params)
                        contains a match, e.g. '^ping_pong/' or 'tasks:1$'
  --family-timeout S    seconds a family may run before it is killed and
                        recorded as "timeout" (default: 300 quick, 1800 full)
  --repetitions N       repetitions of every benchmark (default: 1, full: 3)
  --instructions        deterministic mode: count instructions of the
                        single-threaded benchmarks under valgrind's callgrind
                        (default output: results/instructions.json)
  --list                print the benchmarks and declared pairs, run nothing
  --help                this text

Google Benchmark's own --benchmark_* flags are passed to every family.
Exit status: 0 all families ok; 1 bad usage; 2 no results could be written;
3 results written but some family failed (see "families" in the JSON).
)";

[[noreturn]] void die(const std::string& msg, int code = 1) {
    std::fprintf(stderr, "cobench: %s\n", msg.c_str());
    std::exit(code);
}

struct options {
    profile prof = profile::quick;
    std::string out;
    std::vector<std::string> runtimes;
    std::string filter;
    double family_timeout = 0;
    int repetitions = 0;
    bool instructions = false, list = false;
    std::vector<std::string> gbench_flags;
    // internal modes
    std::string family, family_out, instr_one;
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, sep);)
        if (!item.empty()) out.push_back(item);
    return out;
}

double parse_number(const std::string& flag, const std::string& v, double lo, double hi) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(d >= lo && d <= hi))
        die(flag + " wants a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + v + "'");
    return d;
}

options parse(int argc, char** argv) {
    options o;
    const auto known = cb::runtime_names();
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i], v;
        auto eq = a.find('=');
        bool has_inline = a.rfind("--", 0) == 0 && eq != std::string::npos;
        if (has_inline) {
            v = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        auto value = [&]() -> std::string {
            if (has_inline) return v;
            if (i + 1 >= argc) die(a + " needs a value (see --help)");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::string t = usage_text, list;
            for (auto& r : known) list += (list.empty() ? "" : ", ") + r;
            t.replace(t.find("%RUNTIMES%"), 10, list);
            std::fputs(t.c_str(), stdout);
            std::exit(0);
        } else if (a == "--profile") {
            std::string p = value();
            if (p == "quick") o.prof = profile::quick;
            else if (p == "full") o.prof = profile::full;
            else if (p == "test") o.prof = profile::test;
            else die("unknown profile '" + p + "' (quick, full, test)");
        } else if (a == "--out") {
            o.out = value();
        } else if (a == "--runtimes") {
            o.runtimes = split(value(), ',');
            for (auto& r : o.runtimes)
                if (std::find(known.begin(), known.end(), r) == known.end()) die("unknown runtime '" + r + "'");
            if (o.runtimes.empty()) die("--runtimes names no runtime");
        } else if (a == "--filter") {
            o.filter = value();
            try {
                std::regex re(o.filter);
            } catch (const std::regex_error& e) {
                die("--filter: bad regular expression '" + o.filter + "': " + e.what());
            }
        } else if (a == "--family-timeout") {
            o.family_timeout = parse_number(a, value(), 1, 86400);
        } else if (a == "--repetitions") {
            o.repetitions = static_cast<int>(parse_number(a, value(), 1, 100));
        } else if (a == "--instructions") {
            o.instructions = true;
        } else if (a == "--list") {
            o.list = true;
        } else if (a == "--family") {
            o.family = value();
        } else if (a == "--family-out") {
            o.family_out = value();
        } else if (a == "--instr-one") {
            o.instr_one = value();
        } else if (a.rfind("--benchmark_", 0) == 0) {
            o.gbench_flags.push_back(argv[i]);
        } else {
            die("unknown option '" + std::string(argv[i]) + "' (see --help)");
        }
    }
    if (o.runtimes.empty()) o.runtimes = known;
    if (o.repetitions == 0) o.repetitions = o.prof == profile::full ? 3 : 1;
    if (o.family_timeout == 0) o.family_timeout = o.prof == profile::full ? 1800 : 300;
    if (o.out.empty()) o.out = o.instructions ? "results/instructions.json" : "results/latest.json";
    return o;
}

// ---- writing results -------------------------------------------------------

void write_atomically(const std::string& path, const std::string& text) {
    auto slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) die("output folder '" + dir + "' does not exist", 2);
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << text;
        f.flush();
        if (!f) {
            ::unlink(tmp.c_str());
            die("could not write '" + tmp + "'", 2);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        die("could not rename onto '" + path + "': " + std::strerror(errno), 2);
    }
}

void check_writable(const std::string& path) {
    auto slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (::access(dir.c_str(), W_OK) != 0) die("cannot write to the output folder '" + dir + "' (create it first?)", 2);
}

json context_json(const options& o, const json& base) {
    json c = base.is_object() ? base : json::object();
    c["cobench_schema"] = 1;
    c["cobench_profile"] = o.instructions ? "instructions" : std::string(cb::profile_name(o.prof));
    for (auto& [k, v] : cb::machine_context()) c[k] = v;
    c["injected_work"] = cb::injected_work;
    c["allocator"] = allocator_policy;
    c["timing"] = "wall-clock of each run (manual time); state setup and verify outside the clock; one warm-up "
                  "run or more before timing, except memory probes";
    return c;
}

// Google Benchmark prints non-finite statistics (the coefficient of variation
// of an all-zero counter) as nan or inf, which is not JSON; they become null.
std::string without_non_finite(const std::string& text) {
    static const std::regex bad(R"(:\s*-?(nan|NaN|inf|Infinity)\b)");
    return std::regex_replace(text, bad, ": null");
}

// ---- running children ------------------------------------------------------

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) die("cannot find my own executable (/proc/self/exe)", 2);
    return std::string(buf, static_cast<std::size_t>(n));
}

struct child_result {
    std::string status = "ok", message;
    double wall_s = 0;
};

// Runs argv in a new process group; kills the whole group past the deadline.
child_result run_child(const std::vector<std::string>& args, double timeout_s, bool quiet_stdout = false) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet_stdout) posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    child_result r;
    if (rc != 0) return {"error", std::string("could not start: ") + std::strerror(rc), 0};
    const auto t0 = std::chrono::steady_clock::now();
    int st = 0;
    for (;;) {
        pid_t w = ::waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return {"error", std::string("waitpid: ") + std::strerror(errno), 0};
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > timeout_s) {
            ::kill(-pid, SIGKILL);
            while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
            r.status = "timeout";
            r.message = "killed after " + std::to_string(static_cast<int>(timeout_s)) + " s (--family-timeout)";
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(-pid, SIGKILL);  // anything the child left behind in its group
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.status == "ok") {
        if (WIFSIGNALED(st)) {
            r.status = "crashed";
            r.message = std::string("killed by signal ") + std::to_string(WTERMSIG(st)) + " (" + ::strsignal(WTERMSIG(st)) + ")";
        } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            r.status = "error";
            r.message = "exited with status " + std::to_string(WEXITSTATUS(st));
        }
    }
    return r;
}

bool selected(const options& o, const std::string& name, const std::string& runtime) {
    if (std::find(o.runtimes.begin(), o.runtimes.end(), runtime) == o.runtimes.end()) return false;
    return o.filter.empty() || std::regex_search(name, std::regex(o.filter));
}

// ---- modes -----------------------------------------------------------------

int run_family(const options& o) {
    const auto known = cb::runtime_names();
    if (std::find(known.begin(), known.end(), o.family) == known.end()) die("unknown family '" + o.family + "'");
    if (cb::register_family(o.family, o.prof, o.filter) == 0) return 0;
    std::vector<std::string> args{"cobench", "--benchmark_out=" + o.family_out, "--benchmark_out_format=json",
                                  "--benchmark_repetitions=" + std::to_string(o.repetitions)};
    for (auto& f : o.gbench_flags) args.push_back(f);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int argc = static_cast<int>(argv.size());
    benchmark::Initialize(&argc, argv.data());
    if (benchmark::ReportUnrecognizedArguments(argc, argv.data())) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

int run_list(const options& o) {
    for (auto& p : cb::planned_pairs(o.prof))
        if (selected(o, p.name, p.runtime)) std::printf("%s%s\n", p.name.c_str(), p.deterministic ? "  [instructions]" : "");
    for (auto& d : cb::declared_pairs(o.prof))
        if (selected(o, d.workload + "/" + d.runtime + "/" + d.params, d.runtime))
            std::printf("declared %s/%s/%s: %s\n", d.workload.c_str(), d.runtime.c_str(), d.params.c_str(), d.reason.c_str());
    return 0;
}

// The kernel's own scheduler benchmark, measured the way pipe_pong measures
// a runtime: two tasks pinned to CPU 0 bounce a byte through two pipes;
// perf prints the round trip in usecs/op, one-way is half. Recorded as
// kernel_sched_pipe/{processes,threads}/pin:same, or declared if perf is
// missing.
void kernel_reference(const options& o, json& benchmarks, json& declared) {
    const bool have_perf = ::system("perf bench sched pipe -l 1 >/dev/null 2>&1") == 0;
    const long loops = o.prof == profile::full ? 100000 : o.prof == profile::test ? 1000 : 20000;
    for (const std::string mode : {"processes", "threads"}) {
        const std::string name = "kernel_sched_pipe/" + mode + "/pin:same";
        if (!selected(o, name, mode)) continue;
        if (!have_perf) {
            declared.push_back({{"workload", "kernel_sched_pipe"}, {"runtime", mode}, {"params", "pin:same"},
                                {"reason", "perf is not installed (Debian package linux-perf)"}});
            continue;
        }
        const std::string cmd = "taskset -c 0 perf bench sched pipe -l " + std::to_string(loops) +
                                (mode == "threads" ? " -T" : "") + " 2>&1";
        for (int rep = 0; rep < o.repetitions; ++rep) {
            std::string out;
            if (FILE* p = ::popen(cmd.c_str(), "r")) {
                char buf[256];
                while (std::fgets(buf, sizeof buf, p)) out += buf;
                ::pclose(p);
            }
            std::smatch m;
            static const std::regex usecs(R"(([0-9.]+) usecs/op)");
            if (!std::regex_search(out, m, usecs)) {
                benchmarks.push_back({{"name", name}, {"run_name", name}, {"run_type", "iteration"}, {"error_occurred", true},
                                      {"error_message", "could not read perf's output: " + out.substr(0, 200)}});
                break;
            }
            const double round_trip_ns = std::stod(m[1]) * 1e3;
            benchmarks.push_back({{"name", name}, {"run_name", name}, {"run_type", "iteration"},
                                  {"repetitions", o.repetitions}, {"repetition_index", rep}, {"threads", 1},
                                  {"iterations", loops}, {"real_time", round_trip_ns}, {"cpu_time", round_trip_ns},
                                  {"time_unit", "ns"}, {"switch_ns", round_trip_ns / 2}, {"label", "perf bench sched pipe"}});
        }
    }
}

int run_benchmarks(const options& o) {
    check_writable(o.out);
    json families = json::array(), benchmarks = json::array(), context;
    const std::string exe = self_exe();
    bool all_ok = true;
    std::size_t k = 0;
    for (auto& fam : o.runtimes) {
        ++k;
        std::size_t planned = 0;
        for (auto& p : cb::planned_pairs(o.prof)) planned += p.runtime == fam && selected(o, p.name, p.runtime);
        if (planned == 0) continue;
        std::fprintf(stderr, "cobench: [%zu/%zu] %s: %zu benchmarks, profile %s...\n", k, o.runtimes.size(), fam.c_str(),
                     planned, std::string(cb::profile_name(o.prof)).c_str());
        std::string part = o.out + "." + fam + ".part";
        ::unlink(part.c_str());
        std::vector<std::string> args{exe, "--family", fam, "--family-out", part, "--profile",
                                      std::string(cb::profile_name(o.prof)), "--repetitions", std::to_string(o.repetitions)};
        if (!o.filter.empty()) args.insert(args.end(), {"--filter", o.filter});
        for (auto& f : o.gbench_flags) args.push_back(f);
        child_result r = run_child(args, o.family_timeout);
        std::size_t got = 0;
        std::ifstream f(part);
        if (f) {
            try {
                json j = json::parse(without_non_finite(std::string(std::istreambuf_iterator<char>(f), {})));
                if (context.is_null() && j.contains("context")) context = j["context"];
                for (auto& b : j.at("benchmarks")) {
                    // A statistic that does not exist (the spread of an
                    // all-zero counter) is left out, not written as a number.
                    for (auto it = b.begin(); it != b.end();) it = it->is_null() ? b.erase(it) : std::next(it);
                    benchmarks.push_back(b);
                    ++got;
                }
            } catch (const std::exception& e) {
                if (r.status == "ok") r = {"error", std::string("unreadable family output: ") + e.what(), r.wall_s};
            }
        } else if (r.status == "ok") {
            r = {"error", "the family wrote no results", r.wall_s};
        }
        ::unlink(part.c_str());
        all_ok = all_ok && r.status == "ok";
        families.push_back({{"runtime", fam}, {"status", r.status}, {"message", r.message}, {"wall_s", r.wall_s},
                            {"benchmarks", got}});
        std::fprintf(stderr, "cobench: [%zu/%zu] %s: %s in %.1f s%s%s\n", k, o.runtimes.size(), fam.c_str(),
                     r.status.c_str(), r.wall_s, r.message.empty() ? "" : ": ", r.message.c_str());
    }
    json declared = json::array();
    for (auto& d : cb::declared_pairs(o.prof))
        if (selected(o, d.workload + "/" + d.runtime + "/" + d.params, d.runtime))
            declared.push_back({{"workload", d.workload}, {"runtime", d.runtime}, {"params", d.params}, {"reason", d.reason}});
    kernel_reference(o, benchmarks, declared);
    json doc{{"context", context_json(o, context)}, {"benchmarks", benchmarks}, {"families", families}, {"declared", declared}};
    write_atomically(o.out, doc.dump(1) + "\n");
    std::fprintf(stderr, "cobench: wrote %s (%zu benchmarks, %zu declared pairs)\n", o.out.c_str(), benchmarks.size(),
                 declared.size());
    return all_ok ? 0 : 3;
}

// Parses "summary: N" / "totals: N" from a callgrind output file.
double callgrind_total(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    double total = -1;
    while (std::getline(f, line)) {
        if (line.rfind("summary:", 0) == 0 || line.rfind("totals:", 0) == 0) total = std::stod(line.substr(line.find(':') + 1));
    }
    return total;
}

int run_instructions(const options& o) {
    check_writable(o.out);
    if (::system("valgrind --version >/dev/null 2>&1") != 0) die("--instructions needs valgrind (apt-get install valgrind)", 2);
    const std::string exe = self_exe();
    const profile prof = o.prof == profile::full ? profile::quick : profile::test;  // sizes valgrind runs in seconds
    json benchmarks = json::array(), families = json::array();
    bool all_ok = true;
    std::vector<cb::planned_pair> todo;
    for (auto& p : cb::planned_pairs(prof))
        if (p.deterministic && selected(o, p.name, p.runtime)) todo.push_back(p);
    std::size_t k = 0;
    for (auto& p : todo) {
        ++k;
        std::string out = o.out + ".callgrind." + std::to_string(::getpid());
        std::string ops_file = out + ".ops";
        std::vector<std::string> args{"/usr/bin/env", "valgrind", "-q", "--tool=callgrind", "--instr-atstart=no",
                                      "--callgrind-out-file=" + out, exe, "--instr-one", p.name,
                                      "--profile", std::string(cb::profile_name(prof)), "--family-out", ops_file};
        std::fprintf(stderr, "cobench: [%zu/%zu] %s under callgrind...\n", k, todo.size(), p.name.c_str());
        child_result r = run_child(args, o.family_timeout, true);
        double ir = callgrind_total(out), ops = -1;
        if (std::ifstream f(ops_file); f) f >> ops;
        ::unlink(out.c_str());
        ::unlink(ops_file.c_str());
        if (r.status == "ok" && (ir <= 0 || ops <= 0)) r = {"error", "no instruction count came back", r.wall_s};
        if (r.status != "ok") {
            all_ok = false;
            benchmarks.push_back({{"name", p.name}, {"run_name", p.name}, {"run_type", "iteration"}, {"error_occurred", true},
                                  {"error_message", r.status + ": " + r.message}});
            continue;
        }
        benchmarks.push_back({{"name", p.name}, {"run_name", p.name}, {"run_type", "iteration"}, {"repetitions", 1},
                              {"repetition_index", 0}, {"threads", 1}, {"iterations", 1}, {"real_time", r.wall_s * 1e3},
                              {"cpu_time", r.wall_s * 1e3}, {"time_unit", "ms"}, {"instructions", ir},
                              {"instructions_per_op", ir / ops}});
    }
    families.push_back({{"runtime", "callgrind"}, {"status", all_ok ? "ok" : "error"}, {"message", ""}, {"wall_s", 0}});
    json doc{{"context", context_json(o, json::object())}, {"benchmarks", benchmarks}, {"families", families},
             {"declared", json::array()}};
    doc["context"]["cobench_sizes"] = std::string(cb::profile_name(prof));
    write_atomically(o.out, doc.dump(1) + "\n");
    std::fprintf(stderr, "cobench: wrote %s (%zu instruction counts)\n", o.out.c_str(), benchmarks.size());
    return all_ok ? 0 : 3;
}

int run_instr_one(const options& o) {
    double ops = cb::run_instrumented(o.instr_one, o.prof);
    std::ofstream f(o.family_out);
    f << ops << "\n";
    return f ? 0 : 2;
}

}  // namespace

// The allocator is part of what is measured. On a VM a page fault costs
// microseconds, so glibc giving freed memory back to the OS between runs (heap
// trimming, large blocks mmapped and unmapped) would dominate spawn-heavy
// figures. Freed memory is kept for the next run instead; idle_memory still
// trims explicitly before its baseline. Recorded in every result's context.
int main(int argc, char** argv) {
    ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
    cb::read_injected_work_from_env();
    options o = parse(argc, argv);
    try {
        if (!o.instr_one.empty()) return run_instr_one(o);
        if (!o.family.empty()) return run_family(o);
        if (o.list) return run_list(o);
        if (o.instructions) return run_instructions(o);
        return run_benchmarks(o);
    } catch (const std::exception& e) {
        die(e.what(), 2);
    }
}
