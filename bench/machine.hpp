// The machine and build a result was measured on, for the results' context.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cb {

using kv_list = std::vector<std::pair<std::string, std::string>>;

// Kernel, CPU, virtualisation, compiler and flags, library versions, the git
// commit and dirty flag embedded at build time, and a fingerprint of
// everything that decides instruction counts.
kv_list machine_context();

}  // namespace cb
