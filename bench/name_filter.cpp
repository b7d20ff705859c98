#include "name_filter.hpp"

#include <cstring>
#include <stdexcept>

#include <re2/re2.h>

namespace cb {

name_filter::name_filter(std::string pattern) : pattern_(std::move(pattern)) {
    if (pattern_.empty()) return;
    RE2::Options opt;
    opt.set_log_errors(false);  // the message travels in the exception instead
    auto re = std::make_shared<const RE2>(pattern_, opt);
    if (!re->ok()) throw std::invalid_argument("bad regular expression '" + pattern_ + "': " + re->error());
    re_ = std::move(re);
}

bool name_filter::matches(std::string_view name) const {
    if (!re_) return true;
    return RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *re_);
}

std::string exact_names_pattern(const std::vector<std::string>& names) {
    std::string p = "^(?:";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) p += '|';
        for (char c : names[i]) {
            if (std::strchr("^$\\.*+?()[]{}|", c)) p += '\\';
            p += c;
        }
    }
    return p + ")$";
}

}  // namespace cb
