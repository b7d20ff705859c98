// cobench: the benchmark binary.
//
// By default it is an orchestrator: it runs each runtime family in a child
// process of its own (this same binary with --family), so that fork happens
// from a clean single-threaded process, one family's worker threads do not
// compete with the next, and a crash or overrun costs only that family. It
// merges the families' Google Benchmark JSON into one results file, written
// atomically. --instructions counts instructions under callgrind instead.
//
//   cli.*          parsing and validation, exit statuses, --help
//   name_filter.*  --filter (RE2)
//   families.*     the runtime x workload product registered with Google
//                  Benchmark (product.hpp), the declared pairs, the results'
//                  metadata; probe.hpp, the max_tasks probe
//   orchestrate.*  run_benchmarks(): the families as children, the references
//                  beside them, one results file; --family in the child
//   merge.*        a family's output merged into the results document
//   resume.*       finished families kept on disk as a run goes; --resume
//   supervise.*    running children: signals, deadlines, output relay
//   other_load.*   the other load beside every entry (other_load_frac,
//                  steal_frac), and the wait for a quiet machine (--quiet-wait)
//   reference*     references, one kind of catalogue entry: the kernel's
//                  scheduler benchmark, the Asio echo server and the CPython
//                  yardsticks (reference_python.*), the echo rig's program
//                  entries they share (reference_program.*)
//   instructions.* --instructions: instruction counts under callgrind
//   output.*       the --out target, atomic writing, the results document
//   machine.*      what the results' context records about the machine
//   programs/serve `cobench serve`: one runtime's echo server until a signal
// The programs beside this binary (bench/programs/): the load generator
// (cobench_echo_client), the Asio echo server (cobench_asio_echo) and the
// CPython yardsticks' script (cpython/cobench_py.py, run by python3).
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <malloc.h>

#include "bench/cli.hpp"
#include "bench/families.hpp"
#include "bench/instructions.hpp"
#include "bench/orchestrate.hpp"
#include "bench/programs/serve/serve.hpp"
#include "bench/reference.hpp"
#include "bench/resume.hpp"
#include "bench/supervise.hpp"
#include "runtimes/core/inject.hpp"

namespace {

using namespace cb;

// Each planned benchmark once, then the references, then each declared pair
// once; a name declared unable to run is never listed as planned too.
int run_list(const options& o) {
    std::set<std::string> declared, printed;
    std::vector<std::string> declared_lines;
    for (auto& d : declared_pairs(o.prof)) {
        const std::string name = d.name();
        if (o.selected(name, d.runtime) && declared.insert(name).second)
            declared_lines.push_back("declared " + name + ": " + d.reason);
    }
    for (auto& p : planned_pairs(o.prof))
        if (o.selected(p.name, p.runtime) && !declared.count(p.name) && printed.insert(p.name).second)
            std::printf("%s%s\n", p.name.c_str(), p.deterministic ? "  [instructions]" : "");
    for (auto& r : reference_entries(o.prof, o.runtimes)) {
        if (!o.selected(r.name, r.runtime)) continue;
        if (r.reason.empty()) std::printf("%s  [reference: %s]\n", r.name.c_str(), r.what.c_str());
        else declared_lines.push_back("declared " + r.name + ": " + r.reason);
    }
    for (auto& l : declared_lines) std::printf("%s\n", l.c_str());
    return exit_ok;
}

int run(int argc, char** argv) {
    // `cobench serve ...`: a standalone echo server (bench/programs/serve), flags of its own.
    if (argc > 1 && std::string(argv[1]) == "serve") return run_serve(parse_serve_args(argc, argv));
    const options o = parse_args(argc, argv);
    if (o.help) {
        std::fputs(usage_text().c_str(), stdout);
        return exit_ok;
    }
    if (!o.instr_one.empty()) return run_instr_one(o);
    if (!o.family.empty()) return run_family(o);
    if (o.list) {
        check_filter_selects(o, false);
        return run_list(o);
    }
    // Everything the user can get wrong, before anything runs.
    check_filter_selects(o, o.instructions);
    check_benchmark_flags(o.gbench_flags);
    install_parent_signals();
    int status;
    try {
        status = o.instructions ? run_instructions(o) : run_benchmarks(o);
    } catch (const interrupted& e) {
        std::fprintf(stderr, "cobench: stopped by SIG%s: the running family was killed, temporary files removed, '%s' "
                     "left as it was\n", sigabbrev_np(e.sig), o.out.c_str());
        say_how_to_resume(o);
        throw;
    } catch (const bad_input&) {
        throw;
    } catch (const std::exception& e) {  // the results could not be written: what was kept stays for --resume
        std::fprintf(stderr, "cobench: %s\n", e.what());
        say_how_to_resume(o);
        return exit_failure;
    }
    if (status != exit_ok) say_how_to_resume(o);
    // A signal held back during the final rename: the results were written
    // (the summary says so), and the exit still reports the signal.
    throw_if_interrupted();
    return status;
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
    try {
        return run(argc, argv);
    } catch (const cb::bad_input& e) {
        std::fprintf(stderr, "cobench: %s\n", e.what());
        return cb::exit_bad_input;
    } catch (const cb::interrupted& e) {
        cb::die_of_signal(e.sig);  // the shell reports 128+N
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cobench: %s\n", e.what());
        return cb::exit_failure;
    }
}
