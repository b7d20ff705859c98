#include "processes.hpp"

namespace cb {

ready<void> process_context::park() {
    char c = 0;
    if (!write_full(park_.arrive, &c, 1)) throw_errno("park: arrive");
    if (!read_full(park_.release, &c, 1)) throw_errno("park: release", errno ? errno : EPIPE);
    return {};
}

}  // namespace cb
