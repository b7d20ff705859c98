// The generator's ways out, and the --listen-fds sockets each of them must
// shut down (generator.hpp).
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <sys/socket.h>

#include "generator.hpp"

namespace cb::gen {
namespace {

// Filled while the options are parsed, before any handler is installed, and
// never changed after, so the signal handler may read it.
std::vector<int> listeners;
volatile std::sig_atomic_t listeners_shut = 0;

// A client killed by a catchable signal (a user's kill, a crash) still ends
// the server's run; shutdown() is async-signal-safe. Only SIGKILL cannot be
// covered: the server then waits until the family's timeout.
void on_fatal_signal(int sig) {
    for (int fd : listeners) ::shutdown(fd, SHUT_RD);
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

}  // namespace

void add_listener(int fd) { listeners.push_back(fd); }

bool accepting() { return !listeners.empty(); }

void shut_listeners_on_fatal_signals() {
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL})
        std::signal(sig, on_fatal_signal);
}

bool shut_listeners() {
    if (listeners_shut) return true;
    listeners_shut = 1;
    bool ok = true;
    for (int fd : listeners)
        if (::shutdown(fd, SHUT_RD) != 0) {
            std::fprintf(stderr, "cobench_echo_client: shutdown(listener %d): %s\n", fd, std::strerror(errno));
            ok = false;
        }
    return ok;
}

void die(const char* what) {
    const int err = errno;
    (void)shut_listeners();
    std::fprintf(stderr, "cobench_echo_client: %s: %s\n", what, std::strerror(err));
    std::exit(2);
}

void usage_error(const std::string& what) {
    std::fprintf(stderr, "cobench_echo_client: %s\n", what.c_str());
    (void)shut_listeners();
    std::exit(2);
}

}  // namespace cb::gen
