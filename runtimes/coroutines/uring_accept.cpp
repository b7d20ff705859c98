// The io_uring reactor's accepts (uring_reactor.hpp: "Accepts"): one
// multishot accept per listener where the kernel has it, the accepted fds
// and the waiting accepts queued per listener in arrival order, a listener's
// retirement (cancel, its queued fds closed); otherwise one single-shot
// accept per waiter.
#include <cerrno>
#include <stdexcept>

#include <unistd.h>

#include "uring_detail.hpp"

namespace cb {

#if COBENCH_HAVE_URING

using namespace uring_detail;

std::string uring_reactor::multishot_accept_unavailable() {
    if (!r_) open();
    return r_->ams_why;
}

std::size_t uring_reactor::accept_queued(int fd) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= listeners_.size() || !listeners_[static_cast<std::size_t>(fd)])
        return 0;
    return listeners_[static_cast<std::size_t>(fd)]->ready.size();
}

void uring_reactor::accept(int fd, uring_op* op) {
    if (!r_) open();
    if (r_->ams_why.empty() && fd >= 0 && fd < tracked_fds) {
        if (listeners_.size() <= static_cast<std::size_t>(fd)) listeners_.resize(static_cast<std::size_t>(fd) + 1);
        auto& slot = listeners_[static_cast<std::size_t>(fd)];
        listener* l = slot.get();
        if (!l || (l->ready.empty() && l->waiters.empty())) {
            // About to wait (nothing queued): the one fstat, so that a listener
            // closed and its number reused starts afresh.
            const ino_t ino = socket_inode(fd);
            if (l && ino != l->ino) {
                retire_listener(l);
                l = nullptr;
            }
            if (!l && ino != 0) {
                auto fresh = std::make_unique<listener>();
                fresh->complete = &listener_tag;
                fresh->fd = fd;
                fresh->ino = ino;
                l = fresh.get();
                slot = std::move(fresh);
            }
        }
        if (l) {
            if (!l->ready.empty() && l->waiters.empty()) {  // queued: at once, no submission
                const int nfd = l->ready.front();
                l->ready.pop_front();
                op->complete(op, nfd);
                return;
            }
            l->waiters.push_back(op);
            ++inflight_;
            if (!l->armed) {
                try {
                    arm_listener(l);
                } catch (...) {
                    l->waiters.pop_back();
                    --inflight_;
                    throw;
                }
            }
            return;
        }
        // not a socket (or closed): the single-shot accept reports the error
    }
    io_uring_sqe* s = sqe();
    io_uring_prep_accept(s, fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(s, op);
    ++inflight_;
}

void uring_reactor::arm_listener(listener* l) {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, l->fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(s, static_cast<uring_op*>(l));
    l->armed = true;
    ++stats_.accept_arms;
}

void uring_reactor::listener_cqe(listener* l, int res, unsigned flags) noexcept {
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more) l->armed = false;
    if (l->retired) {
        if (res >= 0) ::close(res);
        if (!l->armed) drop(lzombies_, l);
        return;
    }
    if (!more && res < 0) {  // the multishot ended with an error: every waiting acceptor gets it
        finish_all(l, res);
    } else if (!l->waiters.empty()) {  // a connection, or a passing error: the first acceptor gets it
        uring_op* w = l->waiters.front();
        l->waiters.pop_front();
        finish(w, res);
    } else if (res >= 0) {
        l->ready.push_back(res);
        ++stats_.accepted_queued;
    }
    if (!l->armed && !l->waiters.empty()) {
        try {
            arm_listener(l);
        } catch (...) {
            finish_all(l, -ENOMEM);
        }
    }
}

// Closes the listener's queued fds and cancels its accept (if armed),
// keeping it until its last completion; accepts still waiting get ECANCELED.
void uring_reactor::retire_listener(listener* l) noexcept {
    for (int f : l->ready) ::close(f);
    l->ready.clear();
    auto& slot = listeners_[static_cast<std::size_t>(l->fd)];
    std::unique_ptr<listener> own = std::move(slot);
    finish_all(l, -ECANCELED);
    if (!l->armed) return;  // own frees it
    l->retired = true;
    cancel(l);
    lzombies_.push_back(std::move(own));  // its last completion frees it
}

// Every accept waiting on l gets res (an ending error, or ECANCELED).
void uring_reactor::finish_all(listener* l, int res) noexcept {
    std::deque<uring_op*> ws;
    ws.swap(l->waiters);
    for (uring_op* w : ws) finish(w, res);
}

#else  // built without liburing

void uring_reactor::accept(int, uring_op*) { open(); }
std::string uring_reactor::multishot_accept_unavailable() { return unavailable(); }
std::size_t uring_reactor::accept_queued(int) const noexcept { return 0; }

#endif

}  // namespace cb
