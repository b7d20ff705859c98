// Running children (the families, perf, valgrind): signals, deadlines and
// output relay.
//
// The orchestrator (the parent) catches SIGINT, SIGTERM and SIGHUP (unless
// they were ignored when it started, as under nohup), forwards them to the
// running child's process group, kills the group if it has not gone within
// a grace period (at once on a second signal), and unwinds with
// cb::interrupted so that temporary files are removed; main() then dies of
// the same signal (the shell reports 128+N). It ignores SIGPIPE: a closed
// stdout or stderr loses output, never results. Children get default
// dispositions and an empty signal mask.
//
// A family child (and a --instr-one child) dies with the orchestrator:
// PR_SET_PDEATHSIG with the getppid() check for a parent already gone, and
// on SIGTERM, SIGINT or SIGHUP it kills its whole process group, so its own
// forked tasks and the echo client go with it.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "bench/cli.hpp"

namespace cb {

// Thrown in the parent once a forwarded signal has been dealt with.
struct interrupted : std::exception {
    int sig;
    explicit interrupted(int s) : sig(s) {}
    const char* what() const noexcept override { return "interrupted by a signal"; }
};

// Parent side.
void install_parent_signals();
int pending_signal();                 // 0, or the first signal received
void throw_if_interrupted();          // throws interrupted(pending_signal())
[[noreturn]] void die_of_signal(int sig);

struct child_options {
    double timeout_s = 300;
    bool search_path = false;     // argv[0] looked up in PATH
    bool quiet_stdout = false;    // stdout to /dev/null
    bool capture = false;         // stdout and stderr into child_result::output
};
struct child_result {
    std::string status = "ok", message, output;  // status: ok, error, crashed, timeout
    double wall_s = 0;
    int exit_status = 0;  // when it exited (not killed): its status
};
// Runs argv in a process group of its own; kills the whole group at the
// deadline and when it ends. Throws interrupted on a signal (the group killed
// and reaped first).
child_result run_child(const std::vector<std::string>& args, const child_options& co);

// Child side: call first thing in --family and --instr-one.
void become_supervised_child(pid_t supervisor);

// Has the kernel send `sig` to this process when the thread that forked it
// ends, however it ends (SIGKILL included): PR_SET_PDEATHSIG, then the
// getppid() check for a parent that died before the prctl (this process was
// re-parented then, and no signal will come). False in that case: the caller
// ends itself. One prctl and one getppid, once per process. A fork clears the
// setting, so each forked process asks for itself.
[[nodiscard]] bool die_with_parent(pid_t parent, int sig);

// A family child that could not write its output (--family-out) exits with
// output_errno_status + errno, so that the orchestrator can name the cause
// (ENOSPC, EDQUOT, EIO) instead of the unreadable file that follows from it.
// Linux errno values are below 134; a family child exits 0 or 1 otherwise.
inline constexpr int output_errno_status = 64;
inline constexpr int output_errno_max = 134;

// "No space left on device (ENOSPC)".
std::string errno_name(int err);

std::string self_exe();

}  // namespace cb
