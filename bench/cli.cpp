#include "cli.hpp"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/instructions.hpp"
#include "bench/reference.hpp"
#include "runtimes/core/worker_group.hpp"
#include "workloads/memory.hpp"

#ifndef COBENCH_BENCHMARK_VERSION
#define COBENCH_BENCHMARK_VERSION "unknown"
#endif

namespace cb {
namespace {

constexpr const char* usage_template = R"(usage: cobench [options] [--benchmark_* flags]
       cobench serve --runtime NAME [--port P] [--workers K] [--upstream-us L] [--tasks N]
                     (one runtime's echo server until SIGINT/SIGTERM: cobench serve --help)

Runs every workload under every runtime and writes one results JSON
(format: results/README.md). Each runtime family runs in a process of its own.

options:
  --profile NAME        quick (default; about 3 minutes on 2 cores), full (every
                        workload, sweep and yardstick with 5 repetitions, so
                        that two runs can differ significantly; under an hour
                        on 2 cores), test (tiny sizes),
                        limits (only max_tasks: each runtime holds tasks until
                        the machine's own wall or the memory budget; also per
                        stack size where a runtime takes one; about 8 minutes here)
  --memory-budget SIZE  the most memory a max_tasks probe may use, checked
                        before every step: bytes, or with a suffix K, M, G, T
                        (powers of 1024), at least 1M, or P% (1 to 100) of
                        MemAvailable when the run starts (default: 50% of
                        MemAvailable, read after each probe's first small
                        group has freed what earlier probes left). More than
                        MemAvailable now is refused
  --out FILE            results file (default: results/latest.json). Written to
                        a temporary file in the same folder, then renamed, so a
                        failed or interrupted run leaves the previous file as it
                        was. Refused before anything runs: a folder that does not
                        exist or cannot be written, or a FILE that exists and is
                        not a regular file (a directory, device, FIFO, socket or
                        symbolic link: give the real file's path instead)
  --runtimes LIST       comma-separated subset, each named once, of:
                        %RUNTIMES%
                        and asio: the Boost.Asio yardstick, an external echo
                        server measured in echo and slow_io only (entries
                        marked "reference"); and the CPython yardsticks
                        py_multiprocessing, py_threading, py_threadpool,
                        py_gevent, py_asyncio, py_uvloop ("python": all six),
                        the workloads written in Python under python3; without
                        --runtimes they are all in
  --filter REGEX        only benchmarks whose name (workload/runtime/params)
                        contains a match (RE2 syntax, linear time), e.g.
                        '^ping_pong/' or 'tasks:1$'; matching nothing is an error
  --workers K           workers of the runtimes with several (process_loops,
                        thread_loops, fibers on K threads), 1 to 4096 (default:
                        the CPUs this process may use; COBENCH_WORKERS in the
                        environment does the same). More than the CPUs is
                        allowed and said; a run never uses more workers than
                        it has tasks. Entries record the count they used.
  --family-timeout S    seconds a family may run before it is killed and
                        recorded as "timeout", 1 to 86400 (default: 300 quick,
                        1800 full)
  --quiet-wait S        before each family and reference group, wait up to S
                        seconds (0 to 3600) for other work to fall below a
                        tenth of the machine, saying so on stderr (default: 10,
                        test: 0). Every entry records the other load it ran
                        beside (other_load_frac) and steal (steal_frac)
  --repetitions N       repetitions of every benchmark, 1 to 100 (default: 1,
                        full: 5)
  --instructions        deterministic mode: count instructions of the
                        single-threaded benchmarks under valgrind's callgrind
                        (default output: results/instructions.json)
  --resume              continue an interrupted run: as it goes, a run keeps
                        each family that finished ok in FILE.resume/ beside
                        --out (removed once the results are written with no
                        failed family); --resume loads those, runs the other
                        families and the references (these always run again)
                        and writes the whole file. Refused unless the build
                        (commit, dirty flag), machine, profile, runtimes,
                        filter, repetitions, workers, memory budget and
                        --benchmark_* flags are the same (--family-timeout
                        and --quiet-wait may differ: a family that timed out
                        runs again); without --resume a kept state is
                        discarded (said on stderr)
  --list                print the benchmarks and declared pairs, run nothing
  --help                this text

Google Benchmark's own --benchmark_* flags are checked against the linked
library (%GBVERSION%) before anything runs, then passed to every
family; --benchmark_out, _out_format, _filter, _repetitions and _list_tests
are cobench's own (--out, --filter, --repetitions, --list).

Progress goes to stderr, one line per family; Google Benchmark's table to
stdout. A closed stdout or stderr (`| head`) does not stop the run. The
first line estimates the run's length from each entry's wall time in a
whole earlier run (bench/timings.json, kept by bench/timings.py;
COBENCH_TIMINGS=FILE reads another).

Exit status:
  0    every benchmark succeeded; results written
  1    a failure: no benchmark succeeded (the previous results file is kept),
       or the results could not be written
  2    bad input: unknown flag, bad value, bad --out, bad --filter or one that
       matches nothing, a --benchmark_* flag the library rejects, --resume
       with nothing to resume or a kept state of another build or options;
       nothing ran
  3    results written, but some benchmarks or families errored (see
       "error_message" in "benchmarks" and "status" in "families")
  128+N  killed by signal N (SIGINT, SIGTERM, SIGHUP): the running family's
       processes are killed, temporary files removed, the previous results
       file left byte for byte as it was; the families that finished stay in
       FILE.resume/ and the last line says how to --resume
)";

std::vector<std::string> split_list(const std::string& flag, const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t comma = s.find(',', start);
        std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (item.empty()) throw bad_input(flag + " has an empty name in '" + s + "'");
        out.push_back(item);
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

// As a POSIX shell reads it back: plain words as they are, others in single quotes.
std::string shell_quoted(const std::string& w) {
    const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_-+=,.:/@%").find(c) != std::string_view::npos;
    });
    if (plain) return w;
    std::string q = "'";
    for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

bool all_digits(std::string_view t) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string number_text(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", d);
    return buf;
}

// Set in the forked flag checker: Google Benchmark's Initialize() calls exit()
// (after printing its usage) for some values it rejects, e.g. an unknown
// --benchmark_format; returning normally is how we tell it accepted.
bool g_initialize_returned = false;

}  // namespace

std::string usage_text() {
    std::string t = usage_template;
    t.replace(t.find("%RUNTIMES%"), 10, join(runtime_names()));
    t.replace(t.find("%GBVERSION%"), 11, std::string("version ") + COBENCH_BENCHMARK_VERSION);
    return t;
}

long parse_integer(std::string_view flag, std::string_view text, long lo, long hi) {
    const std::string want = std::string(flag) + " wants a whole number from " + std::to_string(lo) + " to " +
                             std::to_string(hi) + ", written in decimal digits; got '" + std::string(text) + "'";
    if (!all_digits(text) || text.size() > 9) throw bad_input(want);
    long v = std::strtol(std::string(text).c_str(), nullptr, 10);
    if (v < lo || v > hi) throw bad_input(want);
    return v;
}

double parse_seconds(std::string_view flag, std::string_view text, double lo, double hi) {
    const std::string want = std::string(flag) + " wants seconds from " + number_text(lo) + " to " + number_text(hi) +
                             ", a plain decimal number such as 600 or 2.5; got '" + std::string(text) + "'";
    auto dot = text.find('.');
    std::string_view whole = text.substr(0, dot);
    if (!all_digits(whole) || whole.size() > 9) throw bad_input(want);
    if (dot != std::string_view::npos && !all_digits(text.substr(dot + 1))) throw bad_input(want);
    double v = std::strtod(std::string(text).c_str(), nullptr);
    if (!std::isfinite(v) || v < lo || v > hi) throw bad_input(want);
    return v;
}

double parse_size(std::string_view flag, std::string_view text) {
    const std::string want = std::string(flag) + " wants a size: bytes in decimal digits, optionally with a suffix K, M, "
                             "G or T (powers of 1024), at least 1M; or P% of MemAvailable, P from 1 to 100; got '" +
                             std::string(text) + "'";
    if (text.empty()) throw bad_input(want);
    if (text.back() == '%') {
        const long pct = parse_integer(flag, text.substr(0, text.size() - 1), 1, 100);
        const double available = mem_available();
        if (available <= 0) throw bad_input(std::string(flag) + ": MemAvailable cannot be read from /proc/meminfo");
        return available * static_cast<double>(pct) / 100;
    }
    double unit = 1;
    std::string_view digits = text;
    if (const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back()))); !std::isdigit(static_cast<unsigned char>(c))) {
        const std::string_view units = "KMGT";
        const auto at = units.find(c);
        if (at == std::string_view::npos) throw bad_input(want);
        unit = std::ldexp(1.0, 10 * static_cast<int>(at + 1));
        digits = text.substr(0, text.size() - 1);
    }
    if (!all_digits(digits) || digits.size() > 15) throw bad_input(want);
    const double bytes = std::strtod(std::string(digits).c_str(), nullptr) * unit;
    if (bytes < 1048576) throw bad_input(want);
    return bytes;
}

bool options::selected(std::string_view name, std::string_view runtime) const {
    return std::find(runtimes.begin(), runtimes.end(), runtime) != runtimes.end() && filter.matches(name);
}

options parse_args(int argc, char** argv) {
    options o;
    const auto known = runtime_names();
    for (int i = 0; i < argc; ++i) o.command += (i ? " " : "") + shell_quoted(argv[i]);
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i], v;
        const bool is_long = a.rfind("--", 0) == 0;
        auto eq = a.find('=');
        const bool has_inline = is_long && eq != std::string::npos;
        if (has_inline) {
            v = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        auto value = [&]() -> std::string {
            if (has_inline) return v;
            if (i + 1 >= argc) throw bad_input(a + " needs a value (see --help)");
            return argv[++i];
        };
        auto no_value = [&] {
            if (has_inline) throw bad_input(a + " takes no value, got '" + std::string(argv[i]) + "'");
        };
        if (a == "--help" || a == "-h") {
            no_value();
            o.help = true;
            return o;
        } else if (a.rfind("--benchmark_", 0) == 0) {
            o.gbench_flags.push_back(argv[i]);  // checked by check_benchmark_flags
        } else if (a == "--profile") {
            std::string p = value();
            if (p == "quick") o.prof = profile::quick;
            else if (p == "full") o.prof = profile::full;
            else if (p == "test") o.prof = profile::test;
            else if (p == "limits") o.prof = profile::limits;
            else throw bad_input("unknown profile '" + p + "' (quick, full, test, limits)");
        } else if (a == "--out") {
            o.out = value();
            if (o.out.empty()) throw bad_input("--out needs a file name");
        } else if (a == "--runtimes") {
            std::vector<std::string> asked;
            for (auto& r : split_list("--runtimes", value()))  // a group ("python") stands for its members
                if (auto g = reference_group(r); g.empty()) asked.push_back(r);
                else asked.insert(asked.end(), g.begin(), g.end());
            std::set<std::string> seen;
            const auto refs = reference_runtimes();
            for (auto& r : asked) {
                const bool is_reference =
                    std::any_of(refs.begin(), refs.end(), [&](const reference_runtime& x) { return x.name == r; });
                if (!is_reference && std::find(known.begin(), known.end(), r) == known.end()) {
                    std::string also;
                    for (auto& x : refs) also += "; and " + x.name + ", " + x.what;
                    throw bad_input("unknown runtime '" + r + "' (known: " + join(known) + also + ")");
                }
                if (!seen.insert(r).second) throw bad_input("--runtimes names '" + r + "' twice");
            }
            o.runtimes = asked;
        } else if (a == "--filter") {
            try {
                o.filter = name_filter(value());
            } catch (const std::invalid_argument& e) {
                throw bad_input(std::string("--filter: ") + e.what());
            }
        } else if (a == "--workers") {
            o.workers = static_cast<int>(parse_integer(a, value(), 1, 4096));
        } else if (a == "--memory-budget") {
            o.memory_budget_arg = value();
            o.memory_budget = parse_size(a, o.memory_budget_arg);
        } else if (a == "--family-timeout") {
            o.family_timeout = parse_seconds(a, value(), 1, 86400);
        } else if (a == "--quiet-wait") {
            o.quiet_wait = parse_seconds(a, value(), 0, 3600);
        } else if (a == "--repetitions") {
            o.repetitions = static_cast<int>(parse_integer(a, value(), 1, 100));
        } else if (a == "--instructions") {
            no_value();
            o.instructions = true;
        } else if (a == "--list") {
            no_value();
            o.list = true;
        } else if (a == "--resume") {
            no_value();
            o.resume = true;
        } else if (a == "--family") {
            o.family = value();
            if (std::find(known.begin(), known.end(), o.family) == known.end())
                throw bad_input("unknown family '" + o.family + "'");
        } else if (a == "--family-out") {
            o.family_out = value();
        } else if (a == "--instr-one") {
            o.instr_one = value();
        } else if (a == "--supervisor") {
            o.supervisor = static_cast<pid_t>(parse_integer(a, value(), 1, 1L << 30));
        } else {
            throw bad_input("unknown option '" + std::string(argv[i]) + "' (see --help)");
        }
    }
    if (o.memory_budget > 0) {
        // Families read it from the environment (bench/probe.hpp).
        const double available = mem_available();
        if (available > 0 && o.memory_budget > available)
            throw bad_input("--memory-budget " + std::to_string(static_cast<long long>(o.memory_budget / 1048576)) +
                            " MiB is more than the " + std::to_string(static_cast<long long>(available / 1048576)) +
                            " MiB available now (MemAvailable): the probes would drive the machine into swap or "
                            "the OOM killer");
        ::setenv("COBENCH_MEMORY_BUDGET", std::to_string(static_cast<long long>(o.memory_budget)).c_str(), 1);
    }
    if (o.workers > 0) {
        // Families and their workers read it from the environment (runtimes/core/worker_group.hpp).
        ::setenv("COBENCH_WORKERS", std::to_string(o.workers).c_str(), 1);
        const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        if (o.list == false && o.family.empty() && cpus > 0 && o.workers > cpus)
            std::fprintf(stderr, "cobench: note: --workers %d is more than the %ld CPUs online: workers will share "
                                 "CPUs (recorded in the results' context.workers)\n", o.workers, cpus);
    }
    try {
        (void)default_workers();  // a malformed COBENCH_WORKERS from the environment is bad input
    } catch (const std::invalid_argument& e) {
        throw bad_input(e.what());
    }
    if (o.runtimes.empty()) {
        o.runtimes = known;
        // The reference programs (bench/reference.hpp): in unless a --runtimes list leaves them out.
        for (auto& x : reference_runtimes()) o.runtimes.push_back(x.name);
    }
    if (o.repetitions == 0) o.repetitions = o.prof == profile::full ? 5 : 1;
    if (o.quiet_wait < 0) o.quiet_wait = o.prof == profile::test ? 0 : 10;
    if (o.family_timeout == 0) o.family_timeout = o.prof == profile::full || o.prof == profile::limits ? 1800 : 300;
    if (o.instructions && o.prof == profile::limits)
        throw bad_input("--instructions counts the workloads' instructions; the limits profile runs none");
    if (o.resume && (o.list || o.instructions || !o.family.empty() || !o.instr_one.empty()))
        throw bad_input(std::string("--resume continues an interrupted benchmark run; it cannot go with ") +
                        (o.list ? "--list" : o.instructions ? "--instructions" : !o.family.empty() ? "--family" : "--instr-one"));
    if (o.out.empty()) o.out = o.instructions ? "results/instructions.json" : "results/latest.json";
    if (o.instructions && !o.gbench_flags.empty())
        throw bad_input("--instructions runs no Google Benchmark, so '" + o.gbench_flags.front() + "' would do nothing");
    return o;
}

void check_benchmark_flags(const std::vector<std::string>& flags) {
    for (const auto& flag : flags) {
        const std::string name = flag.substr(0, flag.find('='));
        const std::string val = flag.find('=') == std::string::npos ? "" : flag.substr(flag.find('=') + 1);
        if (name == "--benchmark_out" || name == "--benchmark_out_format")
            throw bad_input("'" + flag + "': cobench writes the results itself; use --out FILE");
        if (name == "--benchmark_filter")
            throw bad_input("'" + flag + "': use --filter REGEX (matched against cobench's names)");
        if (name == "--benchmark_repetitions") throw bad_input("'" + flag + "': use --repetitions N");
        if (name == "--benchmark_list_tests") throw bad_input("'" + flag + "': use --list");
        std::fflush(nullptr);
        int usage_pipe[2];
        if (::pipe2(usage_pipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
        if (pid == 0) {
            // The library prints its usage to stdout when it exits on a bad
            // value (it comes back to the parent through the pipe); its
            // one-line reasons go to stderr, which the user sees.
            ::dup2(usage_pipe[1], 1);
            std::atexit([] {
                if (!g_initialize_returned) {
                    std::fflush(stdout);
                    ::_exit(3);
                }
            });
            std::string arg0 = "cobench", arg1 = flag;
            char* args[] = {arg0.data(), arg1.data(), nullptr};
            int n = 2;
            benchmark::Initialize(&n, args);
            g_initialize_returned = true;
            ::_exit(benchmark::ReportUnrecognizedArguments(n, args) ? 1 : 0);
        }
        ::close(usage_pipe[1]);
        std::string usage;
        char buf[4096];
        for (ssize_t r; (r = ::read(usage_pipe[0], buf, sizeof buf)) != 0;) {
            if (r > 0) usage.append(buf, static_cast<std::size_t>(r));
            else if (errno != EINTR) break;
        }
        ::close(usage_pipe[0]);
        int st = 0;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
        std::string msg = "Google Benchmark " COBENCH_BENCHMARK_VERSION " rejects '" + flag + "'";
        if ((name == "--benchmark_min_time" || name == "--benchmark_min_warmup_time") && !val.empty() &&
            (val.back() == 's' || val.back() == 'x'))
            msg += ": this version wants plain seconds, e.g. " + name + "=" + val.substr(0, val.size() - 1);
        else if (!usage.empty())
            msg += "; what it takes:\n" + usage;
        throw bad_input(msg);
    }
}

std::vector<std::string> runnable_names(const options& o, bool instructions) {
    std::vector<std::string> names;
    const profile prof = instructions ? instruction_sizes(o.prof) : o.prof;
    for (auto& p : planned_pairs(prof))
        if ((!instructions || p.deterministic) &&
            std::find(o.runtimes.begin(), o.runtimes.end(), p.runtime) != o.runtimes.end())
            names.push_back(p.name);
    if (!instructions)
        for (auto& r : reference_entries(o.prof, o.runtimes))
            if (r.reason.empty() && std::find(o.runtimes.begin(), o.runtimes.end(), r.runtime) != o.runtimes.end())
                names.push_back(r.name);
    return names;
}

void check_filter_selects(const options& o, bool instructions) {
    if (o.filter.empty()) return;
    const auto names = runnable_names(o, instructions);
    for (auto& n : names)
        if (o.filter.matches(n)) return;
    std::string msg = "--filter '" + o.filter.pattern() + "' matches none of the " + std::to_string(names.size()) +
                      (instructions ? " instruction-counted" : "") + " benchmarks of profile " +
                      std::string(profile_name(instructions ? instruction_sizes(o.prof) : o.prof)) +
                      " for runtimes " + join(o.runtimes);
    std::vector<std::string> declared;
    for (auto& d : declared_pairs(o.prof)) {
        std::string n = d.name();
        if (o.selected(n, d.runtime)) declared.push_back(n + " (" + d.reason + ")");
    }
    if (!declared.empty()) msg += ";\n  it matches only pairs declared unable to run: " + join(declared, "; ");
    // An excerpt, one name per workload/runtime, so the shapes are visible.
    std::vector<std::string> shown;
    std::set<std::string> workloads;
    for (auto& n : names)
        if (workloads.insert(n.substr(0, n.find('/'))).second) shown.push_back(n);
    msg += ";\n  names look like: " + join(shown, "  ");
    msg += "\n  all of them: cobench --list --profile " + std::string(profile_name(o.prof)) +
           (instructions ? "  (those marked [instructions])" : "");
    throw bad_input(msg);
}

}  // namespace cb
