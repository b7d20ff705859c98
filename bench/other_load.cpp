// Other load over a measured run's window (other_load.hpp).
#include "other_load.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/supervise.hpp"

namespace cb {
namespace {

double ticks_per_s() {
    const long hz = ::sysconf(_SC_CLK_TCK);
    return hz > 0 ? static_cast<double>(hz) : 100.0;
}

double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }

double rusage_s(int who) {
    rusage r{};
    if (::getrusage(who, &r) != 0) return 0;
    return seconds(r.ru_utime) + seconds(r.ru_stime);
}

// utime, stime, cutime, cstime of /proc/PID/stat in ticks (fields 14-17,
// counted after the command name, which may hold spaces and parentheses).
bool proc_times(pid_t pid, unsigned long long (&t)[4]) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return false;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream in(line.substr(close + 1));
    std::string skip;
    for (int field = 3; field < 14; ++field)
        if (!(in >> skip)) return false;
    for (auto& x : t)
        if (!(in >> x)) return false;
    return true;
}

// The live children of pid, from every thread's children list (a child
// belongs to the thread that forked it).
std::vector<pid_t> live_children(pid_t pid) {
    std::vector<pid_t> out;
    const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(task_dir.c_str());
    if (!d) return out;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(task_dir + "/" + e->d_name + "/children");
        for (long child; f >> child;) out.push_back(static_cast<pid_t>(child));
    }
    ::closedir(d);
    return out;
}

// This process tree's CPU so far, in seconds. A descendant reaped between two
// samples moves from its live reading into its reaper's children time, so
// the difference of two samples stays its CPU in the window.
double own_cpu_s(pid_t also) {
    double ticks = 0;
    std::vector<pid_t> todo = live_children(::getpid());
    while (!todo.empty()) {
        const pid_t p = todo.back();
        todo.pop_back();
        unsigned long long t[4];
        if (!proc_times(p, t)) continue;  // gone since it was listed: its reaper holds its time
        ticks += static_cast<double>(t[0] + t[1] + t[2] + t[3]);
        for (pid_t c : live_children(p)) todo.push_back(c);
    }
    if (also > 0) {
        unsigned long long t[4];
        if (proc_times(also, t)) ticks += static_cast<double>(t[0] + t[1]);  // its children are this tree
    }
    return rusage_s(RUSAGE_SELF) + rusage_s(RUSAGE_CHILDREN) + ticks / ticks_per_s();
}

}  // namespace

load_window::sample load_window::take(pid_t also) {
    sample s;
    s.own_s = own_cpu_s(also);
    std::ifstream f("/proc/stat");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("cpu", 0) != 0) break;
        if (line.rfind("cpu ", 0) == 0) {
            std::istringstream in(line.substr(4));
            unsigned long long v[8] = {};  // user nice system idle iowait irq softirq steal
            for (auto& x : v)
                if (!(in >> x)) return s;
            s.busy_ticks = v[0] + v[1] + v[2];  // not irq, softirq: see the header
            s.steal_ticks = v[7];
            s.ok = true;
        } else {
            ++s.cpus;
        }
    }
    s.ok = s.ok && s.cpus > 0;
    s.t = std::chrono::steady_clock::now();
    return s;
}

load_window::load_window(pid_t also) : also_(also), start_(take(also)) {}

load_reading load_window::read() const {
    const sample end = take(also_);
    load_reading r;
    r.wall_s = std::chrono::duration<double>(end.t - start_.t).count();
    if (!start_.ok || !end.ok || end.cpus != start_.cpus || r.wall_s <= 0 || end.busy_ticks < start_.busy_ticks ||
        end.steal_ticks < start_.steal_ticks)
        return r;
    const double hz = ticks_per_s(), capacity = r.wall_s * end.cpus;
    // The margin of the header: user and system, each read to a tick.
    const double margin_s = 2 / hz;
    const double other = static_cast<double>(end.busy_ticks - start_.busy_ticks) / hz - (end.own_s - start_.own_s) -
                         margin_s;
    r.other_load_frac = std::clamp(other / capacity, 0.0, 1.0);
    r.steal_frac = std::clamp(static_cast<double>(end.steal_ticks - start_.steal_ticks) / hz / capacity, 0.0, 1.0);
    r.ok = true;
    return r;
}

void put_load(nlohmann::json& entry, const load_reading& r) {
    if (!r.ok) return;
    entry[other_load_counter] = r.other_load_frac;
    if (!entry.contains(steal_counter)) entry[steal_counter] = r.steal_frac;
}

double wait_until_quiet(double bound_s, const std::string& before_what) {
    if (bound_s <= 0) return 0;
    // Short windows: the wait ends soon after the load does; 0.25 s on 2
    // CPUs resolves the threshold with the header's margin to spare.
    constexpr auto window = std::chrono::milliseconds(250);
    const auto t0 = std::chrono::steady_clock::now();
    auto waited = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    bool said = false;
    load_reading r;
    for (;;) {
        const load_window w;
        std::this_thread::sleep_for(window);
        throw_if_interrupted();
        r = w.read();
        if (!r.ok) return waited();  // no /proc/stat: nothing to wait for
        if (r.other_load_frac < other_load_threshold) break;
        if (!said) {
            std::fprintf(stderr,
                         "cobench: before %s: other work uses %.0f%% of the machine; waiting up to %g s for it to "
                         "fall below %.0f%% (--quiet-wait)...\n",
                         before_what.c_str(), r.other_load_frac * 100, bound_s, other_load_threshold * 100);
            said = true;
        }
        if (waited() >= bound_s) {
            std::fprintf(stderr,
                         "cobench: before %s: the machine was not quiet after %.1f s (other work %.0f%%); running "
                         "beside it, its entries record other_load_frac\n",
                         before_what.c_str(), waited(), r.other_load_frac * 100);
            return waited();
        }
    }
    if (said) std::fprintf(stderr, "cobench: before %s: quiet after %.1f s\n", before_what.c_str(), waited());
    return waited();
}

}  // namespace cb
